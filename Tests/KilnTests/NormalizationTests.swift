import Testing

@testable import Kiln

@Suite struct NormalizationTests {
  @Test func batchNormWithGivenStatistics() throws {
    // Channel 0: 2·(x − 2)/1; channel 1: (x − 15)/5 + 1.
    let op = Op.batchNorm(BatchNormAttrs(epsilon: 0))
    let out = try apply(op, [T([1, 2, 1, 2], [1, 3, 10, 20]), T([2], [2, 1]), T([2], [0, 1]), T([2], [2, 15]), T([2], [1, 25])])
    expectClose(out, [1, 2, 1, 2], [-2, 2, 0, 2], tolerance: 1e-12)
  }

  func batchNormModel() throws -> Model {
    try Model(name: "bn", input: [2, 1, 1, 2]) { BatchNorm(epsilon: 0, momentum: 0.1, name: "bn") }
  }

  /// x = [1, 2, 3] over channels, alpha/size = 1, beta = 1, bias = 1: y_c = x_c / (1 + Σ x_j²).
  @Test func localResponseNormalization() throws {
    let x = T([1, 3, 1, 1], [1, 2, 3])
    // Size 3: windows {0, 1}, {0, 1, 2}, {1, 2}: sums 5, 14, 13.
    expectClose(try apply(.lrn(LRNAttrs(size: 3, alpha: 3, beta: 1, bias: 1)), [x]), [1, 3, 1, 1], [1.0 / 6, 2.0 / 15, 3.0 / 14])
    // Size 2 (ONNX: the extra channel after): {0, 1}, {1, 2}, {2}: sums 5, 13, 9.
    expectClose(try apply(.lrn(LRNAttrs(size: 2, alpha: 2, beta: 1, bias: 1)), [x]), [1, 3, 1, 1], [1.0 / 6, 2.0 / 14, 3.0 / 10])
    // beta = 0.5 and bias 3 on one channel: 4 / √(3 + 16).
    expectClose(try apply(.lrn(LRNAttrs(size: 5, alpha: 5, beta: 0.5, bias: 3)), [T([1, 1, 1], [4])]), [1, 1, 1], [4 / 19.0.squareRoot()])
    let layer = try Graph(name: "g", input: [1, 8, 4, 4]) { LocalResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 2) }
    #expect(layer.nodes.last?.name == "lrn1")
    expectError("lrn1", "size must be at least 1") { _ = try Graph(name: "g", input: [1, 8, 4, 4]) { LocalResponseNorm(size: 0) } }
  }

  @Test func batchNormFoldsIntoTheConvolutionBeforeIt() throws {
    // Hand-checked: a 1×1 convolution with weight 2 and bias 1, then γ = 3, β = 0.5, μ = 1,
    // σ² = 3 (ε = 1): scale 3/2, so the folded weight is 3 and the bias (1 − 1)·1.5 + 0.5 = 0.5.
    let single = try Model(name: "single", input: [1, 1, 1, 2]) { x in
      try x.apply(Conv2D(1, kernel: 1, name: "conv")).apply(BatchNorm(epsilon: 1, name: "bn"))
    }
    var parameters = single.parameters
    parameters["conv.weight"] = try Tensor(shape: [1, 1, 1, 1], scalars: [2])
    parameters["conv.bias"] = try Tensor(shape: [1], scalars: [1])
    for (name, value) in [("weight", 3), ("bias", 0.5), ("running_mean", 1), ("running_var", 3)] as [(String, Float)] {
      parameters["bn.\(name)"] = try Tensor(shape: [1], scalars: [value])
    }
    let folded = try Model(graph: single.graph, parameters: parameters).foldingBatchNorm()
    #expect(folded.parameters.names == ["conv.weight", "conv.bias"])
    #expect(folded.parameters["conv.weight"]?.scalars == [3] && folded.parameters["conv.bias"]?.scalars == [0.5])
    #expect(try folded.predict(Tensor<Float>(shape: [1, 1, 1, 2], scalars: [1, -2])).scalars == [3.5, -5.5])

    // ResNet-18 with random statistics: the same outputs, no batch norm left, a bias per conv.
    var model = try Model(graph: Zoo.resnet(.resnet18, input: [1, 3, 32, 32], classes: 10), seed: 2)
    var generator = SplitMix64(seed: 3)
    for name in model.parameters.names where name.contains("bn") || name.contains("downsample.1") {
      let tensor = model.parameters[name]!
      let low: Float = name.hasSuffix("running_var") || name.hasSuffix("weight") ? 0.5 : -0.3
      model.parameters[name] = try Tensor(shape: tensor.shape, scalars: tensor.scalars.map { _ in low + 0.6 * Float(generator.nextUnit()) })
    }
    let resnet = try model.foldingBatchNorm()
    #expect(!resnet.graph.nodes.contains { if case .batchNorm = $0.op { return true } else { return false } })
    #expect(resnet.parameters["layer1.0.conv1.bias"]?.shape == [64])
    let input = model.graph.sampleInputs(seed: 4)
    let (expected, actual) = (try model.run(input)[0], try resnet.run(input)[0])
    let scale = expected.scalars.map(abs).max() ?? 1
    #expect(zip(expected.scalars, actual.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
    // Training graphs are left alone.
    let training = try TrainingGraph(model: single.graph, loss: .meanSquaredError, optimizer: Optimizer(.sgd))
    let store = try Model.initialParameters(for: training.graph, seed: 0)
    #expect(try Model(graph: training.graph, parameters: store).foldingBatchNorm().graph == training.graph)
  }

  @Test func trainingUsesBatchStatisticsAndUpdatesRunningOnes() throws {
    let model = try batchNormModel()
    let training = try model.graph.forTraining()
    #expect(training.stateUpdates.count == 2)
    let x = T([2, 1, 1, 2], [1, 3, 5, 7])
    let run = try Interpreter<Double>(training).run(model.parameterFeeds(as: Double.self).merging(["input": x]) { $1 })
    // Mean 4, biased variance (9 + 1 + 1 + 9)/4 = 5.
    let root5 = Double(5).squareRoot()
    expectClose(run.outputs[0], [2, 1, 1, 2], [-3 / root5, -1 / root5, 1 / root5, 3 / root5], tolerance: 1e-12)
    // Running mean 0.9·0 + 0.1·4; running variance 0.9·1 + 0.1·(20/3) (unbiased).
    expectClose(try #require(run.stateUpdates["bn.running_mean"]), [1], [0.4], tolerance: 1e-12)
    expectClose(try #require(run.stateUpdates["bn.running_var"]), [1], [0.9 + 2.0 / 3], tolerance: 1e-12)
    // The inference graph normalises with the running statistics (0 and 1): the identity here.
    expectClose(try model.predict(x), [2, 1, 1, 2], [1, 3, 5, 7], tolerance: 1e-12)
  }

  @Test func trainingNeedsMoreThanOneValuePerChannel() throws {
    expectError("bn (BatchNorm): training needs more than one value per channel") {
      _ = try Graph(name: "one", input: [1, 3]) { BatchNorm(name: "bn") }.forTraining()
    }
  }

  @Test func dropoutIsTheIdentityAtInferenceAndSeededInTraining() throws {
    let graph = try Graph(name: "drop", input: [1, 10_000]) { Dropout(0.5, seed: 7) }
    let ones = try Tensor<Double>(shape: [1, 10_000], repeating: 1)
    #expect(try Interpreter<Double>(graph).run(["input": ones]).outputs[0] == ones)
    let training = try Interpreter<Double>(graph.forTraining())
    let first = try training.run(["input": ones]).outputs[0]
    #expect(first.scalars.allSatisfy { $0 == 0 || $0 == 2 }, "survivors are scaled by 1/(1 − rate)")
    let dropped = first.scalars.filter { $0 == 0 }.count
    #expect((4_700...5_300).contains(dropped), "about half of 10,000 dropped, got \(dropped)")
    #expect(try training.run(["input": ones]).outputs[0] == first, "same seed and step, same mask")
    #expect(try training.run(["input": ones], step: 1).outputs[0] != first, "another step, another mask")
  }
}
