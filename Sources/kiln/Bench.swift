import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Time compiled code against the reference interpreter, per layer and for the whole model.",
    discussion: """
      Prints, per layer and in total: interpreted and compiled milliseconds (minimum, and median
      of the compiled runs), the speedup, GFLOPS, and the share of this machine's fp32 peak,
      measured on the spot with an FMA loop. The header names the CPU, LLVM's target, the OpenBLAS
      kernel in use, the JIT compile time and the planned arena. Machines are shared and noisy:
      compare ratios from one run, never absolute times across runs.

      Examples:
        kiln bench lenet5
        kiln bench lenet5 --batch 64 --json
        kiln bench lenet5 --batch 64 --train --optimizer momentum
        kiln bench conv64_56 --threads 2
        kiln bench resnet18 --target-cpu znver3     (AVX2 code, as on a Zen 3, run here)
      """)

  @OptionGroup var options: ModelOptions

  @Option(help: "Batch size (default: the model's own, from its file or --input-shape).")
  var batch: Int?

  @Option(help: "Threads for compiled loops and for BLAS.")
  var threads = 1

  @Option(help: "Timed repetitions of each compiled measurement (within --seconds).")
  var repetitions = 50

  @Option(help: "Time budget of each measurement, in seconds: no run starts after it.")
  var seconds = 2.0

  @Flag(name: .customLong("no-layers"), help: "Time the whole model only.")
  var noLayers = false

  @Option(help: "Time only the layers whose name contains this text or whose op it names (e.g. conv_weight_grad).")
  var only: String?

  @Flag(name: .customLong("compiled-only"), help: "Time compiled code only, not the interpreter (which takes minutes on large models).")
  var compiledOnly = false

  @Flag(help: "Empty the caches before every timed run, so that weights come from memory as in a model larger than the caches.")
  var cold = false

  @Flag(help: "Print JSON.")
  var json = false

  @Flag(help: "Time a training step (forward, backward, optimizer update) instead of inference.")
  var train = false

  @OptionGroup var optimization: OptimizerOptions

  @OptionGroup var target: TargetOptions

  func validate() throws {
    guard batch ?? 1 >= 1, repetitions >= 1, seconds > 0 else { throw ValidationError("--batch, --repetitions and --seconds must be positive") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
  }

  func run() throws {
    let model = try options.model(weights: nil, batch: batch)
    let timing = Benchmark.Timing(repetitions: repetitions, seconds: seconds, cold: cold)
    let report = train
      ? try Benchmark.runTraining(model, optimizer: optimization.settings, compiler: target.compiler(), threads: threads, timing: timing, perLayer: !noLayers,
        only: only, interpreted: !compiledOnly)
      : try Benchmark.run(
        model, compiler: target.compiler(), threads: threads, timing: timing, perLayer: !noLayers, only: only, interpreted: !compiledOnly)
    if json {
      try printJSON(report)
    } else {
      print(report.text, terminator: "")
    }
  }
}
