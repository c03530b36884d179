import ArgumentParser
import Foundation
import Kiln

struct Summary: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print each layer's output shape, parameters, multiply-adds and receptive field.",
    discussion: """
      Examples:
        kiln summary lenet5
        kiln summary lenet5 --input-shape 64,1,32,32 --json
      """)

  @OptionGroup var options: ModelOptions

  @Flag(help: "Print JSON instead of a table.")
  var json = false

  func run() throws {
    let summary = Kiln.Summary(try options.graph())
    if json {
      try printJSON(summary)
    } else {
      print(summary.text, terminator: "")
    }
  }
}
