/// Average pooling to a fixed output size, `[N, C, H, W]` → `[N, C, outH, outW]`, as PyTorch's
/// `AdaptiveAvgPool2d` (AlexNet and VGG end their features with one, so that inputs smaller than
/// 224×224 still fit the classifier). Output cell `i` of an axis averages input cells
/// ⌊i·in/out⌋ ..< ⌈(i+1)·in/out⌉.
///
/// Lowered to existing ops: nothing when the sizes match, one average pool when every input size
/// is a multiple of the output size, else per axis a slice and mean for every output cell, concatenated.
public struct AdaptiveAvgPool2D: Layer {
  /// The output height and width.
  public var output: Dims
  /// The layer's name; nil for a fresh `adaptive_avg_pool<n>`.
  public var name: String?

  /// An average pool to an `output` of this height and width (one size for both).
  public init(_ output: any DimsConvertible, name: String? = nil) {
    self.output = output.dims
    self.name = name
  }

  /// Adds the pooling after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    return try b.layer(name, prefix: "adaptive_avg_pool") { layer in
      try b.requireRank(x, 4, layer: layer, op: "AdaptiveAvgPool2D", layout: spatialLayout(2))
      let output = try self.output.expanded(to: 2, "output size", layer: layer)
      let input = Array(x.shape[2...])
      guard output.allSatisfy({ $0 >= 1 }) else {
        throw KilnError.shape(node: layer, op: "AdaptiveAvgPool2D", message: "output size \(output) must be positive")
      }
      if input == output { return x }
      if zip(input, output).allSatisfy({ $0 % $1 == 0 }) {
        let kernel = Dims(zip(input, output).map { $0 / $1 })
        return try x.apply(AvgPool2D(kernel, name: "pool"))
      }
      var y = x
      for (axis, (size, cells)) in zip(input, output).enumerated() where size != cells {
        let parts = try (0..<cells).map { i in
          let window = (i * size / cells)..<(((i + 1) * size + cells - 1) / cells)
          return try y.sliced(axis: axis + 2, window).reduced(.mean, axes: [axis + 2], keepDims: true)
        }
        y = try Symbol.concat(parts, axis: axis + 2)
      }
      return y
    }
  }
}
