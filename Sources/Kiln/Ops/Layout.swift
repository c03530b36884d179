/// Joins its inputs along `axis`; all other axes must agree (inception and dense-block concat).
public struct ConcatAttrs: OpAttributes {
  /// The axis the inputs are joined along.
  public var axis: Int

  /// A concatenation along `axis`.
  public init(axis: Int) { self.axis = axis }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try require(!inputs.isEmpty, "expects at least one input")
    let first = inputs[0]
    try require(axis >= 0 && axis < first.rank, "axis \(axis) is outside \(first)")
    var shape = first.shape
    for other in inputs.dropFirst() {
      try require(other.dtype == first.dtype, "inputs mix \(first.dtype) and \(other.dtype)")
      try require(
        other.rank == first.rank
          && (0..<first.rank).allSatisfy { $0 == axis || other.shape[$0] == first.shape[$0] },
        "input \(other) does not match \(first) outside axis \(axis)")
      shape[axis] += other.shape[axis]
    }
    return TensorType(shape, first.dtype)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }

  public var attributeText: [String] { ["axis=\(axis)"] }
}

/// Elements `start, start + step, … < end` of one axis (split is several slices).
public struct SliceAttrs: OpAttributes {
  /// The axis sliced.
  public var axis: Int
  /// The first index kept.
  public var start: Int
  /// The index the slice stops before (after, for a negative step).
  public var end: Int
  /// The distance between kept indices; negative walks backwards.
  public var step: Int

  /// Indices `start`, `start + step`, … before `end` along `axis`.
  public init(axis: Int, start: Int, end: Int, step: Int = 1) {
    self.axis = axis
    self.start = start
    self.end = end
    self.step = step
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try require(axis >= 0 && axis < x.rank, "axis \(axis) is outside \(x)")
    try require(step >= 1, "step must be at least 1, got \(step)")
    try require(
      0 <= start && start < end && end <= x.shape[axis],
      "range \(start)..<\(end) is empty or outside axis \(axis) of size \(x.shape[axis])")
    var shape = x.shape
    shape[axis] = (end - start + step - 1) / step
    return TensorType(shape, x.dtype)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }

  public var attributeText: [String] {
    ["axis=\(axis)", "range=\(start)..<\(end)"] + (step == 1 ? [] : ["step=\(step)"])
  }
}

/// The same elements in row-major order with a new shape (flatten is a reshape).
public struct ReshapeAttrs: OpAttributes {
  /// The output shape.
  public var shape: [Int]

  /// A reshape to `shape`.
  public init(shape: [Int]) { self.shape = shape }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try require(shape.allSatisfy { $0 >= 1 }, "target shape \(shape) has a dimension below 1")
    try require(
      Checked.product(shape) == x.elementCount,
      "cannot reshape \(x) (\(x.elementCount) elements) to \(shape) (\(Checked.describeProduct(shape)) elements)")
    return TensorType(shape, x.dtype)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }

  public var attributeText: [String] { ["shape=\(formatList(shape))"] }
}

/// Permutes axes: output axis `i` is input axis `permutation[i]` (ShuffleNet's channel shuffle).
public struct TransposeAttrs: OpAttributes {
  /// Output axis i is input axis `permutation[i]`.
  public var permutation: [Int]

  /// A transpose by `permutation`.
  public init(permutation: [Int]) { self.permutation = permutation }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try require(
      permutation.sorted() == Array(0..<x.rank),
      "\(permutation) is not a permutation of the \(x.rank) axes of \(x)")
    return TensorType(permutation.map { x.shape[$0] }, x.dtype)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }

  public var attributeText: [String] { ["perm=\(permutation.map(String.init).joined(separator: ","))"] }
}

/// Pads every axis: `before[i]`/`after[i]` elements, made up as `mode` says.
public struct PadAttrs: OpAttributes {
  /// Padding before each axis.
  public var before: [Int]
  /// Padding after each axis.
  public var after: [Int]
  /// What the padding holds.
  public var mode: PaddingMode

  /// Padding of each axis by `before` and `after` elements, as `mode` says.
  public init(before: [Int], after: [Int], mode: PaddingMode = .zero) {
    self.before = before
    self.after = after
    self.mode = mode
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require(
      before.count == x.rank && after.count == x.rank,
      "padding has \(before.count)/\(after.count) entries for the \(x.rank) axes of \(x)")
    try require((before + after).allSatisfy { $0 >= 0 && $0 <= Checked.maximumElements }, "padding must be between 0 and 2^48")
    for axis in 0..<x.rank {
      try mode.validate(before: before[axis], after: after[axis], size: x.shape[axis], axis: "axis \(axis)")
    }
    return TensorType((0..<x.rank).map { x.shape[$0] + before[$0] + after[$0] })
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }

  public var attributeText: [String] {
    ["pad=\(formatList(before))/\(formatList(after))", "mode=\(mode.rawValue)"]
  }
}
