/// Batch normalisation with given statistics: `γ·(x − mean)/√(var + ε) + β` per channel.
///
/// Inputs: `x` `[N, C, …]`, `gamma`, `beta`, `mean`, `variance`, each `[C]`. In a model's graph the
/// statistics are the running averages (inference); `Graph.forTraining()` rewires them to the
/// batch's own statistics and adds the running-average updates with `momentum`
/// (new = (1 − momentum)·old + momentum·batch, with the unbiased batch variance, as PyTorch).
public struct BatchNormAttrs: OpAttributes {
  /// Added to the variance before its square root.
  public var epsilon: Double
  /// How far each training batch moves the running statistics.
  public var momentum: Double

  /// A batch norm with `epsilon` and `momentum`.
  public init(epsilon: Double = 1e-5, momentum: Double = 0.1) {
    self.epsilon = epsilon
    self.momentum = momentum
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 5...5)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require(x.rank >= 2, "input must be [N, C, …], got \(x)")
    for (name, type) in zip(["gamma", "beta", "mean", "variance"], inputs.dropFirst()) {
      try require(type.shape == [x.shape[1]], "input has \(x.shape[1]) channels, \(name) is \(type)")
    }
    return x
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 2 * output.elementCount }

  public var attributeText: [String] { ["eps=\(epsilon)", "momentum=\(momentum)"] }
}

/// Dropout. When `training` is false (a model's graph) it is the identity; `Graph.forTraining()`
/// turns it on. In training each element is zeroed with probability `rate` and the survivors are
/// scaled by 1/(1 − rate). The mask is a pure function of `seed`, the run's step number and the
/// element's index, so the backward pass and any rerun see the same mask.
public struct DropoutAttrs: OpAttributes {
  /// The probability that an element is zeroed in training.
  public var rate: Double
  /// The mask's seed.
  public var seed: UInt64
  /// Whether the dropout is active (a training graph) or the identity.
  public var training: Bool

  /// A dropout with probability `rate`, seeded by `seed`.
  public init(rate: Double, seed: UInt64, training: Bool = false) {
    self.rate = rate
    self.seed = seed
    self.training = training
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    try requireFloat(inputs[0], "input")
    try require(rate >= 0 && rate < 1, "rate must be in [0, 1), got \(rate)")
    return inputs[0]
  }

  public var attributeText: [String] { ["rate=\(rate)", "seed=\(seed)"] + (training ? ["training"] : []) }
}
