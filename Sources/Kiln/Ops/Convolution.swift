/// The input and weight of a (transposed) convolution, after the checks both share.
private func convolutionOperands(_ inputs: [TensorType], groups: Int) throws -> (TensorType, TensorType) {
  try requireInputs(inputs, 2...3)
  let (x, w) = (inputs[0], inputs[1])
  try requireFloat(x, "input")
  try require((3...5).contains(x.rank), "input must be [N, C, *spatial] with 1 to 3 spatial axes, got \(x)")
  try require(w.rank == x.rank, "weight \(w) must have rank \(x.rank) to match input \(x)")
  try require(groups >= 1, "groups must be at least 1, got \(groups)")
  return (x, w)
}

/// Convolution over 1, 2 or 3 spatial axes (cross-correlation, as in every framework).
///
/// Inputs: `x` `[N, C_in, *spatial]`, `weight` `[C_out, C_in / groups, *kernel]`, optional
/// `bias` `[C_out]`. Output `[N, C_out, *out]` with out = floor((in + pads − d·(k − 1) − 1) / s) + 1.
/// `groups == C_in == C_out` is a depthwise convolution.
public struct ConvAttrs: OpAttributes {
  /// The step between windows per spatial axis.
  public var stride: [Int]
  /// The padding before and after each spatial axis.
  public var padding: Padding
  /// What the padding holds.
  public var paddingMode: PaddingMode
  /// The spacing of the kernel's taps per spatial axis.
  public var dilation: [Int]
  /// How many groups the channels are split into (1: a full convolution).
  public var groups: Int

  /// A convolution with these window settings.
  public init(
    stride: [Int], padding: Padding, paddingMode: PaddingMode = .zero, dilation: [Int],
    groups: Int = 1
  ) {
    self.stride = stride
    self.padding = padding
    self.paddingMode = paddingMode
    self.dilation = dilation
    self.groups = groups
  }

  func window(kernel: [Int]) -> Window {
    Window(kernel: kernel, stride: stride, dilation: dilation, padding: padding)
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    let (x, w) = try convolutionOperands(inputs, groups: groups)
    let (inChannels, outChannels) = (x.shape[1], w.shape[0])
    try require(
      w.shape[1] * groups == inChannels,
      "input has \(inChannels) channels, weight expects \(w.shape[1] * groups)"
        + (groups > 1 ? " (\(w.shape[1]) per group × \(groups) groups)" : ""))
    try require(
      outChannels % groups == 0,
      "\(outChannels) output channels do not divide into \(groups) groups")
    if inputs.count == 3 {
      try require(inputs[2].shape == [outChannels], "bias \(inputs[2]) must be [\(outChannels)]")
    }
    let spatial = Array(x.shape[2...])
    let window = window(kernel: Array(w.shape[2...]))
    try window.validate(spatialRank: spatial.count)
    for (i, size) in spatial.enumerated() {
      try paddingMode.validate(
        before: padding.before[i], after: padding.after[i], size: size, axis: "spatial axis \(i)")
    }
    return TensorType([x.shape[0], outChannels] + (try window.outputSizes(spatial)))
  }

  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int {
    // Every output element sums C_in/groups × kernel products.
    output.elementCount * inputs[1].shape[1...].reduce(1, *)
  }

  public var attributeText: [String] {
    var text = ["stride=\(formatList(stride))", "pad=\(padding.text)"]
    if paddingMode != .zero { text.append("mode=\(paddingMode.rawValue)") }
    if dilation.contains(where: { $0 != 1 }) { text.append("dilation=\(formatList(dilation))") }
    if groups != 1 { text.append("groups=\(groups)") }
    return text
  }
}

/// Transposed convolution ("deconvolution"): the adjoint of `ConvAttrs` with the same stride,
/// padding, dilation and groups, plus `outputPadding` to pick among the input sizes a strided
/// convolution maps to the same output size.
///
/// Inputs: `x` `[N, C_in, *spatial]`, `weight` `[C_in, C_out / groups, *kernel]` (PyTorch layout),
/// optional `bias` `[C_out]`. Output size (in − 1)·s − pads + d·(k − 1) + outputPadding + 1.
public struct ConvTransposeAttrs: OpAttributes {
  /// The upsampling factor per spatial axis.
  public var stride: [Int]
  /// The padding removed from the output before and after each spatial axis.
  public var padding: Padding
  /// Extra size added to the end of each spatial axis of the output.
  public var outputPadding: [Int]
  /// The spacing of the kernel's taps per spatial axis.
  public var dilation: [Int]
  /// How many groups the channels are split into.
  public var groups: Int

  /// A transposed convolution with these window settings.
  public init(
    stride: [Int], padding: Padding, outputPadding: [Int], dilation: [Int], groups: Int = 1
  ) {
    self.stride = stride
    self.padding = padding
    self.outputPadding = outputPadding
    self.dilation = dilation
    self.groups = groups
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    let (x, w) = try convolutionOperands(inputs, groups: groups)
    try require(
      w.shape[0] == x.shape[1],
      "input has \(x.shape[1]) channels, weight expects \(w.shape[0])")
    try require(x.shape[1] % groups == 0, "\(x.shape[1]) input channels do not divide into \(groups) groups")
    let outChannels = w.shape[1] * groups
    if inputs.count == 3 {
      try require(inputs[2].shape == [outChannels], "bias \(inputs[2]) must be [\(outChannels)]")
    }
    let spatial = Array(x.shape[2...])
    let kernel = Array(w.shape[2...])
    try Window(kernel: kernel, stride: stride, dilation: dilation, padding: padding)
      .validate(spatialRank: spatial.count)
    try require(outputPadding.count == spatial.count, "output padding has \(outputPadding.count) entries for \(spatial.count) spatial axes")
    var out: [Int] = []
    for i in spatial.indices {
      try require(
        outputPadding[i] >= 0 && (outputPadding[i] < stride[i] || outputPadding[i] < dilation[i]),
        "output padding \(outputPadding[i]) must be smaller than the stride \(stride[i]) or the dilation \(dilation[i])")
      let (spread, overflow) = (spatial[i] - 1).multipliedReportingOverflow(by: stride[i])
      try require(!overflow && spread <= Checked.maximumElements, "output along spatial axis \(i) would have more than 2^48 elements")
      try require(outputPadding[i] <= Window.maximumAttribute, "output padding \(outputPadding[i]) must be at most 2^24")
      let size = spread - padding.before[i] - padding.after[i] + dilation[i] * (kernel[i] - 1) + outputPadding[i] + 1
      try require(size >= 1, "output would be empty along spatial axis \(i): the padding \(padding.before[i])+\(padding.after[i]) removes everything")
      out.append(size)
    }
    return TensorType([x.shape[0], outChannels] + out)
  }

  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int {
    // Every input element scatters into C_out/groups × kernel outputs.
    inputs[0].elementCount * inputs[1].shape[1...].reduce(1, *)
  }

  public var attributeText: [String] {
    var text = ["stride=\(formatList(stride))", "pad=\(padding.text)"]
    if outputPadding.contains(where: { $0 != 0 }) { text.append("output_pad=\(formatList(outputPadding))") }
    if dilation.contains(where: { $0 != 1 }) { text.append("dilation=\(formatList(dilation))") }
    if groups != 1 { text.append("groups=\(groups)") }
    return text
  }
}
