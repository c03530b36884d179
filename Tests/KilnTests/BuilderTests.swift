import Testing

@testable import Kiln

@Suite struct BuilderTests {
  @Test func namesAreGeneratedScopedAndOverridable() throws {
    let graph = try Graph(name: "names", input: [1, 3, 8, 8]) {
      Conv2D(4, kernel: 3, activation: .relu)
      Sequential(name: "layer3") {
        Conv2D(4, kernel: 3, name: "conv1")
        BatchNorm()
        Conv2D(4, kernel: 1)
      }
      Conv2D(4, kernel: 1)
    }
    let names = graph.nodes.map(\.name)
    for expected in [
      "conv1", "conv1.weight", "conv1.bias", "conv1.relu", "layer3.conv1.weight", "layer3.bn1.running_mean",
      "layer3.conv2", "conv2.weight",
    ] {
      #expect(names.contains(expected), "\(expected) in \(names)")
    }
  }

  @Test func residualInceptionDenseAndSEBlocks() throws {
    let model = try Model(name: "dag", input: [2, 4, 6, 6], seed: 3) { x in
      // Residual: conv → conv, plus the input.
      let residual = try x.apply(Block(name: "res") { x in
        let y = try x.apply(Conv2D(4, kernel: 3, padding: .same, activation: .relu)).apply(Conv2D(4, kernel: 3, padding: .same))
        return try (y + x).relu()
      })
      // Inception: four branches concatenated along channels.
      let branches = [
        try residual.apply(Conv2D(2, kernel: 1)),
        try residual.apply(Conv2D(3, kernel: 3, padding: 1)),
        try residual.apply(Conv2D(1, kernel: 5, padding: 2)),
        try residual.apply(MaxPool2D(3, stride: 1, padding: 1)).apply(Conv2D(2, kernel: 1)),
      ]
      let inception = try Symbol.concat(branches, axis: 1)
      // Dense block: each layer sees all earlier feature maps.
      var features = inception
      for _ in 0..<2 {
        features = try Symbol.concat([features, features.apply(Conv2D(3, kernel: 3, padding: 1, activation: .relu))])
      }
      // Squeeze-and-excitation: channel weights from the global average.
      let channels = features.shape[1]
      let squeeze = try features.globalAvgPool().flattened().apply(Dense(channels / 4, activation: .relu))
      let excite = try squeeze.apply(Dense(channels, activation: .sigmoid)).reshaped([-1, channels, 1, 1])
      return try features * excite
    }
    #expect(model.graph[model.graph.outputs[0]].type.shape == [2, 14, 6, 6])
    let out = try model.predict(Tensor<Double>(random([2, 4, 6, 6], seed: 4)))
    #expect(out.shape == [2, 14, 6, 6])
    #expect(out.scalars.allSatisfy { $0.isFinite })
  }

  @Test func residualWithZeroWeightsIsReLUOfTheInput() throws {
    let model = try Model(name: "zero", input: [1, 2, 3, 3]) { x in
      let y = try x.apply(Conv2D(2, kernel: 3, padding: 1, weightInitializer: .zeros))
      return try (y + x).relu()
    }
    let x = random([1, 2, 3, 3], seed: 9)
    let out = try model.predict(x)
    #expect(out.scalars == x.scalars.map { max($0, 0) })
  }

  @Test func squeezeExcitationWithZeroWeightsHalvesTheInput() throws {
    // sigmoid(0) = 1/2 scales every channel by a half.
    let model = try Model(name: "se", input: [1, 4, 2, 2]) { x in
      let s = try x.globalAvgPool().flattened().apply(Dense(2, weightInitializer: .zeros))
        .apply(Dense(4, activation: .sigmoid, weightInitializer: .zeros)).reshaped([1, 4, 1, 1])
      return try x * s
    }
    let x = random([1, 4, 2, 2], seed: 5)
    expectClose(try model.predict(x), [1, 4, 2, 2], x.scalars.map { $0 / 2 })
  }

  @Test func modelsRunInFloatAndDouble() throws {
    let model = try Model(graph: Zoo.lenet5(), seed: 1)
    let x = random([1, 1, 32, 32], seed: 2)
    let double = try model.predict(x)
    let float = try model.predict(Tensor<Float>(x))
    for (a, b) in zip(float.scalars, double.scalars) { #expect(abs(Double(a) - b) < 1e-4) }
  }

  static let standardDeviations: [(Initializer, Double)] = [
    (.heNormal, (2.0 / 288).squareRoot()),
    (.heUniform, (6.0 / 288).squareRoot() / 3.0.squareRoot()),
    (.glorotNormal, (2.0 / 864).squareRoot()),
    (.glorotUniform, (6.0 / 864).squareRoot() / 3.0.squareRoot()),
    (.normal(std: 0.5), 0.5),
  ]

  @Test(arguments: standardDeviations)
  func initializerStatistics(initializer: Initializer, std: Double) throws {
    // Weight [64, 32, 3, 3]: fan-in 32·9 = 288, fan-out 64·9 = 576.
    var generator = SplitMix64(seed: 1)
    let values = try #require(initializer.values(shape: [64, 32, 3, 3], generator: &generator)).map(Double.init)
    let mean = values.reduce(0, +) / Double(values.count)
    let measured = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
    #expect(abs(mean) < 0.05 * std)
    #expect(abs(measured - std) < 0.03 * std, "std \(measured), expected \(std)")
  }

  @Test func constantInitializers() throws {
    var generator = SplitMix64(seed: 1)
    #expect(Initializer.zeros.values(shape: [3], generator: &generator) == [0, 0, 0])
    #expect(Initializer.ones.values(shape: [2], generator: &generator) == [1, 1])
    #expect(Initializer.constant(0.25).values(shape: [2], generator: &generator) == [0.25, 0.25])
    let uniform = try #require(Initializer.uniform(bound: 0.1).values(shape: [1000], generator: &generator))
    #expect(uniform.allSatisfy { abs($0) <= 0.1 })
    #expect(Initializer.given.values(shape: [2], generator: &generator) == nil)
  }

  @Test func initialWeightsAreReproducibleAndPerName() throws {
    let a = try Model(graph: Zoo.lenet5(), seed: 7)
    let b = try Model(graph: Zoo.lenet5(), seed: 7)
    let c = try Model(graph: Zoo.lenet5(), seed: 8)
    #expect(a.parameters == b.parameters)
    #expect(a.parameters["conv1.weight"] != c.parameters["conv1.weight"])
    // Another architecture sharing a layer name draws the same values for it.
    let other = try Model(name: "other", input: [1, 1, 32, 32], seed: 7) { Conv2D(6, kernel: 5, name: "conv1") }
    #expect(other.parameters["conv1.weight"] == a.parameters["conv1.weight"])
  }

  @Test func depthwiseAndTransposedLayers() throws {
    let graph = try Graph(name: "mobile", input: [1, 8, 16, 16]) {
      Conv2D.depthwise(kernel: 3, stride: 2, padding: 1)
      Conv2D(16, kernel: 1)
      ConvTranspose2D(4, kernel: 2, stride: 2)
    }
    let nodes = graph.nodes
    #expect(nodes.first { $0.name == "conv1.weight" }?.type.shape == [8, 1, 3, 3])
    #expect(graph[graph.outputs[0]].type.shape == [1, 4, 16, 16])
  }
}
