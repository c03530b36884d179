/// Batch normalisation over the channels (axis 1) of `[N, C, …]`, for 1D, 2D and 3D inputs.
///
/// Parameters `<layer>.weight` (γ, ones) and `<layer>.bias` (β, zeros); state
/// `<layer>.running_mean` (zeros) and `<layer>.running_var` (ones) — PyTorch's names, so weights
/// load directly. A model's graph normalises with the running statistics; its training graph with
/// the batch's statistics, updating the running ones with `momentum`.
public struct BatchNorm: Layer {
  public var epsilon: Double
  public var momentum: Double
  public var name: String?

  public init(epsilon: Double = 1e-5, momentum: Double = 0.1, name: String? = nil) {
    self.epsilon = epsilon
    self.momentum = momentum
    self.name = name
  }

  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "bn") { layer in
      guard x.rank >= 2 else {
        throw KilnError.shape(node: layer, op: "BatchNorm", message: "input must be [N, C, …], got \(x.type)")
      }
      let channels = [x.shape[1]]
      let statistics = [
        try b.parameter("weight", shape: channels, initializer: .ones),
        try b.parameter("bias", shape: channels, initializer: .zeros),
        try b.parameter("running_mean", shape: channels, initializer: .zeros, role: .state),
        try b.parameter("running_var", shape: channels, initializer: .ones, role: .state),
      ]
      return try b.add(layer, .batchNorm(BatchNormAttrs(epsilon: epsilon, momentum: momentum)), [x] + statistics)
    }
  }
}

/// Dropout with probability `rate`: the identity in a model's graph, active in its training graph.
/// The mask's seed is `seed`, or derived from the model's seed and the layer's name.
public struct Dropout: Layer {
  public var rate: Double
  public var seed: UInt64?
  public var name: String?

  public init(_ rate: Double, seed: UInt64? = nil, name: String? = nil) {
    self.rate = rate
    self.seed = seed
    self.name = name
  }

  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "dropout") { layer in
      let seed = self.seed ?? (b.seed ^ SplitMix64.stableHash(layer))
      return try b.add(layer, .dropout(DropoutAttrs(rate: rate, seed: seed)), [x])
    }
  }
}
