/// A fully connected layer: input `[N, in]` (or `[…, in]`), weight `[units, in]`
/// (`<layer>.weight`), bias `[units]` (`<layer>.bias`), output `[N, units]`.
public struct Dense: Layer {
  /// The number of outputs per sample.
  public var units: Int
  /// Whether the layer adds a bias per output.
  public var useBias: Bool
  /// The function applied to the output, fused when compiled; nil for none.
  public var activation: UnaryFunction?
  /// How the weight's first values are drawn.
  public var weightInitializer: Initializer
  /// How the bias's first values are drawn.
  public var biasInitializer: Initializer
  /// The layer's name, which scopes its parameters (`fc1.weight`); nil for a fresh `dense<n>`.
  public var name: String?
  /// Values for the weight and bias instead of the initializers (see `init(weight:bias:…)`).
  public var givenWeight: Tensor<Float>?
  /// The bias given to `init(weight:bias:…)`, or nil.
  public var givenBias: Tensor<Float>?

  /// A dense layer with `units` outputs, whose weights the initializers draw.
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

  /// A dense layer with given values: `weight` is `[units, in]` (PyTorch's layout), `bias` is
  /// `[units]` or nil for none.
  public init(weight: Tensor<Float>, bias: Tensor<Float>? = nil, activation: UnaryFunction? = nil, name: String? = nil) {
    self.init(weight.shape.first ?? 0, bias: bias != nil, activation: activation, name: name)
    givenWeight = weight
    givenBias = bias
  }

  /// Adds the dense layer (and its activation) after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "dense") { layer in
      guard x.rank >= 1 else { throw KilnError.shape(node: layer, op: "Dense", message: "input must be [N, features], got \(x.type)") }
      let weight = try b.parameter("weight", shape: [units, x.shape[x.rank - 1]], initializer: weightInitializer, given: givenWeight)
      let bias = useBias ? [try b.parameter("bias", shape: [units], initializer: biasInitializer, given: givenBias)] : []
      return try b.activation(try b.add(layer, .dense(DenseAttrs()), [x, weight] + bias), activation)
    }
  }
}

/// Embedding lookup for text models: i32 token ids `[N, L]` → `[N, L, dim]`, table
/// `[vocabulary, dim]` (`<layer>.weight`, normal(1) initialised as in PyTorch).
public struct Embedding: Layer {
  /// The number of rows of the table: token ids run from 0 to `vocabulary` − 1.
  public var vocabulary: Int
  /// The length of each embedding vector.
  public var dim: Int
  /// The layer's name, which scopes its table (`embedding1.weight`); nil for a fresh one.
  public var name: String?
  /// Values for the table instead of its initializer (see `init(table:name:)`).
  public var givenTable: Tensor<Float>?

  /// An embedding table of `vocabulary` rows of `dim` values.
  public init(vocabulary: Int, dim: Int, name: String? = nil) {
    self.vocabulary = vocabulary
    self.dim = dim
    self.name = name
  }

  /// An embedding with a given table `[vocabulary, dim]`.
  public init(table: Tensor<Float>, name: String? = nil) {
    self.init(vocabulary: table.shape.first ?? 0, dim: table.shape.dropFirst().first ?? 0, name: name)
    givenTable = table
  }

  /// Adds the lookup of the token ids `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "embedding") { layer in
      let table = try b.parameter("weight", shape: [vocabulary, dim], initializer: .normal(std: 1), given: givenTable)
      return try b.add(layer, .embedding(EmbeddingAttrs()), [x, table])
    }
  }
}
