import Testing

@testable import Kiln

@Suite struct AutodiffTests {
  /// Parameters and a batch for a model with a softmax cross-entropy loss.
  func feeds(_ model: Model, input: [Int], classes: Int, seed: UInt64) -> [String: Tensor<Double>] {
    var feeds = model.parameterFeeds(as: Double.self)
    // Non-zero biases, so that bias gradients are checked at a generic point.
    for (name, value) in feeds where name.hasSuffix(".bias") { feeds[name] = random(value.shape, seed: SplitMix64.stableHash(name)) }
    feeds["input"] = random(input, seed: seed)
    feeds["labels"] = T([input[0]], (0..<input[0]).map { Double($0 % classes) })
    return feeds
  }

  func checkWholeModel(_ model: Model, input: [Int], classes: Int = 3, training: Bool = false, samples: Int = 8) throws {
    let base = training ? try model.graph.forTraining() : model.graph
    let graph = try base.withLoss(.softmaxCrossEntropy)
    let targets = ["input"] + graph.trainableParameters().map { graph[$0].name }
    try GradientCheck.check(graph, feeds: feeds(model, input: input, classes: classes, seed: 3), targets: targets, samples: samples)
  }

  @Test func lenet5() throws {
    try checkWholeModel(try Model(graph: Zoo.lenet5(input: [2, 1, 32, 32]), seed: 1), input: [2, 1, 32, 32], classes: 10, samples: 6)
  }

  @Test func residualBlockWithBatchNormInTraining() throws {
    let model = try Model(name: "res", input: [2, 3, 5, 5], seed: 2) { x in
      var y = try x.apply(Conv2D(4, kernel: 3, padding: 1, bias: false)).apply(BatchNorm()).relu()
      y = try y.apply(Conv2D(4, kernel: 3, padding: 1, bias: false)).apply(BatchNorm())
      let shortcut = try x.apply(Conv2D(4, kernel: 1, stride: 1, bias: false))
      return try (y + shortcut).relu().globalAvgPool().flattened().apply(Dense(3))
    }
    try checkWholeModel(model, input: [2, 3, 5, 5], training: true)
  }

  @Test func inceptionBlock() throws {
    let model = try Model(name: "inception", input: [2, 3, 6, 6], seed: 3) { x in
      let branches = [
        try x.apply(Conv2D(2, kernel: 1, activation: .relu)),
        try x.apply(Conv2D(2, kernel: 1, activation: .relu)).apply(Conv2D(3, kernel: 3, padding: 1, activation: .relu)),
        try x.apply(Conv2D(1, kernel: 1)).apply(Conv2D(2, kernel: 5, padding: 2)),
        try x.apply(MaxPool2D(3, stride: 1, padding: 1)).apply(Conv2D(2, kernel: 1)),
      ]
      return try Symbol.concat(branches).apply(AvgPool2D(2)).flattened().apply(Dense(3))
    }
    try checkWholeModel(model, input: [2, 3, 6, 6])
  }

  @Test func denseBlock() throws {
    let model = try Model(name: "dense", input: [2, 2, 4, 4], seed: 4) { x in
      var features = x
      for _ in 0..<3 {
        let grown = try features.apply(BatchNorm()).relu().apply(Conv2D(2, kernel: 3, padding: 1))
        features = try Symbol.concat([features, grown])
      }
      return try features.globalAvgPool().flattened().apply(Dense(3))
    }
    try checkWholeModel(model, input: [2, 2, 4, 4], training: true)
  }

  @Test func squeezeExcitationBlock() throws {
    let model = try Model(name: "se", input: [2, 4, 3, 3], seed: 5) { x in
      let s = try x.globalAvgPool().flattened().apply(Dense(2, activation: .relu)).apply(Dense(4, activation: .sigmoid)).reshaped([2, 4, 1, 1])
      return try (x * s).flattened().apply(Dense(3))
    }
    try checkWholeModel(model, input: [2, 4, 3, 3])
  }

  @Test func depthwiseSeparableBlockWithShuffleAndDropout() throws {
    let model = try Model(name: "mobile", input: [2, 4, 6, 6], seed: 6) {
      Conv2D.depthwise(kernel: 3, stride: 2, padding: 1, paddingMode: .reflect, bias: false)
      BatchNorm()
      Activation(.elu(alpha: 1))
      Conv2D(6, kernel: 1, groups: 2)
      Block { try $0.channelShuffle(groups: 2) }
      Dropout(0.3, seed: 9)
      Flatten()
      Dense(3)
    }
    try checkWholeModel(model, input: [2, 4, 6, 6], training: true)
  }

