/// How values beyond the edge of a tensor are made up when it is padded.
public enum PaddingMode: String, Codable, Hashable, Sendable, CaseIterable {
  /// Zeros (the usual convolution padding).
  case zero
  /// The nearest edge value repeated: `abc` → `aa|abc|cc`.
  case replicate
  /// Mirrored without repeating the edge: `abc` → `cb|abc|ba`. Needs padding < size.
  case reflect
  /// Wrapped around: `abc` → `bc|abc|ab`. Needs padding ≤ size.
  case circular

  /// The source index for position `i` (which may lie in the padding) of an axis of `size`
  /// elements, or nil for a zero. Assumes the padding is within the limits of the mode.
  @inline(__always)
  func source(_ i: Int, size: Int) -> Int? {
    if i >= 0 && i < size { return i }
    switch self {
    case .zero: return nil
    case .replicate: return i < 0 ? 0 : size - 1
    case .reflect:
      let period = 2 * (size - 1)
      if period == 0 { return 0 }
      var j = i % period
      if j < 0 { j += period }
      return j < size ? j : period - j
    case .circular:
      var j = i % size
      if j < 0 { j += size }
      return j
    }
  }

  /// Checks that `before`/`after` padding is possible for an axis of `size` in this mode.
  func validate(before: Int, after: Int, size: Int, axis: String) throws {
    switch self {
    case .zero:
      return
    case .replicate:
      try require(size > 0, "replicate padding of an empty \(axis)")
    case .reflect:
      try require(
        before < size && after < size,
        "reflect padding \(before)/\(after) must be smaller than the \(axis) size \(size); "
          + "use replicate padding or a smaller pad")
    case .circular:
      try require(
        before <= size && after <= size,
        "circular padding \(before)/\(after) must not exceed the \(axis) size \(size)")
    }
  }
}

/// Explicit padding of the spatial axes of a window op: `before[i]` elements before and
/// `after[i]` after spatial axis `i` (D, H, W order).
public struct Padding: Codable, Hashable, Sendable {
  /// Padding before each spatial axis.
  public var before: [Int]
  /// Padding after each spatial axis.
  public var after: [Int]

  /// Padding of `before` and `after` elements per spatial axis.
  public init(before: [Int], after: [Int]) {
    self.before = before
    self.after = after
  }

  /// The same padding on both sides of every one of `rank` spatial axes.
  public static func symmetric(_ pad: Int, rank: Int) -> Padding {
    Padding(before: Array(repeating: pad, count: rank), after: Array(repeating: pad, count: rank))
  }

  /// Whether no axis is padded.
  public var isNone: Bool { (before + after).allSatisfy { $0 == 0 } }

  var text: String {
    before == after ? formatList(before) : "\(formatList(before))/\(formatList(after))"
  }
}

/// The geometry of a sliding window along the spatial axes: kernel, stride, dilation, padding.
/// Shared by convolution and pooling.
struct Window: Sendable {
  var kernel: [Int]
  var stride: [Int]
  var dilation: [Int]
  var padding: Padding

  /// Checks the attribute lengths and values against `spatialRank` spatial axes.
  func validate(spatialRank: Int) throws {
    for (name, values) in [("kernel", kernel), ("stride", stride), ("dilation", dilation)] {
      try require(
        values.count == spatialRank,
        "\(name) has \(values.count) entries for \(spatialRank) spatial axes")
      try require(values.allSatisfy { $0 >= 1 }, "\(name) \(values) must be at least 1")
    }
    try require(
      padding.before.count == spatialRank && padding.after.count == spatialRank,
      "padding has \(padding.before.count)/\(padding.after.count) entries for \(spatialRank) spatial axes")
    try require(
      (padding.before + padding.after).allSatisfy { $0 >= 0 }, "padding must not be negative")
    try require(
      (kernel + stride + dilation + padding.before + padding.after).allSatisfy { $0 <= Window.maximumAttribute },
      "kernel \(kernel), stride \(stride), dilation \(dilation) and padding \(padding.text) must each be at most 2^24")
  }

  /// The largest kernel, stride, dilation or padding: far beyond any real window, and small
  /// enough that the arithmetic of output sizes cannot overflow.
  static let maximumAttribute = 1 << 24

  /// Output sizes, floor((in + pads − dilation·(k − 1) − 1) / stride) + 1 (or ceil in ceil mode,
  /// where the last window must still start inside the input or the left padding). Throws when
  /// an output would be empty.
  func outputSizes(_ input: [Int], ceilMode: Bool = false) throws -> [Int] {
    try input.indices.map { i in
      let span = dilation[i] * (kernel[i] - 1) + 1
      let room = input[i] + padding.before[i] + padding.after[i] - span
      try require(
        room >= 0,
        "output would be empty: spatial size \(input[i]) padded by "
          + "\(padding.before[i])+\(padding.after[i]) is smaller than the window \(span); "
          + "use a smaller kernel, more padding or a larger input")
      var out = (ceilMode ? (room + stride[i] - 1) / stride[i] : room / stride[i]) + 1
      if ceilMode && (out - 1) * stride[i] >= input[i] + padding.before[i] { out -= 1 }
      return out
    }
  }
}
