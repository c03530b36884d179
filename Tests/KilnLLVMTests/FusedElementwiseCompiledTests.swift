import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// Fused elementwise chains compiled against the interpreter, on both vector widths and two
/// threads, and training updates written over the states they replace.
@Suite struct FusedElementwiseCompiledTests {
  let base = EquivalenceTests()
  typealias Step = FusedElementwiseAttrs.Step

  /// σ(a·η + b) − b·b on 37 elements (two vectors and a tail of 5 on AVX2, one and 21 on
  /// AVX-512), with η a single element; then 300,000 elements, split across two threads.
  @Test(arguments: [8, 16])
  func chainsMatchTheInterpreter(lanes: Int) throws {
    let chain = FusedElementwiseAttrs(steps: [
      Step(.binary(.mul), [.input(0), .input(1)]), Step(.binary(.add), [.step(0), .input(2)]), Step(.unary(.sigmoid), [.step(1)]),
      Step(.binary(.mul), [.input(2), .input(2)]), Step(.binary(.sub), [.step(2), .step(3)]),
    ])
    for count in [37, 300_000] {
      var graph = Graph(name: "chain")
      let inputs = try [("a", [count]), ("rate", []), ("b", [count])].map { try graph.append($0.0, .input(InputAttrs(TensorType($0.1)))) }
      graph.outputs = [try graph.append("out", .fusedElementwise(chain), inputs: inputs)]
      let model = try Model(graph: graph, parameters: ParameterStore())
      let feeds = ["a": try base.randomTensor([count], seed: 1), "rate": try Tensor<Float>(shape: [], scalars: [0.7]), "b": try base.randomTensor([count], seed: 2)]
      let expected = try model.run(feeds)[0]
      let compiler = try Compiler(vectorLanes: lanes)
      let (one, two) = (try compiler.compile(model, threads: 1).run(feeds)[0], try compiler.compile(model, threads: 2).run(feeds)[0])
      let worst = zip(one.scalars, expected.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
      #expect(worst <= 1e-6, "\(count) elements: \(worst)")
      #expect(one.scalars.map(\.bitPattern) == two.scalars.map(\.bitPattern))
    }
  }

  /// Every optimizer's updates are computed into the states they replace (no copies end the
  /// run), and three compiled steps leave the parameters and moments the interpreter's do.
  @Test(arguments: [Optimizer.Kind.momentum, .nesterov, .adam, .rmsprop, .adagrad])
  func updatesWriteOverTheirStates(kind: Optimizer.Kind) throws {
    let model = try Model(name: "m", input: [2, 3, 8, 8], seed: 3) {
      Conv2D(4, kernel: 3, padding: 1, bias: false)
      BatchNorm()
      Activation(.relu)
      Flatten()
      Dense(5)
    }
    let training = try TrainingGraph(model: model.graph, optimizer: Optimizer(kind))
    let program = try Compiler().program(training.graph)
    #expect(program.copies.isEmpty, "\(program.copies.count) copies")
    let store = try Model.initialParameters(for: training.graph, seed: 0).entries.reduce(into: ParameterStore()) { store, entry in
      store[entry.name] = model.parameters[entry.name] ?? entry.tensor
    }
    var feeds = ["input": try base.randomTensor([2, 3, 8, 8], seed: 4), "labels": try Tensor<Float>(shape: [2], scalars: [1, 4])]
    feeds[TrainingGraph.learningRateInput] = try Tensor(shape: [], scalars: [0.05])
    let compiled = try Compiler().compile(Model(graph: training.graph, parameters: store))
    let interpreter = try Interpreter<Float>(training.graph)
    var state = store
    for step in 0..<3 {
      _ = try compiled.run(feeds, step: UInt64(step))
      for (name, tensor) in try interpreter.run(feeds, parameters: state, step: UInt64(step)).stateUpdates { state[name] = tensor }
    }
    for update in training.graph.stateUpdates {
      let name = training.graph[update.state].name
      let (expected, actual) = (try #require(state[name]), try #require(compiled.parameter(name)))
      #expect(relativeDifference(expected, actual) <= 1e-5, "\(kind) \(name): \(relativeDifference(expected, actual))")
    }
  }
}
