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
  /// Whether the mean and variance inputs are the input's own batch statistics (mean and biased
  /// variance over every axis but the channels), as `Graph.forTraining()` builds them: the
  /// gradient with respect to the input then accounts for the statistics' dependence on it in
  /// one op (`BatchNormOperand.inputWithStatistics`), and the statistics get no gradient — the
  /// same gradient as differentiating through the nodes that compute them, in two passes over
  /// the data instead of a dozen.
  public var batchStatistics: Bool

  /// A batch norm with `epsilon` and `momentum`.
  public init(epsilon: Double = 1e-5, momentum: Double = 0.1, batchStatistics: Bool = false) {
    self.epsilon = epsilon
    self.momentum = momentum
    self.batchStatistics = batchStatistics
  }

  /// Model files written before `batchStatistics` read as given statistics.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    epsilon = try container.decode(Double.self, forKey: .epsilon)
    momentum = try container.decode(Double.self, forKey: .momentum)
    batchStatistics = try container.decodeIfPresent(Bool.self, forKey: .batchStatistics) ?? false
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

  public var attributeText: [String] { ["eps=\(epsilon)", "momentum=\(momentum)"] + (batchStatistics ? ["batch_statistics"] : []) }
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

/// Local response normalisation across channels (AlexNet, ZFNet, VGG's A-LRN), ONNX's definition:
/// `y_c = x_c / (bias + alpha/size · Σ x_j²)^beta`, the sum over the channels j from
/// c − ⌊(size − 1)/2⌋ to c + ⌈(size − 1)/2⌉ that exist. (PyTorch's `LocalResponseNorm` puts the
/// longer half before c instead; the two agree for the odd sizes every published model uses.)
///
/// Input and output `[N, C, …]`.
public struct LRNAttrs: OpAttributes {
  /// Channels in a window.
  public var size: Int
  /// The scale of the sum of squares (divided by `size`).
  public var alpha: Double
  /// The exponent.
  public var beta: Double
  /// The constant added to the scaled sum (PyTorch's `k`).
  public var bias: Double

  /// A normalisation over windows of `size` channels; the defaults are ONNX's and PyTorch's.
  public init(size: Int, alpha: Double = 1e-4, beta: Double = 0.75, bias: Double = 1) {
    self.size = size
    self.alpha = alpha
    self.beta = beta
    self.bias = bias
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require(x.rank >= 2, "input must be [N, C, …], got \(x)")
    try require(size >= 1, "size must be at least 1, got \(size)")
    try require(bias > 0 && alpha >= 0 && beta.isFinite, "needs bias > 0, alpha ≥ 0 and a finite beta, got bias \(bias), alpha \(alpha), beta \(beta)")
    return x
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { (2 * size + 4) * output.elementCount }

  public var attributeText: [String] { ["size=\(size)", "alpha=\(alpha)", "beta=\(beta)", "bias=\(bias)"] }

  /// The channels in the window of channel `c` of `channels`: `lower..<upper`.
  package func window(_ c: Int, channels: Int) -> Range<Int> {
    max(c - (size - 1) / 2, 0)..<min(c + size / 2 + 1, channels)
  }

  /// The channels whose windows hold channel `i`: the window mirrored.
  package func readers(_ i: Int, channels: Int) -> Range<Int> {
    max(i - size / 2, 0)..<min(i + (size - 1) / 2 + 1, channels)
  }
}
