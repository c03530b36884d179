/// The element type of a tensor in the graph.
public enum DType: String, Codable, Hashable, Sendable {
  /// 32-bit float: activations, weights, losses.
  case f32
  /// 32-bit signed integer: class labels and embedding indices.
  case i32
}

/// The static type of a graph value: its shape (`[N, C, H, W]` for images) and element type.
public struct TensorType: Codable, Hashable, Sendable, CustomStringConvertible {
  /// The size of each axis.
  public var shape: [Int]
  /// The element type.
  public var dtype: DType

  /// The type of tensors of `shape` and element type `dtype`.
  public init(_ shape: [Int], _ dtype: DType = .f32) {
    self.shape = shape
    self.dtype = dtype
  }

  /// The number of axes.
  public var rank: Int { shape.count }
  /// The number of elements.
  public var elementCount: Int { shape.reduce(1, *) }

  /// `[1,6,28,28]`, with `:i32` appended for integer tensors.
  public var description: String {
    "[" + shape.map(String.init).joined(separator: ",") + "]" + (dtype == .f32 ? "" : ":\(dtype)")
  }
}
