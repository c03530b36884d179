import ArgumentParser
import Kiln

struct ZooList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "zoo",
    abstract: "List the models of the zoo with their parameters and multiply-adds.",
    discussion: """
      Examples:
        kiln zoo
        kiln summary resnet18
        kiln bench resnet18 --input-shape 1,3,224,224
      """)

  func run() throws {
    var table = TextTable(header: ["model", "input", "parameters", "GMACs", "architecture"], rightAligned: [2, 3])
    for entry in Zoo.entries {
      let summary = Kiln.Summary(try entry.graph())
      table.append([
        entry.name, entry.defaultInput.map(String.init).joined(separator: ","), grouped(summary.trainableParameters),
        String(format: "%.3f", Double(summary.multiplyAdds) / 1e9), entry.summary,
      ])
    }
    print(table.text)
  }
}
