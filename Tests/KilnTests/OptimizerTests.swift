import Testing

@testable import Kiln

/// Each optimizer's update against steps worked by hand: θ₀ = [1, −2] under the loss
/// Σ θ·[0.5, −1] (so the gradient is g = [0.5, −1] at every step), learning rate 0.1.
@Suite struct OptimizerTests {
  func twoSteps(_ optimizer: Optimizer) throws -> [[Double]] {
    let model = try Graph(name: "linear", seed: 0) { b in
      let theta = try b.parameter("theta", shape: [2], initializer: .zeros)
      return [try (theta * b.input("input", shape: [2])).reduced(.sum, axes: [0]).reshaped([1, 1])]
    }
    let training = try TrainingGraph(model: model, loss: .meanSquaredError, optimizer: optimizer)
    let interpreter = try Interpreter<Double>(training.graph)
    var feeds = try Model.initialParameters(for: training.graph, seed: 0).entries.reduce(into: [String: Tensor<Double>]()) {
      $0[$1.name] = Tensor($1.tensor)
    }
    feeds["theta"] = T([2], [1, -2])
    feeds["input"] = T([2], [0.5, -1])
    // MSE against a target that makes ∂loss/∂output = 1: output − 0.5 − target = 0 at every step is
    // not possible, so take the target output − ½ (loss (o − t)², gradient 2(o − t) = 1).
    var thetas: [[Double]] = []
    for step in 0..<2 {
      let output = try Interpreter<Double>(model).run(["theta": feeds["theta"]!, "input": feeds["input"]!]).outputs[0]
      feeds["targets"] = T([1, 1], [output.scalars[0] - 0.5])
      feeds[TrainingGraph.learningRateInput] = T([], [0.1])
      let run = try interpreter.run(feeds, step: UInt64(step))
      feeds.merge(run.stateUpdates) { $1 }
      thetas.append(feeds["theta"]!.scalars)
    }
    return thetas
  }

  func expectSteps(_ optimizer: Optimizer, _ expected: [[Double]], tolerance: Double = 1e-9, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let actual = try twoSteps(optimizer)
    for (step, (a, e)) in zip(actual, expected).enumerated() {
      for (x, y) in zip(a, e) {
        #expect(abs(x - y) <= tolerance, "step \(step + 1): \(a) but expected \(e)", sourceLocation: sourceLocation)
      }
    }
  }

  @Test func sgd() throws {
    // θ − 0.1·g.
    try expectSteps(Optimizer(.sgd), [[0.95, -1.9], [0.9, -1.8]])
  }

  @Test func sgdWithWeightDecay() throws {
    // g + 0.1·θ: [0.6, −1.2], then [0.594, −1.188].
    try expectSteps(Optimizer(.sgd, weightDecay: 0.1), [[0.94, -1.88], [0.8806, -1.7612]])
  }

  @Test func momentum() throws {
    // v₁ = g, θ₁ = θ₀ − 0.1·g; v₂ = 0.9·g + g = 1.9·g, θ₂ = θ₁ − 0.19·g.
    try expectSteps(Optimizer(.momentum, momentum: 0.9), [[0.95, -1.9], [0.855, -1.71]])
  }

  @Test func nesterov() throws {
    // θ₁ = θ₀ − 0.1·(g + 0.9·g) = θ₀ − 0.19·g; v₂ = 1.9·g, θ₂ = θ₁ − 0.1·(g + 1.71·g).
    try expectSteps(Optimizer(.nesterov, momentum: 0.9), [[0.905, -1.81], [0.7695, -1.539]])
  }

  @Test func adagrad() throws {
    // s₁ = g², step 0.1·sign(g); s₂ = 2g², step 0.1/√2·sign(g).
    let second = 0.1 / 2.0.squareRoot()
    try expectSteps(Optimizer(.adagrad), [[0.9, -1.9], [0.9 - second, -1.9 + second]], tolerance: 1e-8)
  }

  @Test func rmsprop() throws {
    // s₁ = 0.01·g², step 0.1/0.1·sign(g) = sign(g); s₂ = 0.0199·g², step 0.1/√0.0199·sign(g).
    let second = 0.1 / 0.0199.squareRoot()
    try expectSteps(Optimizer(.rmsprop, alpha: 0.99), [[0, -1], [-second, -1 + second]], tolerance: 1e-6)
  }

  @Test func adam() throws {
    // Bias correction makes m̂ = g and v̂ = g² at both steps: θ moves by 0.1·sign(g) each time.
    try expectSteps(Optimizer(.adam), [[0.9, -1.9], [0.8, -1.8]], tolerance: 1e-6)
  }

  @Test func trainingGraphShape() throws {
    let training = try TrainingGraph(model: try Zoo.lenet5(input: [4, 1, 32, 32]), optimizer: Optimizer(.adam), frozen: ["conv1"])
    #expect(!training.trainedParameters.contains("conv1.weight") && training.trainedParameters.contains("fc2.bias"))
    let updated = Set(training.graph.stateUpdates.map { training.graph[$0.state].name })
    #expect(updated.contains("fc2.weight") && updated.contains("fc2.weight.exp_avg_sq") && !updated.contains("conv1.weight"))
    #expect(training.graph[training.logits].type.shape == [4, 10])
    expectError("cannot freeze conv9: model lenet5 has no parameters under that name") {
      _ = try TrainingGraph(model: try Zoo.lenet5(), optimizer: Optimizer(.sgd), frozen: ["conv9"])
    }
    expectError("every parameter of lenet5 is frozen") {
      _ = try TrainingGraph(model: try Zoo.lenet5(), optimizer: Optimizer(.sgd), frozen: ["conv1", "conv2", "conv3", "fc1", "fc2"])
    }
  }
}
