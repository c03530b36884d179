/// A fully connected layer: `x` `[…, in]`, `weight` `[out, in]` (PyTorch layout), optional
/// `bias` `[out]` → `[…, out]`.
public struct DenseAttrs: OpAttributes {
  /// A dense layer (it has no attributes).
  public init() {}

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...3)
    let (x, w) = (inputs[0], inputs[1])
    try requireFloat(x, "input")
    try require(x.rank >= 1, "input must have at least one axis")
    try require(w.rank == 2, "weight must be [out, in], got \(w)")
    try require(
      x.shape[x.rank - 1] == w.shape[1],
      "input has \(x.shape[x.rank - 1]) features, weight expects \(w.shape[1])"
        + (x.rank > 2 ? "; flatten the input first" : ""))
    if inputs.count == 3 {
      try require(inputs[2].shape == [w.shape[0]], "bias \(inputs[2]) must be [\(w.shape[0])]")
    }
    return TensorType(Array(x.shape.dropLast()) + [w.shape[0]])
  }

  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int {
    output.elementCount * inputs[1].shape[1]
  }
}

/// Batched matrix product: `a` `[…, M, K]` × `b` `[…, K, N]` → `[…, M, N]`, the batch axes
/// broadcast numpy-style.
public struct MatMulAttrs: OpAttributes {
  /// A matrix product (it has no attributes).
  public init() {}

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    let (a, b) = (inputs[0], inputs[1])
    try requireFloat(a, "a")
    try requireFloat(b, "b")
    try require(a.rank >= 2 && b.rank >= 2, "both operands need at least 2 axes, got \(a) and \(b)")
    let (m, k) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (k2, n) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    try require(k == k2, "a \(a) has \(k) columns but b \(b) has \(k2) rows")
    let batch = try broadcastShapes(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
    return TensorType(batch + [m, n])
  }

  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int {
    output.elementCount * inputs[0].shape[inputs[0].rank - 1]
  }
}

/// Embedding lookup: `indices` (i32, any shape), `table` `[vocabulary, dim]` → `[…, dim]`.
public struct EmbeddingAttrs: OpAttributes {
  /// An embedding lookup (it has no attributes).
  public init() {}

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    let (indices, table) = (inputs[0], inputs[1])
    try require(indices.dtype == .i32, "indices must be i32, got \(indices)")
    try require(table.rank == 2, "table must be [vocabulary, dim], got \(table)")
    try requireFloat(table, "table")
    return TensorType(indices.shape + [table.shape[1]])
  }
}
