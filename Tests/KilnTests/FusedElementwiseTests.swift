import Testing

@testable import Kiln

/// `fusedElementwise`: its steps by hand, its shape rule, and `Graph.fusingElementwise`, which
/// writes it.
@Suite struct FusedElementwiseTests {
  typealias Step = FusedElementwiseAttrs.Step

  /// v ← 0.9·v + g, then θ − η·v with η a single element; a step read twice (x·x, then √).
  @Test func stepsRunInOrderOnInputsAndEarlierSteps() throws {
    let velocity = FusedElementwiseAttrs(steps: [Step(.unary(.affine(scale: 0.9, shift: 0)), [.input(0)]), Step(.binary(.add), [.step(0), .input(1)])])
    expectClose(try apply(.fusedElementwise(velocity), [T([2, 2], [1, 2, -1, 0]), T([2, 2], [0.5, -1, 1, 3])]), [2, 2], [1.4, 0.8, 0.1, 3])
    let descend = FusedElementwiseAttrs(steps: [Step(.binary(.mul), [.input(0), .input(1)]), Step(.binary(.sub), [.input(2), .step(0)])])
    expectClose(try apply(.fusedElementwise(descend), [T([3], [1, 2, 3]), T([], [0.1]), T([3], [5, 5, 5])]), [3], [4.9, 4.8, 4.7])
    let magnitude = FusedElementwiseAttrs(steps: [Step(.binary(.mul), [.input(0), .input(0)]), Step(.unary(.sqrt), [.step(0)])])
    expectClose(try apply(.fusedElementwise(magnitude), [T([3], [-3, 0, 2.5])]), [3], [3, 0, 2.5])
  }

  @Test func shapeRuleNamesWhatDoesNotFit() throws {
    let add = FusedElementwiseAttrs(steps: [Step(.binary(.add), [.input(0), .input(1)])])
    expectError("input 1 [4] is neither [2,4] nor one element") { _ = try singleOpGraph(.fusedElementwise(add), [TensorType([2, 4]), TensorType([4])]) }
    let forward = FusedElementwiseAttrs(steps: [Step(.unary(.relu), [.step(1)]), Step(.unary(.relu), [.input(0)])])
    expectError("step 0 reads step 1, which is not before it") { _ = try singleOpGraph(.fusedElementwise(forward), [TensorType([3])]) }
    let arity = FusedElementwiseAttrs(steps: [Step(.binary(.mul), [.input(0)])])
    expectError("step 0 has 1 operands, not 2") { _ = try singleOpGraph(.fusedElementwise(arity), [TensorType([3])]) }
    expectError("needs at least one step") { _ = try singleOpGraph(.fusedElementwise(FusedElementwiseAttrs(steps: [])), [TensorType([3])]) }
  }

  /// Momentum's update becomes two fused nodes per parameter (the new velocity, which is a state
  /// update, and the new parameter), computing bit for bit what the separate ops do.
  @Test func momentumUpdatesFuseIntoTwoNodesPerParameter() throws {
    let model = try Model(name: "m", input: [2, 1, 6, 6], seed: 1) {
      Conv2D(3, kernel: 3, activation: .relu)
      Flatten()
      Dense(4)
    }
    let training = try TrainingGraph(model: model.graph, optimizer: Optimizer(.momentum))
    let fused = try training.graph.fusingElementwise()
    let parameters = training.trainedParameters.count
    #expect(fused.nodes.filter { if case .fusedElementwise = $0.op { true } else { false } }.count == 2 * parameters)
    for update in fused.stateUpdates {
      guard case .fusedElementwise(let a) = fused[update.newValue].op else {
        Issue.record("\(fused[update.newValue].name) is \(fused[update.newValue].op.mnemonic), not fused")
        continue
      }
      #expect(a.steps.count == 2, "\(fused[update.newValue].name): \(a.attributeText)")
    }
    var feeds = model.parameterFeeds(as: Float.self)
    feeds["input"] = Tensor<Float>(random([2, 1, 6, 6], seed: 2))
    feeds["labels"] = try Tensor<Float>(shape: [2], scalars: [1, 3])
    feeds[TrainingGraph.learningRateInput] = try Tensor<Float>(shape: [], scalars: [0.1])
    for value in training.graph.parameters where feeds[training.graph[value].name] == nil {
      feeds[training.graph[value].name] = Tensor<Float>(random(training.graph[value].type.shape, seed: 3))
    }
    let (before, after) = (try Interpreter<Float>(training.graph).run(feeds).stateUpdates, try Interpreter<Float>(fused).run(feeds).stateUpdates)
    #expect(before.count == after.count)
    for (name, tensor) in before { #expect(after[name]?.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(name)") }
  }

  /// Ops stay apart where joining would lose a value or broadcast: an op read twice, an output,
  /// a per-channel scale.
  @Test func opsReadElsewhereOrBroadcastStayApart() throws {
    var graph = Graph(name: "g")
    let x = try graph.append("x", .input(InputAttrs(TensorType([2, 3, 4]))))
    let scale = try graph.append("scale", .input(InputAttrs(TensorType([3, 1]))))
    let twice = try graph.append("twice", .unary(UnaryAttrs(.affine(scale: 2, shift: 0))), inputs: [x])
    let relu = try graph.append("relu", .unary(UnaryAttrs(.relu)), inputs: [twice])
    let sum = try graph.append("sum", .binary(BinaryAttrs(.add)), inputs: [relu, twice])
    let scaled = try graph.append("scaled", .binary(BinaryAttrs(.mul)), inputs: [sum, scale])
    let shifted = try graph.append("shifted", .unary(UnaryAttrs(.affine(scale: 1, shift: 1))), inputs: [scaled])
    let out = try graph.append("out", .unary(UnaryAttrs(.tanh)), inputs: [shifted])
    graph.outputs = [out, relu]
    let fused = try graph.fusingElementwise()
    // twice (two readers), relu (an output) and scaled (per-channel) stay; sum has nothing to
    // join; shifted joins out.
    #expect(fused.nodes.map(\.name) == ["x", "scale", "twice", "relu", "sum", "scaled", "out"])
    #expect(fused[fused.outputs[0]].op.mnemonic == "fused_elementwise" && fused[fused.outputs[1]].name == "relu")
    let feeds = ["x": Tensor<Float>(random([2, 3, 4], seed: 4)), "scale": Tensor<Float>(random([3, 1], seed: 5))]
    let (expected, actual) = (try Interpreter<Float>(graph).run(feeds).outputs, try Interpreter<Float>(fused).run(feeds).outputs)
    #expect(expected.map { $0.scalars.map(\.bitPattern) } == actual.map { $0.scalars.map(\.bitPattern) })
  }
}
