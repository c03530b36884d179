/// Sizes computed from input — shapes in model, weight and data files, ONNX attributes,
/// command-line options — are combined here, where overflow is an error instead of a trap. The
/// graph refuses any tensor of more than `maximumElements`, so arithmetic on the sizes of a
/// built graph (bytes, offsets, strides) cannot overflow.
public enum Checked {
  /// The most elements a tensor may have (2^48, a petabyte of floats).
  public static let maximumElements = 1 << 48

  /// The product of `values`, or nil when one is negative or the product overflows.
  public static func product(_ values: some Sequence<Int>) -> Int? {
    var result = 1
    for value in values {
      guard value >= 0 else { return nil }
      let (product, overflow) = result.multipliedReportingOverflow(by: value)
      if overflow { return nil }
      result = product
    }
    return result
  }

  /// The sum of `values`, or nil when it overflows.
  public static func sum(_ values: some Sequence<Int>) -> Int? {
    var result = 0
    for value in values {
      let (sum, overflow) = result.addingReportingOverflow(value)
      if overflow { return nil }
      result = sum
    }
    return result
  }

  /// The product of `values` as text for messages: the number, or "more than 2^63".
  public static func describeProduct(_ values: [Int]) -> String {
    product(values).map(String.init) ?? "more than 2^63"
  }

  /// The number of elements of `shape`, or nil when a dimension is negative or the count exceeds
  /// `maximumElements`.
  public static func elementCount(_ shape: [Int]) -> Int? {
    product(shape).flatMap { $0 <= maximumElements ? $0 : nil }
  }

  /// The number of elements of `shape`, or an error naming `what` when a dimension is negative or
  /// the count exceeds `maximumElements`.
  public static func elementCount(_ shape: [Int], of what: @autoclosure () -> String) throws -> Int {
    guard let count = elementCount(shape) else {
      throw KilnError.invalidArgument("\(what()) has shape \(shape), which is negative or more than 2^48 elements")
    }
    return count
  }
}
