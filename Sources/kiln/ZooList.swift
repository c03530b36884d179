import ArgumentParser
import Kiln

struct ZooList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "zoo",
    abstract: "List the models of the zoo.",
    discussion: """
      Examples:
        kiln zoo
        kiln summary lenet5
      """)

  func run() throws {
    for entry in Zoo.entries {
      let summary = Kiln.Summary(try entry.graph())
      let shape = entry.defaultInput.map(String.init).joined(separator: ",")
      print("\(entry.name)  input \(shape)  \(summary.trainableParameters) parameters  \(entry.summary)")
    }
  }
}
