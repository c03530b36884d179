import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile a model ahead of time into a shared object and a C header.",
    discussion: """
      Writes <out>.so (the compiled forward pass, the weights embedded, the C runtime linked in;
      it depends only on libc, libm and libopenblas) and <out>.h (a documented C API: create,
      infer on caller-owned buffers, destroy, error messages). Every symbol starts with --prefix
      (default: the model's name), so several models link into one program.

      Examples:
        kiln compile lenet5 --weights lenet5.safetensors -o out/lenet5.so
        kiln compile lenet5 --batch 16 --prefix lenet5_b16 -o out/lenet5_b16.so
      """)

  @OptionGroup var options: ModelOptions

  @Option(help: "Weights (safetensors); without them, seeded initial weights are embedded.")
  var weights: String?

  @Option(help: "Batch size of the compiled entry point.")
  var batch = 1

  @Option(help: "Prefix of every exported symbol.")
  var prefix: String?

  @Option(name: [.customShort("o"), .long], help: "The shared object to write.")
  var output: String

  func validate() throws {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    guard output.hasSuffix(".so") else { throw ValidationError("-o \(output) should name a .so file") }
  }

  func run() throws {
    let single = try options.model(weights: weights)
    let model = try Model(graph: single.graph.rebatched(to: batch), parameters: single.parameters)
    let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let header = try Compiler().emitSharedObject(model, to: output, prefix: prefix)
    print("wrote \(output) and \(header)")
  }
}