  @Test func maxPoolGradientGoesOnlyToTheMaximum() throws {
    // Windows [1 1; 5 6], [2 4; 7 8], [3 2; 1 2], [1 0; 3 4]: maxima 6, 8, 3, 4.
    let x = T([1, 1, 4, 4], [1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4])
    let op = Op.poolGrad(PoolGradAttrs(pool: PoolAttrs(kind: .max, kernel: [2, 2], stride: [2, 2], padding: .symmetric(0, rank: 2))))
    let dx = try apply(op, [x, T([1, 1, 2, 2], [1, 2, 3, 4])])
    expectClose(dx, [1, 1, 4, 4], [0, 0, 0, 0, 0, 1, 0, 2, 3, 0, 0, 0, 0, 0, 0, 4])
    // Ties go to the first maximum in row-major window order.
    let tied = try apply(op, [Tensor<Double>(shape: [1, 1, 4, 4], repeating: 1), T([1, 1, 2, 2], [1, 2, 3, 4])])
    expectClose(tied, [1, 1, 4, 4], [1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0])
  }

  @Test func fanInGradientsAreSummed() throws {
    // y = Σ (x·x + x): dy/dx = 2x + 1.
    let graph = try Graph(name: "fan", seed: 0) { b in
      let x = try b.input("x", shape: [3])
      return [try (x * x + x).reduced(.sum, axes: [0])]
    }
    let result = try graph.differentiated(loss: graph.outputs[0], withRespectTo: [try #require(graph.index(of: "x"))])
    let run = try Interpreter<Double>(result.graph).run(["x": T([3], [1, -2, 0.5])])
    expectClose(run[try #require(result.gradients["x"])], [3], [3, -3, 2])
    expectClose(run[result.loss], [], [1 + 1 + 4 - 2 + 0.25 + 0.5])
  }

  @Test func frozenParametersGetNoGradientNodes() throws {
    let graph = try Zoo.lenet5(input: [2, 1, 32, 32]).withLoss(.softmaxCrossEntropy)
    let all = try graph.differentiated(loss: graph.outputs[0], withRespectTo: graph.trainableParameters())
    let frozen = try graph.differentiated(loss: graph.outputs[0], withRespectTo: graph.trainableParameters(frozenPrefixes: ["conv1", "conv2"]))
    let backward = { (g: Graph) in g.nodes.filter { $0.name.hasPrefix("grad.") }.map(\.name) }
    #expect(!backward(all.graph).filter { $0.hasPrefix("grad.conv1") }.isEmpty)
    // No weight, bias or input gradients for the frozen layers: nothing upstream of conv3 needs one.
    #expect(backward(frozen.graph).filter { $0.hasPrefix("grad.conv1") || $0.hasPrefix("grad.conv2") || $0.hasPrefix("grad.pool") }.isEmpty)
    #expect(frozen.gradients.keys.sorted() == ["conv3.bias", "conv3.weight", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"])
    // conv1 and conv2: weight and bias gradients (4), relu (2), pools (2), conv input gradients (2: conv2, conv3).
    #expect(backward(all.graph).count - backward(frozen.graph).count == 10)
  }

  @Test func inputGradientsForSaliency() throws {
    let graph = try Zoo.lenet5().withLoss(.softmaxCrossEntropy)
    let input = try #require(graph.index(of: "input"))
    let result = try graph.differentiated(loss: graph.outputs[0], withRespectTo: [input])
    #expect(result.graph[try #require(result.gradients["input"])].type.shape == [1, 1, 32, 32])
    #expect(!result.graph.nodes.contains { if case .convWeightGrad = $0.op { true } else { false } })
  }

  @Test func badRequestsAreRejected() throws {
    let graph = try Zoo.lenet5()
    expectError("the loss must be a float scalar, but fc2 is [1,10]") {
      _ = try graph.differentiated(loss: graph.outputs[0], withRespectTo: graph.trainableParameters())
    }
    let withLoss = try graph.withLoss(.softmaxCrossEntropy)
    expectError("cannot differentiate with respect to", "it must be a float value") {
      _ = try withLoss.differentiated(loss: withLoss.outputs[0], withRespectTo: [try #require(withLoss.index(of: "labels"))])
    }
    expectError("softmax cross-entropy needs logits [N, classes], but c outputs [1,2,3,3]") {
      _ = try Graph(name: "c", input: [1, 1, 3, 3]) { Conv2D(2, kernel: 1) }.withLoss(.softmaxCrossEntropy)
    }
  }
}
