/// A dense, row-major tensor of `Scalar`s with a static shape (`[N, C, H, W]` for images).
///
/// Integer inputs (class labels, token ids) are fed as `Tensor<Int32>` through the `integers:`
/// argument of `run`, `vjp` and `Trainer.step`, or as whole-number floats; the graph's
/// `TensorType` says which inputs are integers.
public struct Tensor<Scalar: TensorScalar>: Equatable, Sendable {
  /// The size of each axis.
  public private(set) var shape: [Int]
  /// The elements, row-major.
  public var scalars: [Scalar]

  /// A tensor of `shape` holding `scalars` in row-major order. Throws unless `scalars.count` is
  /// the product of `shape` (an empty shape is a scalar holding one element) and no dimension is
  /// negative.
  public init(shape: [Int], scalars: [Scalar]) throws {
    guard let count = Checked.product(shape), count == scalars.count else {
      throw KilnError.invalidArgument(
        "\(scalars.count) scalars do not fill shape \(shape) (\(Checked.product(shape).map { "\($0) elements" } ?? "a negative or overflowing size"))")
    }
    self.init(validShape: shape, scalars: scalars)
  }

  /// A tensor of `shape` with every element equal to `value`; throws on a negative dimension or
  /// more than `Checked.maximumElements` elements.
  public init(shape: [Int], repeating value: Scalar = 0) throws {
    let count = try Checked.elementCount(shape, of: "a tensor")
    self.init(validShape: shape, scalars: Array(repeating: value, count: count))
  }

  /// A tensor whose size is right by construction (the kernels' outputs); a mismatch is a bug in
  /// Kiln, caught by a precondition.
  init(validShape shape: [Int], scalars: [Scalar]) {
    precondition(Checked.product(shape) == scalars.count, "\(scalars.count) scalars do not fill shape \(shape)")
    self.shape = shape
    self.scalars = scalars
  }

  /// A tensor of `shape` filled with `value`, for sizes right by construction.
  init(validShape shape: [Int], repeating value: Scalar = 0) {
    self.init(validShape: shape, scalars: Array(repeating: value, count: shape.reduce(1, *)))
  }

  /// The number of elements.
  public var count: Int { scalars.count }
  /// The number of axes.
  public var rank: Int { shape.count }

  /// Row-major strides of `shape`, in elements.
  public var strides: [Int] { Tensor.strides(of: shape) }

  static func strides(of shape: [Int]) -> [Int] {
    var strides = Array(repeating: 1, count: shape.count)
    var step = 1
    for axis in shape.indices.reversed() {
      strides[axis] = step
      step *= shape[axis]
    }
    return strides
  }

  /// The element at a multi-dimensional index.
  public subscript(_ index: Int...) -> Scalar {
    get { scalars[offset(index)] }
    set { scalars[offset(index)] = newValue }
  }

  private func offset(_ index: [Int]) -> Int {
    precondition(index.count == rank, "index \(index) has the wrong rank for shape \(shape)")
    var result = 0
    for (axis, i) in index.enumerated() {
      precondition(i >= 0 && i < shape[axis], "index \(index) is outside shape \(shape)")
      result = result * shape[axis] + i
    }
    return result
  }

  /// The same scalars viewed with another shape; throws unless it has as many elements.
  public func reshaped(_ newShape: [Int]) throws -> Tensor {
    try Tensor(shape: newShape, scalars: scalars)
  }
}

extension Tensor where Scalar: KilnScalar {
  /// A tensor with the same shape whose scalars are converted from `other`.
  public init<Other: KilnScalar>(_ other: Tensor<Other>) {
    if let same = other as? Tensor<Scalar> {
      self = same
      return
    }
    self.init(validShape: other.shape, scalars: other.scalars.map { Scalar($0) })
  }

  /// Integers (labels, token ids) as whole-number scalars.
  public init(_ integers: Tensor<Int32>) {
    self.init(validShape: integers.shape, scalars: integers.scalars.map { Scalar($0) })
  }
}
