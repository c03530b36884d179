/// An activation as a layer of its own: `Activation(.relu)`, `Activation(.leakyReLU(slope: 0.1))`.
/// (Conv and dense layers also take `activation:` directly.)
public struct Activation: Layer {
  /// The function applied to every element.
  public var function: UnaryFunction
  /// The layer's name; nil for one named after the function.
  public var name: String?

  /// A layer applying `function` to every element.
  public init(_ function: UnaryFunction, name: String? = nil) {
    self.function = function
    self.name = name
  }

  /// Adds the activation after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    try x.builder.singleNode(name, prefix: function.name, .unary(UnaryAttrs(function)), x)
  }
}

/// Softmax (or log-softmax with `log: true`) along `axis` (default: the last).
public struct Softmax: Layer {
  /// The axis the probabilities sum to one along; negative counts from the end.
  public var axis: Int
  /// Whether the layer gives log-probabilities (log-softmax).
  public var log: Bool
  /// The layer's name; nil for a fresh `softmax<n>`.
  public var name: String?

  /// A softmax (or, with `log`, log-softmax) along `axis`.
  public init(axis: Int = -1, log: Bool = false, name: String? = nil) {
    self.axis = axis
    self.log = log
    self.name = name
  }

  /// Adds the softmax after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let attrs = SoftmaxAttrs(axis: try x.normalized(axis), log: log)
    return try x.builder.singleNode(name, prefix: log ? "log_softmax" : "softmax", .softmax(attrs), x)
  }
}

/// Maxout: the maximum over each run of `pieces` consecutive elements along `axis` (the
/// channels, axis 1, by default; −1 for the last axis), so `Dense(units · pieces)` followed by
/// `Maxout(pieces:)` is a maxout unit layer.
public struct Maxout: Layer {
  /// Elements per run.
  public var pieces: Int
  /// The axis whose runs are reduced; negative counts from the end.
  public var axis: Int
  /// The layer's name; nil for a fresh `maxout<n>`.
  public var name: String?

  /// A maxout over runs of `pieces` elements along `axis`.
  public init(pieces: Int, axis: Int = 1, name: String? = nil) {
    self.pieces = pieces
    self.axis = axis
    self.name = name
  }

  /// Adds the maxout after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    try x.builder.singleNode(name, prefix: "maxout", .maxout(MaxoutAttrs(pieces: pieces, axis: try x.normalized(axis))), x)
  }
}
