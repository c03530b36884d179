import ArgumentParser
import Kiln
import KilnLLVM

struct Dump: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a model's graph as stable text (one node a line) or Graphviz dot, or the program compiled code runs.",
    discussion: """
      Each line reads `%id name = op(inputs) attributes : output type`. With --program: the
      caller's slots, the kernel functions, one line per kernel call (`location = fN(operands)`,
      locations being slots or arena offsets in floats) and the copies that end a run, as planned
      for this machine's CPU (or --target-cpu).

      Examples:
        kiln dump lenet5
        kiln dump lenet5 --training
        kiln dump lenet5 --backward --freeze conv1,conv2
        kiln dump lenet5 --dot | dot -Tsvg > lenet5.svg
        kiln dump resnet18 --program
        kiln dump resnet18 --program --target-cpu x86-64-v3
      """)

  @OptionGroup var options: ModelOptions

  @Flag(help: "Print Graphviz dot instead of text.")
  var dot = false

  @Flag(help: "Print the compiled program (batch norm folded, unless with --training or --backward).")
  var program = false

  @Flag(help: "Dump the training form (batch statistics, active dropout).")
  var training = false

  @Flag(help: "Dump the training form with a softmax cross-entropy loss and its backward graph.")
  var backward = false

  @Option(help: "With --backward: comma-separated layer names whose parameters get no gradient.")
  var freeze: String?

  @OptionGroup var target: TargetOptions

  func validate() throws {
    if program && dot { throw ValidationError("--program prints text; drop --dot") }
  }

  func run() throws {
    var graph = try options.graph()
    if program && !(training || backward) { graph = try Model(graph: graph, seed: 0).foldingBatchNorm().graph }
    if training || backward { graph = try graph.forTraining() }
    if backward {
      graph = try graph.withLoss(.softmaxCrossEntropy)
      let frozen = freeze.map { $0.split(separator: ",").map(String.init) } ?? []
      graph = try graph.differentiated(loss: graph.outputs[0], withRespectTo: graph.trainableParameters(frozenPrefixes: frozen)).graph
    }
    print(program ? try target.compiler().programText(graph) : dot ? graph.dot : graph.text, terminator: "")
  }
}
