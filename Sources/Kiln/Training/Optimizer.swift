/// An optimizer and its hyper-parameters. The update is built into the training graph; its state
/// (moments, step powers) lives in state parameters named after the weight it belongs to.
///
/// Rules, with g = ∇θ + weightDecay·θ and the learning rate η fed each step:
/// - `sgd`: θ ← θ − η·g
/// - `momentum`: v ← μ·v + g; θ ← θ − η·v (PyTorch's form)
/// - `nesterov`: v ← μ·v + g; θ ← θ − η·(g + μ·v)
/// - `adagrad`: s ← s + g²; θ ← θ − η·g / (√s + ε)
/// - `rmsprop`: s ← α·s + (1 − α)·g²; θ ← θ − η·g / (√s + ε)
/// - `adam`: m ← β₁·m + (1 − β₁)·g; v ← β₂·v + (1 − β₂)·g²; θ ← θ − η·m̂ / (√v̂ + ε), with
///   m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)
public struct Optimizer: Codable, Hashable, Sendable {
  /// The update rule.
  public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
    /// Plain stochastic gradient descent.
    case sgd
    /// Heavy-ball momentum.
    case momentum
    /// Nesterov's accelerated gradient.
    case nesterov
    /// Steps scaled by the root of the summed squared gradients.
    case adagrad
    /// Steps scaled by the root of a moving average of squared gradients.
    case rmsprop
    /// Adam: bias-corrected moving averages of the gradient and its square.
    case adam
  }

  /// The update rule.
  public var kind: Kind
  /// μ for momentum and Nesterov.
  public var momentum: Double
  /// α, the decay of RMSprop's squared-gradient average.
  public var alpha: Double
  /// β₁, the decay of Adam's first moment.
  public var beta1: Double
  /// β₂, the decay of Adam's second moment.
  public var beta2: Double
  /// ε, which keeps divisions by √s or √v̂ finite.
  public var epsilon: Double
  /// L2 weight decay, added to the gradient as `weightDecay·θ`.
  public var weightDecay: Double

  /// An optimizer of `kind`; ε defaults to PyTorch's (1e-10 for Adagrad, else 1e-8).
  public init(
    _ kind: Kind, momentum: Double = 0.9, alpha: Double = 0.99, beta1: Double = 0.9, beta2: Double = 0.999,
    epsilon: Double? = nil, weightDecay: Double = 0
  ) {
    self.kind = kind
    self.momentum = momentum
    self.alpha = alpha
    self.beta1 = beta1
    self.beta2 = beta2
    // PyTorch's defaults: 1e-10 for Adagrad, 1e-8 otherwise.
    self.epsilon = epsilon ?? (kind == .adagrad ? 1e-10 : 1e-8)
    self.weightDecay = weightDecay
  }

  /// Checks that every hyper-parameter is a finite number in its range (momentum, weight decay
  /// and ε at least 0; α, β₁ and β₂ in [0, 1)), so a bad setting fails before training starts.
  public func validate() throws {
    let settings: [(name: String, value: Double, range: Range<Double>)] = [
      ("momentum", momentum, 0..<Double.infinity), ("weight decay", weightDecay, 0..<Double.infinity),
      ("epsilon", epsilon, 0..<Double.infinity), ("alpha", alpha, 0..<1), ("beta1", beta1, 0..<1), ("beta2", beta2, 0..<1),
    ]
    for (name, value, range) in settings where !range.contains(value) {
      let upper = range.upperBound.isFinite ? "below \(range.upperBound)" : "finite"
      throw KilnError.invalidArgument("the optimizer's \(name) is \(value); it must be at least \(range.lowerBound) and \(upper)")
    }
  }
}

