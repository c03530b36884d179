/// How a reduction combines the elements it covers.
public enum ReduceKind: String, Codable, Hashable, Sendable {
  /// The sum.
  case sum
  /// The mean.
  case mean
  /// The largest element (NaN if any is).
  case max
  /// The biased variance: the mean of the squared deviations from the mean.
  case variance
}

/// Reduces `axes` (sorted, distinct) of the input, keeping them as size-1 axes if `keepDims`.
public struct ReduceAttrs: OpAttributes {
  /// How the elements combine.
  public var kind: ReduceKind
  /// The axes reduced, sorted and distinct.
  public var axes: [Int]
  /// Whether reduced axes stay as size-1 axes.
  public var keepDims: Bool

  /// A reduction of `axes` by `kind`.
  public init(_ kind: ReduceKind, axes: [Int], keepDims: Bool = false) {
    self.kind = kind
    self.axes = axes
    self.keepDims = keepDims
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require(
      axes == Array(Set(axes)).sorted() && axes.allSatisfy { $0 >= 0 && $0 < x.rank },
      "axes \(axes) must be distinct, sorted and inside \(x)")
    var shape: [Int] = []
    for (axis, size) in x.shape.enumerated() {
      if !axes.contains(axis) {
        shape.append(size)
      } else if keepDims {
        shape.append(1)
      }
    }
    return TensorType(shape)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { inputs[0].elementCount }

  public var attributeText: [String] {
    [kind.rawValue, "axes=\(axes.map(String.init).joined(separator: ","))"] + (keepDims ? ["keepdims"] : [])
  }
}
