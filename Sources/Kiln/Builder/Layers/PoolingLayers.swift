/// Builds a pooling node; shared by `MaxPool` and `AvgPool`.
private func pool(
  _ x: Symbol, rank: Int, kind: PoolKind, kernel: Dims, stride: Dims?, padding: Dims, ceilMode: Bool,
  countIncludePad: Bool, dilation: Dims = 1, name: String?
) throws -> Symbol {
  let b = x.builder
  let op = (kind == .max ? "MaxPool" : "AvgPool") + "\(rank)D"
  return try b.layer(name, prefix: kind == .max ? "max_pool" : "avg_pool") { layer in
    try b.requireRank(x, rank + 2, layer: layer, op: op, layout: spatialLayout(rank))
    let kernel = try kernel.expanded(to: rank, "kernel", layer: layer)
    let pads = try padding.expanded(to: rank, "padding", layer: layer)
    let attrs = PoolAttrs(
      kind: kind, kernel: kernel, stride: try (stride ?? Dims(kernel)).expanded(to: rank, "stride", layer: layer),
      padding: Padding(before: pads, after: pads), ceilMode: ceilMode, countIncludePad: countIncludePad,
      dilation: try dilation.expanded(to: rank, "dilation", layer: layer))
    return try b.add(layer, .pool(attrs), [x])
  }
}

/// Max pooling over `Rank` spatial axes (`MaxPool1D/2D/3D`); the stride defaults to the kernel.
/// Padding counts as −∞; `dilation` spaces the taps apart. `MaxPool2D(2)` halves height and width.
public struct MaxPool<Rank: SpatialRank>: Layer {
  /// The window size per spatial axis.
  public var kernel: Dims
  /// The step between windows per spatial axis; nil for the kernel size.
  public var stride: Dims?
  /// The padding before and after each spatial axis (it never wins a window).
  public var padding: Dims
  /// The spacing of the window's taps per spatial axis.
  public var dilation: Dims
  /// Whether output sizes round up.
  public var ceilMode: Bool
  /// The layer's name; nil for a fresh `max_pool<n>`.
  public var name: String?

  /// Max pooling over windows of size `kernel`.
  public init(_ kernel: any DimsConvertible, stride: (any DimsConvertible)? = nil, padding: any DimsConvertible = 0, dilation: any DimsConvertible = 1, ceilMode: Bool = false, name: String? = nil) {
    self.kernel = kernel.dims
    self.stride = stride?.dims
    self.padding = padding.dims
    self.dilation = dilation.dims
    self.ceilMode = ceilMode
    self.name = name
  }

  /// Adds the pooling after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    try pool(
      x, rank: Rank.count, kind: .max, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
      countIncludePad: true, dilation: dilation, name: name)
  }
}

/// Average pooling over `Rank` spatial axes (`AvgPool1D/2D/3D`); the stride defaults to the kernel.
/// With `countIncludePad` (the default, as PyTorch) padding counts in the divisor.
public struct AvgPool<Rank: SpatialRank>: Layer {
  /// The window size per spatial axis.
  public var kernel: Dims
  /// The step between windows per spatial axis; nil for the kernel size.
  public var stride: Dims?
  /// The zero padding before and after each spatial axis.
  public var padding: Dims
  /// Whether output sizes round up.
  public var ceilMode: Bool
  /// Whether padding counts in the divisor.
  public var countIncludePad: Bool
  /// The layer's name; nil for a fresh `avg_pool<n>`.
  public var name: String?

  /// Average pooling over windows of size `kernel`.
  public init(
    _ kernel: any DimsConvertible, stride: (any DimsConvertible)? = nil, padding: any DimsConvertible = 0, ceilMode: Bool = false,
    countIncludePad: Bool = true, name: String? = nil
  ) {
    self.kernel = kernel.dims
    self.stride = stride?.dims
    self.padding = padding.dims
    self.ceilMode = ceilMode
    self.countIncludePad = countIncludePad
    self.name = name
  }

  /// Adds the pooling after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    try pool(
      x, rank: Rank.count, kind: .average, kernel: kernel, stride: stride, padding: padding,
      ceilMode: ceilMode, countIncludePad: countIncludePad, name: name)
  }
}

/// Max pooling over one spatial axis.
public typealias MaxPool1D = MaxPool<Spatial1>
/// Max pooling over two spatial axes.
public typealias MaxPool2D = MaxPool<Spatial2>
/// Max pooling over three spatial axes.
public typealias MaxPool3D = MaxPool<Spatial3>
/// Average pooling over one spatial axis.
public typealias AvgPool1D = AvgPool<Spatial1>
/// Average pooling over two spatial axes.
public typealias AvgPool2D = AvgPool<Spatial2>
/// Average pooling over three spatial axes.
public typealias AvgPool3D = AvgPool<Spatial3>

/// Global average or max pooling, `[N, C, *spatial]` → `[N, C, 1, …]`; follow it with `Flatten()`.
public struct GlobalPool: Layer {
  /// Whether the pool keeps the maximum or the average.
  public var kind: PoolKind
  /// The layer's name; nil for a fresh `global_max_pool<n>` or `global_avg_pool<n>`.
  public var name: String?

  /// A global pool of kind `kind`.
  public init(_ kind: PoolKind, name: String? = nil) {
    self.kind = kind
    self.name = name
  }

  /// Adds the pooling after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    try x.builder.singleNode(
      name, prefix: kind == .max ? "global_max_pool" : "global_avg_pool", .globalPool(GlobalPoolAttrs(kind: kind)), x)
  }
}
