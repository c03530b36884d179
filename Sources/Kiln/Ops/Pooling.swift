/// Which value a pooling window keeps.
public enum PoolKind: String, Codable, Hashable, Sendable {
  /// The largest element of the window.
  case max
  /// The mean of the window.
  case average
}

/// Max or average pooling over 1, 2 or 3 spatial axes of `[N, C, *spatial]`.
///
/// Padding is never part of a max (it counts as −∞). Average pooling divides by the window size
/// including padding when `countIncludePad` is set (PyTorch's default), else by the number of
/// real elements in the window. In `ceilMode` output sizes round up, but a window never starts
/// in the right padding (PyTorch's rule). A `dilation` spaces a window's taps apart (ONNX's
/// pooling `dilations`; PyTorch's max pool); the average of a dilated window counts its taps.
public struct PoolAttrs: OpAttributes {
  /// Whether a window keeps its maximum or its average.
  public var kind: PoolKind
  /// The window size per spatial axis.
  public var kernel: [Int]
  /// The step between windows per spatial axis.
  public var stride: [Int]
  /// The padding before and after each spatial axis.
  public var padding: Padding
  /// Whether output sizes round up.
  public var ceilMode: Bool
  /// Whether padding counts in the divisor of an average.
  public var countIncludePad: Bool
  /// The spacing of a window's taps per spatial axis.
  public var dilation: [Int]

  /// A pooling with these window settings; no dilation unless given.
  public init(
    kind: PoolKind, kernel: [Int], stride: [Int], padding: Padding, ceilMode: Bool = false,
    countIncludePad: Bool = true, dilation: [Int]? = nil
  ) {
    self.kind = kind
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.ceilMode = ceilMode
    self.countIncludePad = countIncludePad
    self.dilation = dilation ?? kernel.map { _ in 1 }
  }

  /// Model files written before pooling had a dilation read as undilated.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    kind = try container.decode(PoolKind.self, forKey: .kind)
    kernel = try container.decode([Int].self, forKey: .kernel)
    stride = try container.decode([Int].self, forKey: .stride)
    padding = try container.decode(Padding.self, forKey: .padding)
    ceilMode = try container.decode(Bool.self, forKey: .ceilMode)
    countIncludePad = try container.decode(Bool.self, forKey: .countIncludePad)
    dilation = try container.decodeIfPresent([Int].self, forKey: .dilation) ?? kernel.map { _ in 1 }
  }

  var window: Window {
    Window(kernel: kernel, stride: stride, dilation: dilation, padding: padding)
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require((3...5).contains(x.rank), "input must be [N, C, *spatial] with 1 to 3 spatial axes, got \(x)")
    try window.validate(spatialRank: x.rank - 2)
    for i in kernel.indices {
      try require(
        padding.before[i] <= kernel[i] / 2 && padding.after[i] <= kernel[i] / 2,
        "padding \(padding.before[i])/\(padding.after[i]) must be at most half the kernel \(kernel[i])")
    }
    return TensorType(Array(x.shape[..<2]) + (try window.outputSizes(Array(x.shape[2...]), ceilMode: ceilMode)))
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int {
    output.elementCount * kernel.reduce(1, *)
  }

  public var attributeText: [String] {
    var text = ["kernel=\(formatList(kernel))", "stride=\(formatList(stride))", "pad=\(padding.text)"]
    if dilation.contains(where: { $0 != 1 }) { text.append("dilation=\(formatList(dilation))") }
    if ceilMode { text.append("ceil") }
    if kind == .average && !countIncludePad { text.append("exclude_pad") }
    return text
  }
}

/// Global max or average pooling: `[N, C, *spatial]` → `[N, C, 1, …, 1]`.
public struct GlobalPoolAttrs: OpAttributes {
  /// Whether the pool keeps the maximum or the average.
  public var kind: PoolKind

  /// A global pool of kind `kind`.
  public init(kind: PoolKind) { self.kind = kind }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require(x.rank >= 3, "input must be [N, C, *spatial], got \(x)")
    return TensorType(Array(x.shape[..<2]) + Array(repeating: 1, count: x.rank - 2))
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { inputs[0].elementCount }
}
