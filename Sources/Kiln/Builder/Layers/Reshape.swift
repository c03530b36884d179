/// `[N, …]` → `[N, ∏…]`, between convolutional features and dense layers.
public struct Flatten: Layer {
  /// The layer's name; nil for a fresh `flatten<n>`.
  public var name: String?

  /// A layer that flattens all axes but the first.
  public init(name: String? = nil) { self.name = name }

  /// Adds the reshape after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let shape = [x.shape.first ?? 1, x.shape.dropFirst().reduce(1, *)]
    return try x.builder.singleNode(name, prefix: "flatten", .reshape(ReshapeAttrs(shape: shape)), x)
  }
}

/// Reshapes each sample: `[N, …]` → `[N] + shape`; one entry of `shape` may be −1.
public struct Reshape: Layer {
  /// The shape of each sample (the batch axis is kept).
  public var shape: [Int]
  /// The layer's name; nil for a fresh `reshape<n>`.
  public var name: String?

  /// A layer that reshapes each sample to `shape`.
  public init(_ shape: [Int], name: String? = nil) {
    self.shape = shape
    self.name = name
  }

  /// Adds the reshape after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    var target = [x.shape[0]] + shape
    let known = target.filter { $0 != -1 }.reduce(1, *)
    if let hole = target.firstIndex(of: -1), known > 0 { target[hole] = x.type.elementCount / known }
    return try x.builder.singleNode(name, prefix: "reshape", .reshape(ReshapeAttrs(shape: target)), x)
  }
}

/// Pads the spatial axes of `[N, C, *spatial]` by `padding` on both sides, made up as `mode` says:
/// `Pad(2)` turns a 28×28 image into 32×32.
public struct Pad: Layer {
  /// The padding on both sides of each spatial axis.
  public var padding: Dims
  /// What the padding holds.
  public var mode: PaddingMode
  /// The layer's name; nil for a fresh `pad<n>`.
  public var name: String?

  /// A layer that pads each spatial axis by `padding` on both sides, as `mode` says.
  public init(_ padding: any DimsConvertible, mode: PaddingMode = .zero, name: String? = nil) {
    self.padding = padding.dims
    self.mode = mode
    self.name = name
  }

  /// Adds the padding after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let spatial = try padding.expanded(to: max(x.rank - 2, 0), "padding", layer: name ?? "pad")
    let pads = [0, 0] + spatial
    return try x.builder.singleNode(name, prefix: "pad", .pad(PadAttrs(before: pads, after: pads, mode: mode)), x)
  }
}
