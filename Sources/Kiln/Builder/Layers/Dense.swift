/// A fully connected layer: input `[N, in]` (or `[…, in]`), weight `[units, in]`
/// (`<layer>.weight`), bias `[units]` (`<layer>.bias`), output `[N, units]`.
public struct Dense: Layer {
  public var units: Int
  public var useBias: Bool
  public var activation: UnaryFunction?
  public var weightInitializer: Initializer
  public var biasInitializer: Initializer
  public var name: String?

  public init(
    _ units: Int, bias: Bool = true, activation: UnaryFunction? = nil,
    weightInitializer: Initializer = .heNormal, biasInitializer: Initializer = .zeros, name: String? = nil
  ) {
    self.units = units
    self.useBias = bias
    self.activation = activation
    self.weightInitializer = weightInitializer
    self.biasInitializer = biasInitializer
    self.name = name
  }

  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "dense") { layer in
      guard x.rank >= 1 else { throw KilnError.shape(node: layer, op: "Dense", message: "input must be [N, features], got \(x.type)") }
      let weight = try b.parameter("weight", shape: [units, x.shape[x.rank - 1]], initializer: weightInitializer)
      let bias = useBias ? [try b.parameter("bias", shape: [units], initializer: biasInitializer)] : []
      return try b.activation(try b.add(layer, .dense(DenseAttrs()), [x, weight] + bias), activation)
    }
  }
}

/// Embedding lookup for text models: i32 token ids `[N, L]` → `[N, L, dim]`, table
/// `[vocabulary, dim]` (`<layer>.weight`, normal(1) initialised as in PyTorch).
public struct Embedding: Layer {
  public var vocabulary: Int
  public var dim: Int
  public var name: String?

  public init(vocabulary: Int, dim: Int, name: String? = nil) {
    self.vocabulary = vocabulary
    self.dim = dim
    self.name = name
  }

  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "embedding") { layer in
      let table = try b.parameter("weight", shape: [vocabulary, dim], initializer: .normal(std: 1))
      return try b.add(layer, .embedding(EmbeddingAttrs()), [x, table])
    }
  }
}
