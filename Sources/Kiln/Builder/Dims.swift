/// Per-axis sizes of a window layer, written `3` (the same on every spatial axis) or `[3, 5]`.
/// Layers take any `DimsConvertible`, so an `Int` or `[Int]` held in a variable works too.
public struct Dims: ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, Hashable, Sendable {
  /// One size per spatial axis, or one size for all of them.
  public var values: [Int]

  /// The sizes of each spatial axis.
  public init(_ values: [Int]) { self.values = values }
  /// The same size on every spatial axis.
  public init(_ value: Int) { values = [value] }
  /// The same size on every spatial axis, written as a literal: `3`.
  public init(integerLiteral value: Int) { values = [value] }
  /// The sizes of each spatial axis, written as a literal: `[3, 5]`.
  public init(arrayLiteral elements: Int...) { values = elements }

  /// The sizes for `rank` spatial axes: a single value repeats; otherwise the count must match.
  func expanded(to rank: Int, _ what: String, layer: String) throws -> [Int] {
    if values.count == 1 { return Array(repeating: values[0], count: rank) }
    guard values.count == rank else {
      throw KilnError.invalidArgument("\(layer): \(what) \(values) has \(values.count) entries for \(rank) spatial axes")
    }
    return values
  }
}

/// What a window layer's sizes can be given as: `Dims`, an `Int` (every axis) or an `[Int]` (one
/// per axis), as literals or in variables: `Conv2D(16, kernel: k, stride: [1, 2])`.
public protocol DimsConvertible: Sendable {
  /// The sizes as `Dims`.
  var dims: Dims { get }
}

extension Dims: DimsConvertible {
  /// Itself.
  public var dims: Dims { self }
}

extension Int: DimsConvertible {
  /// This size on every spatial axis.
  public var dims: Dims { Dims(self) }
}

extension Array: DimsConvertible where Element == Int {
  /// One size per spatial axis.
  public var dims: Dims { Dims(self) }
}

/// How a convolution pads its input: `.valid`, `.same`, `.symmetric(p)`,
/// `.explicit(before:after:)`, or simply an `Int` or `[Int]` (symmetric padding).
public struct ConvPadding: ConvPaddingConvertible, ExpressibleByIntegerLiteral, Hashable, Sendable {
  enum Rule: Hashable, Sendable {
    case valid
    case same
    case explicit(before: Dims, after: Dims)
  }

  let rule: Rule

  init(_ rule: Rule) { self.rule = rule }

  /// The same padding before and after every spatial axis, written as a literal: `1`.
  public init(integerLiteral value: Int) { rule = .explicit(before: Dims(value), after: Dims(value)) }

  /// Itself.
  public var convPadding: ConvPadding { self }

  /// Explicit padding for a window over `input` sizes.
  func resolve(input: [Int], kernel: [Int], stride: [Int], dilation: [Int], layer: String) throws -> Padding {
    let rank = input.count
    switch rule {
    case .valid:
      return .symmetric(0, rank: rank)
    case .same:
      var padding = Padding.symmetric(0, rank: rank)
      for i in 0..<rank {
        let output = (input[i] + stride[i] - 1) / stride[i]
        let total = max((output - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - input[i], 0)
        padding.before[i] = total / 2
        padding.after[i] = total - total / 2
      }
      return padding
    case .explicit(let before, let after):
      return Padding(
        before: try before.expanded(to: rank, "padding", layer: layer),
        after: try after.expanded(to: rank, "padding", layer: layer))
    }
  }
}

/// What a convolution's padding can be given as: a `ConvPadding` (`.same`, `.valid`, …), or an
/// `Int` or `[Int]` for the same padding before and after each axis, as literals or in variables.
public protocol ConvPaddingConvertible: Sendable {
  /// The padding as a `ConvPadding`.
  var convPadding: ConvPadding { get }
}

extension ConvPaddingConvertible where Self == ConvPadding {
  /// No padding.
  public static var valid: ConvPadding { ConvPadding(.valid) }
  /// Enough padding that the output size is ⌈input / stride⌉; an odd total puts the extra
  /// element after (TensorFlow's rule, PyTorch's for stride 1).
  public static var same: ConvPadding { ConvPadding(.same) }
  /// The same padding before and after each axis.
  public static func symmetric(_ padding: any DimsConvertible) -> ConvPadding {
    ConvPadding(.explicit(before: padding.dims, after: padding.dims))
  }
  /// Explicit padding before and after each axis.
  public static func explicit(before: any DimsConvertible, after: any DimsConvertible) -> ConvPadding {
    ConvPadding(.explicit(before: before.dims, after: after.dims))
  }
}

extension Int: ConvPaddingConvertible {
  /// This padding before and after every spatial axis.
  public var convPadding: ConvPadding { .symmetric(self) }
}

extension Array: ConvPaddingConvertible where Element == Int {
  /// This padding before and after each spatial axis.
  public var convPadding: ConvPadding { .symmetric(self) }
}

/// The number of spatial axes of a window layer (`Conv<Spatial2>` is `Conv2D`).
public protocol SpatialRank: Sendable {
  /// How many spatial axes.
  static var count: Int { get }
}

/// One spatial axis: sequences, `[N, C, W]`.
public enum Spatial1: SpatialRank {
  /// One.
  public static let count = 1
}

/// Two spatial axes: images, `[N, C, H, W]`.
public enum Spatial2: SpatialRank {
  /// Two.
  public static let count = 2
}

/// Three spatial axes: volumes and clips, `[N, C, D, H, W]`.
public enum Spatial3: SpatialRank {
  /// Three.
  public static let count = 3
}
