import ArgumentParser
import KilnLLVM

/// The CPU `compile` and `bench` generate code for.
struct TargetOptions: ParsableArguments {
  @Option(
    name: .customLong("target-cpu"),
    help: "An LLVM CPU name to generate code for instead of this machine's (e.g. x86-64-v3 or znver3: AVX2, no AVX-512).")
  var targetCPU: String?

  /// A compiler for that CPU.
  func compiler() throws -> Compiler { try Compiler(targetCPU: targetCPU) }
}