extension Graph {
  /// Appends the update of `parameter` given its `gradient` and the scalar `learningRate`, adding
  /// the optimizer's state parameters and registering every replacement as a state update.
  mutating func appendUpdate(_ optimizer: Optimizer, parameter: ValueID, gradient: ValueID, learningRate: ValueID) throws {
    let name = self[parameter].name
    let type = self[parameter].type
    func node(_ what: String, _ op: Op, _ inputs: [ValueID]) throws -> ValueID {
      try append("update.\(name).\(what)", op, inputs: inputs)
    }
    func affine(_ x: ValueID, _ scale: Double, _ shift: Double = 0, _ what: String) throws -> ValueID {
      try node(what, .unary(UnaryAttrs(.affine(scale: scale, shift: shift))), [x])
    }
    func binary(_ op: BinaryOperator, _ a: ValueID, _ b: ValueID, _ what: String) throws -> ValueID {
      try node(what, .binary(BinaryAttrs(op)), [a, b])
    }
    func state(_ what: String, _ initializer: Initializer = .zeros, shape: [Int]? = nil) throws -> ValueID {
      try append("\(name).\(what)", .parameter(ParameterAttrs(TensorType(shape ?? type.shape), initializer: initializer, role: .state)))
    }
    /// θ − η·step
    func descend(_ step: ValueID) throws -> ValueID {
      try binary(.sub, parameter, try binary(.mul, step, learningRate, "scaled_step"), "new")
    }
    /// g / (√s + ε)
    func normalized(_ g: ValueID, by s: ValueID) throws -> ValueID {
      let root = try affine(try node("root", .unary(UnaryAttrs(.sqrt)), [s]), 1, optimizer.epsilon, "root_eps")
      return try binary(.div, g, root, "normalized")
    }

    var g = gradient
    if optimizer.weightDecay != 0 {
      g = try binary(.add, gradient, try affine(parameter, optimizer.weightDecay, 0, "decay"), "decayed_grad")
    }
    func squared() throws -> ValueID { try binary(.mul, g, g, "grad_squared") }
    let newValue: ValueID
    switch optimizer.kind {
    case .sgd:
      newValue = try descend(g)
    case .momentum, .nesterov:
      let velocity = try state("momentum_buffer")
      let newVelocity = try binary(.add, try affine(velocity, optimizer.momentum, 0, "momentum_decay"), g, "velocity")
      try addStateUpdate(state: velocity, newValue: newVelocity)
      let step = optimizer.kind == .momentum
        ? newVelocity : try binary(.add, g, try affine(newVelocity, optimizer.momentum, 0, "lookahead"), "nesterov_step")
      newValue = try descend(step)
    case .adagrad:
      let sum = try state("sum_squares")
      let newSum = try binary(.add, sum, try squared(), "new_sum")
      try addStateUpdate(state: sum, newValue: newSum)
      newValue = try descend(try normalized(g, by: newSum))
    case .rmsprop:
      let average = try state("square_average")
      let newAverage = try binary(.add, try affine(average, optimizer.alpha, 0, "average_decay"), try affine(try squared(), 1 - optimizer.alpha, 0, "average_new"), "new_average")
      try addStateUpdate(state: average, newValue: newAverage)
      newValue = try descend(try normalized(g, by: newAverage))
    case .adam:
      let (m, v) = (try state("exp_avg"), try state("exp_avg_sq"))
      let (power1, power2) = (try state("beta1_power", .ones, shape: []), try state("beta2_power", .ones, shape: []))
      let newM = try binary(.add, try affine(m, optimizer.beta1, 0, "m_decay"), try affine(g, 1 - optimizer.beta1, 0, "m_new"), "new_m")
      let newV = try binary(.add, try affine(v, optimizer.beta2, 0, "v_decay"), try affine(try squared(), 1 - optimizer.beta2, 0, "v_new"), "new_v")
      let newPower1 = try affine(power1, optimizer.beta1, 0, "new_beta1_power")
      let newPower2 = try affine(power2, optimizer.beta2, 0, "new_beta2_power")
      for (old, new) in [(m, newM), (v, newV), (power1, newPower1), (power2, newPower2)] { try addStateUpdate(state: old, newValue: new) }
      let mHat = try binary(.div, newM, try affine(newPower1, -1, 1, "bias1"), "m_hat")
      let vHat = try binary(.div, newV, try affine(newPower2, -1, 1, "bias2"), "v_hat")
      newValue = try descend(try normalized(mHat, by: vHat))
    }
    try addStateUpdate(state: parameter, newValue: newValue)
  }
}
