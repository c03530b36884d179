/// Per-axis sizes of a window layer, written `3` (the same on every spatial axis) or `[3, 5]`.
public struct Dims: ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, Hashable, Sendable {
  public var values: [Int]

  public init(_ values: [Int]) { self.values = values }
  /// The same size on every spatial axis.
  public init(_ value: Int) { values = [value] }
  public init(integerLiteral value: Int) { values = [value] }
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

/// How a convolution pads its input.
public enum ConvPadding: ExpressibleByIntegerLiteral, Hashable, Sendable {
  /// No padding.
  case valid
  /// Enough padding that the output size is ⌈input / stride⌉; an odd total puts the extra
  /// element after (TensorFlow's rule, PyTorch's for stride 1).
  case same
  /// The same padding before and after each axis.
  case symmetric(Dims)
  /// Explicit padding before and after each axis.
  case explicit(before: Dims, after: Dims)

  public init(integerLiteral value: Int) { self = .symmetric(Dims(integerLiteral: value)) }

  /// Explicit padding for a window over `input` sizes.
  func resolve(input: [Int], kernel: [Int], stride: [Int], dilation: [Int], layer: String) throws -> Padding {
    let rank = input.count
    switch self {
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
    case .symmetric(let pad):
      let pads = try pad.expanded(to: rank, "padding", layer: layer)
      return Padding(before: pads, after: pads)
    case .explicit(let before, let after):
      return Padding(
        before: try before.expanded(to: rank, "padding", layer: layer),
        after: try after.expanded(to: rank, "padding", layer: layer))
    }
  }
}

/// The number of spatial axes of a window layer (`Conv<Spatial2>` is `Conv2D`).
public protocol SpatialRank: Sendable {
  static var count: Int { get }
}

public enum Spatial1: SpatialRank { public static let count = 1 }
public enum Spatial2: SpatialRank { public static let count = 2 }
public enum Spatial3: SpatialRank { public static let count = 3 }
