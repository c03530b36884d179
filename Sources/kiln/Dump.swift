import ArgumentParser
import Kiln

struct Dump: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a model's graph as stable text (one node a line) or Graphviz dot.",
    discussion: """
      Each line reads `%id name = op(inputs) attributes : output type`.

      Examples:
        kiln dump lenet5
        kiln dump lenet5 --training
        kiln dump lenet5 --dot | dot -Tsvg > lenet5.svg
      """)

  @OptionGroup var options: ModelOptions

  @Flag(help: "Print Graphviz dot instead of text.")
  var dot = false

  @Flag(help: "Dump the training form (batch statistics, active dropout).")
  var training = false

  func run() throws {
    var graph = try options.graph()
    if training { graph = try graph.forTraining() }
    print(dot ? graph.dot : graph.text, terminator: "")
  }
}
