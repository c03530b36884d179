import RealModule

/// The element types a `Tensor` holds: the floating-point `KilnScalar`s, and `Int32` for class
/// labels and token ids.
public protocol TensorScalar: Numeric, Codable, Sendable {}

/// The element types the reference interpreter runs in: `Float` (what compiled code uses) and
/// `Double` (for finite-difference gradient checks).
public protocol KilnScalar: TensorScalar, Real, BinaryFloatingPoint {}

extension Float: KilnScalar {}
extension Double: KilnScalar {}
extension Int32: TensorScalar {}

extension KilnScalar {
  /// Whether `b` replaces `a` as the first maximum of a sequence: it is larger, or it is the first
  /// NaN. Max pooling and its gradient pick windows' maxima with it, so a NaN wins its window.
  @inlinable static func isPreferredMaximum(_ b: Self, over a: Self) -> Bool { b > a || (b.isNaN && !a.isNaN) }

  /// The larger of `a` and `b`, NaN when either is: Kiln propagates NaN through ReLU, max
  /// pooling and max reductions as PyTorch and ONNX Runtime do, in the interpreter and in
  /// compiled code alike (`Swift.max` would keep or drop a NaN depending on its position).
  @inlinable static func propagatingMax(_ a: Self, _ b: Self) -> Self { b > a || b.isNaN ? b : a }

  /// The smaller of `a` and `b`, NaN when either is.
  @inlinable static func propagatingMin(_ a: Self, _ b: Self) -> Self { b < a || b.isNaN ? b : a }
}
