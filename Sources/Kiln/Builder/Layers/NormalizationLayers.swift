/// Batch normalisation over the channels (axis 1) of `[N, C, …]`, for 1D, 2D and 3D inputs.
///
/// Parameters `<layer>.weight` (γ, ones) and `<layer>.bias` (β, zeros); state
/// `<layer>.running_mean` (zeros) and `<layer>.running_var` (ones) — PyTorch's names, so weights
/// load directly. A model's graph normalises with the running statistics; its training graph with
/// the batch's statistics, updating the running ones with `momentum`.
public struct BatchNorm: Layer {
  /// Added to the variance before its square root.
  public var epsilon: Double
  /// How far each training batch moves the running statistics (PyTorch's convention).
  public var momentum: Double
  /// The layer's name, which scopes its parameters (`bn1.running_mean`); nil for a fresh `bn<n>`.
  public var name: String?
  /// Values for γ, β, the running mean and the running variance (in that order), each `[C]`,
  /// instead of their initializers.
  public var givenStatistics: [Tensor<Float>]?

  /// A batch norm whose parameters start at γ = 1, β = 0, mean 0 and variance 1.
  public init(epsilon: Double = 1e-5, momentum: Double = 0.1, name: String? = nil) {
    self.epsilon = epsilon
    self.momentum = momentum
    self.name = name
  }

  /// A batch norm with given values, each `[C]`: γ (`scale`), β (`shift`) and the running
  /// statistics.
  public init(
    scale: Tensor<Float>, shift: Tensor<Float>, runningMean: Tensor<Float>, runningVariance: Tensor<Float>,
    epsilon: Double = 1e-5, momentum: Double = 0.1, name: String? = nil
  ) {
    self.init(epsilon: epsilon, momentum: momentum, name: name)
    givenStatistics = [scale, shift, runningMean, runningVariance]
  }

  /// Adds the normalisation of `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "bn") { layer in
      guard x.rank >= 2 else {
        throw KilnError.shape(node: layer, op: "BatchNorm", message: "input must be [N, C, …], got \(x.type)")
      }
      let channels = [x.shape[1]]
      let names: [(String, Initializer, ParameterRole)] = [
        ("weight", .ones, .weight), ("bias", .zeros, .weight), ("running_mean", .zeros, .state), ("running_var", .ones, .state),
      ]
      let statistics = try names.enumerated().map { index, parameter in
        try b.parameter(parameter.0, shape: channels, initializer: parameter.1, given: givenStatistics?[index], role: parameter.2)
      }
      return try b.add(layer, .batchNorm(BatchNormAttrs(epsilon: epsilon, momentum: momentum)), [x] + statistics)
    }
  }
}

/// Dropout with probability `rate`: the identity in a model's graph, active in its training graph.
/// The mask's seed is `seed`, or derived from the model's seed and the layer's name.
public struct Dropout: Layer {
  /// The probability that an element is zeroed in training.
  public var rate: Double
  /// The mask's seed, or nil for one derived from the model's seed and the layer's name.
  public var seed: UInt64?
  /// The layer's name; nil for a fresh `dropout<n>`.
  public var name: String?

  /// A dropout with probability `rate`.
  public init(_ rate: Double, seed: UInt64? = nil, name: String? = nil) {
    self.rate = rate
    self.seed = seed
    self.name = name
  }

  /// Adds the dropout after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "dropout") { layer in
      let seed = self.seed ?? (b.seed ^ SplitMix64.stableHash(layer))
      return try b.add(layer, .dropout(DropoutAttrs(rate: rate, seed: seed)), [x])
    }
  }
}

/// Local response normalisation across channels (AlexNet, ZFNet, VGG's A-LRN), PyTorch's
/// `LocalResponseNorm(size, alpha, beta, k)`: each element divided by
/// (k + alpha/size · Σ x²)^beta over `size` neighbouring channels (see `LRNAttrs`).
public struct LocalResponseNorm: Layer {
  /// Channels in a window.
  public var size: Int
  /// The scale of the sum of squares (divided by `size`).
  public var alpha: Double
  /// The exponent.
  public var beta: Double
  /// The constant added to the scaled sum.
  public var k: Double
  /// The layer's name; nil for a fresh `lrn<n>`.
  public var name: String?

  /// A normalisation over windows of `size` channels; the defaults are PyTorch's.
  public init(size: Int, alpha: Double = 1e-4, beta: Double = 0.75, k: Double = 1, name: String? = nil) {
    self.size = size
    self.alpha = alpha
    self.beta = beta
    self.k = k
    self.name = name
  }

  /// Adds the normalisation of `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    try x.builder.singleNode(name, prefix: "lrn", .lrn(LRNAttrs(size: size, alpha: alpha, beta: beta, bias: k)), x)
  }
}
