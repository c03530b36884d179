import Kiln  // not @testable: these tests use the library as a user's package does
import Testing

/// The library used the way a Swift package that depends on Kiln uses it: build with given
/// weights, run, take vector-Jacobian products, read results by name.
struct LibraryUseTests {
  /// A conv, a pool and LeNet-5, each with the targets whose gradients a user asks for.
  static let models: [(name: String, model: @Sendable () throws -> Model, targets: [String])] = [
    ("conv", { try Model(name: "conv", input: [2, 3, 7, 7], seed: 1) { Conv2D(4, kernel: 3, stride: 2, padding: 1) } },
     ["input", "conv1.weight", "conv1.bias"]),
    ("pool", { try Model(name: "pool", input: [2, 3, 6, 6]) { MaxPool2D(2) } }, ["input"]),
    ("lenet5", { try Model(graph: Zoo.lenet5(input: [2, 1, 32, 32]), seed: 3) }, ["input", "conv1.weight", "fc2.bias"]),
  ]

  /// `model.vjp` against the form a user had to build by hand before: Σ(y·dy) appended to the
  /// graph as a scalar loss, differentiated, run with the parameters merged into the feeds.
  @Test(arguments: 0..<3)
  func vjpEqualsTheHandBuiltSumOfOutputTimesCotangent(index: Int) throws {
    let (_, build, targets) = Self.models[index]
    let model = try build()
    let input = try #require(model.inputType)
    let x = random(input.shape, seed: 5)
    let output = model.graph.outputs[0]
    let dy = random(model.graph[output].type.shape, seed: 6)

    let vjp = try model.vjp(["input": x], cotangent: dy, withRespectTo: targets)

    var graph = model.graph
    let cotangent = try graph.append("dy", .input(InputAttrs(graph[output].type)))
    let product = try graph.append("product", .binary(BinaryAttrs(.mul)), inputs: [output, cotangent])
    let total = try graph.append("total", .reduce(ReduceAttrs(.sum, axes: Array(0..<graph[output].type.rank))), inputs: [product])
    let targetValues = try targets.map { try #require(graph.index(of: $0)) }
    let handBuilt = try graph.differentiated(loss: total, withRespectTo: targetValues)
    var feeds = model.parameterFeeds(as: Double.self)
    feeds["input"] = x
    feeds["dy"] = dy
    let run = try Interpreter<Double>(handBuilt.graph).run(feeds)

    #expect(vjp.gradients.keys.sorted() == targets.sorted())
    #expect(vjp[model.graph[output].name] == run[output])
    for target in targets {
      let expected = run[try #require(handBuilt.gradients[target])]
      let actual = try #require(vjp.gradients[target])
      #expect(actual.shape == expected.shape)
      for (a, e) in zip(actual.scalars, expected.scalars) { #expect(abs(a - e) <= 1e-12 * max(1, abs(e)), "\(target)") }
    }
  }

  /// A convolution and a dense layer with given weights: a user's numbers, no layer names,
  /// outputs checked by hand.
  @Test func givenWeightsBuildTheModel() throws {
    // x: 1×1×3×3 = 1…9; conv: one 2×2 filter [[1, 0], [0, −1]], bias 0.5, so every output is
    // x[i, j] − x[i+1, j+1] + 0.5 = −4 + 0.5 = −3.5. Dense rows [1, 0, 0, 0] and [−1, −1, 0, 0],
    // no bias: [−3.5, 7].
    let weight = try Tensor<Float>(shape: [1, 1, 2, 2], scalars: [1, 0, 0, -1])
    let bias = try Tensor<Float>(shape: [1], scalars: [0.5])
    let rows = try Tensor<Float>(shape: [2, 4], scalars: [1, 0, 0, 0, -1, -1, 0, 0])
    let model = try Model(name: "given", input: [1, 1, 3, 3]) {
      Conv2D(weight: weight, bias: bias)
      Flatten()
      Dense(weight: rows)
    }
    #expect(model.parameters["conv1.weight"] == weight)
    #expect(model.parameters["conv1.bias"] == bias)
    #expect(model.parameters["dense1.weight"] == rows)
    #expect(model.parameters["dense1.bias"] == nil)
    let x = try Tensor<Float>(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
    let results = try model.run(["input": x])
    #expect(results.names == ["dense1"])
    #expect(results["dense1"]?.scalars == [-3.5, 7])
    #expect(results[0] == results["dense1"])
  }

  /// Given weights of the wrong shape name the layer and both shapes; a graph kept without its
  /// builder's values says where the values must come from.
  @Test func givenWeightsAreChecked() throws {
    let weight = try Tensor<Float>(shape: [4, 2, 3, 3], scalars: Array(repeating: 0.1, count: 72))
    expectError("conv1.weight", "[4,2,3,3]", "[4,3,3,3]") {
      _ = try Model(name: "bad", input: [1, 3, 8, 8]) { Conv2D(weight: weight) }
    }
    expectError("conv1", "[out, in / groups, 2 kernel sizes]") {
      _ = try Model(name: "bad", input: [1, 3, 8, 8]) { Conv2D(weight: try! Tensor(shape: [4, 3], scalars: Array(repeating: 0, count: 12))) }
    }
    let graph = try Graph(name: "kept", input: [1, 2, 8, 8]) { Conv2D(weight: weight) }
    expectError("conv1.weight", "given", "weightsFrom") { _ = try Model(graph: graph) }
  }

  /// The functional API takes given values too, and the raw interpreter takes the parameters
  /// beside the inputs.
  @Test func functionalParametersAndTheInterpreter() throws {
    let scale = try Tensor<Float>(shape: [1, 3, 1, 1], scalars: [1, 2, 3])
    let model = try Model(name: "scaled") { builder in
      let x = try builder.input("input", shape: [1, 3, 1, 1])
      let s = try builder.parameter("scale", value: scale)
      return [try x * s]
    }
    let x = try Tensor<Float>(shape: [1, 3, 1, 1], scalars: [5, 5, 5])
    let run = try Interpreter<Float>(model.graph).run(["input": x], parameters: model.parameters)
    #expect(run.results[0].scalars == [5, 10, 15])
  }

  /// Token ids and labels as `Tensor<Int32>`: the same results as whole-number floats, and a
  /// clear error where a name is not an integer input.
  @Test func integerInputsTakeInt32Tensors() throws {
    let table = try Tensor<Float>(shape: [4, 2], scalars: [0, 0, 1, 10, 2, 20, 3, 30])
    let model = try Model(name: "lookup", input: [1, 3], inputType: .i32) { Embedding(table: table) }
    let ids = try Tensor<Int32>(shape: [1, 3], scalars: [3, 1, 2])
    let results = try model.run(integers: ["input": ids])
    #expect(results[0].scalars == [3, 30, 1, 10, 2, 20])
    #expect(try model.run(["input": Tensor<Float>(ids)])[0] == results[0])
    expectError("lookup has no input called tokens", "integer inputs are input") { _ = try model.run(integers: ["tokens": ids]) }

    var trainer = try Trainer(model: Model(graph: Zoo.lenet5(input: [2, 1, 32, 32]), seed: 1), optimizer: Optimizer(.sgd))
    let images = try Tensor<Float>(shape: [2, 1, 32, 32], scalars: (0..<2048).map { Float($0 % 13) / 13 })
    let labels = try Tensor<Int32>(shape: [2], scalars: [7, 2])
    expectError("input", "not integers") { _ = try trainer.step([:], integers: ["input": labels], learningRate: 0.1) }
    let step = try trainer.step(["input": images], integers: ["labels": labels], learningRate: 0.1)
    #expect(step.loss.isFinite && step.logits.shape == [2, 10])
  }

  /// Sizes and padding held in variables, as `Int` and `[Int]`, build what literals build.
  @Test func sizesInVariablesWorkWhereLiteralsDo() throws {
    let (k, stride, pad) = (3, [1, 2], 1)
    let literal = try Graph(name: "g", input: [1, 2, 9, 9]) {
      Conv2D(4, kernel: 3, stride: [1, 2], padding: 1)
      Conv2D(4, kernel: [3, 1], padding: .symmetric([1, 0]))
      MaxPool2D(2, stride: 1)
      AvgPool2D([2, 1], padding: [1, 0])
      ConvTranspose2D(2, kernel: 2, stride: 2)
    }
    let variables = try Graph(name: "g", input: [1, 2, 9, 9]) {
      Conv2D(4, kernel: k, stride: stride, padding: pad)
      Conv2D(4, kernel: [k, 1], padding: .symmetric([pad, 0]))
      MaxPool2D(k - 1, stride: pad)
      AvgPool2D([k - 1, 1], padding: [pad, 0])
      ConvTranspose2D(2, kernel: k - 1, stride: stride[1])
    }
    #expect(variables == literal)
    // 9×9 → conv (stride 1×2) 9×5 → conv 9×5 → max pool 8×4 → avg pool (2×1, pad 1×0) 5×4 → ×2: 10×8.
    #expect(variables.nodes.last?.type.shape == [1, 2, 10, 8])
  }
}
