import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main
struct KilnCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kiln",
    abstract: "Kiln: an ahead-of-time compiler for convolutional neural networks.",
    discussion: """
      <model> is a zoo name (see `kiln zoo`) or a model file written by Kiln (.json).

      Examples:
        kiln zoo
        kiln summary lenet5
        kiln run lenet5 --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --index 0
        kiln dump lenet5 --dot > lenet5.dot
      """,
    subcommands: [Summary.self, Run.self, Dump.self, Train.self, Evaluate.self, Compile.self, Bench.self, SaliencyCommand.self, Visualize.self, Import.self, ZooList.self])

  /// Runs the command; any error is printed as one line (`Error: …`) with a non-zero exit code,
  /// without the usage text that argument-parser appends by default.
  static func main() {
    useFastBLASKernel()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        print(fullMessage(for: error))
        return
      }
      let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
      FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
      Foundation.exit(code.rawValue)
    }
  }
}

/// Restarts this process with `OPENBLAS_CORETYPE` set when OpenBLAS picked a non-AVX-512 kernel on
/// an AVX-512 CPU (see `BLASKernel`); the variable is read only when the library loads.
func useFastBLASKernel() {
  guard let kernel = BLASKernel.recommendedOverride else { return }
  setenv("OPENBLAS_CORETYPE", kernel, 1)
  let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
  execv("/proc/self/exe", arguments)
  // execv returns only on failure: carry on with the slow kernel.
}
