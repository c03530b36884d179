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
    BLASKernel.prepare()
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
