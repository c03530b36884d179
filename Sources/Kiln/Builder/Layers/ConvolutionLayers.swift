/// `[N, C, W]`, `[N, C, H, W]` or `[N, C, D, H, W]` for 1, 2 or 3 spatial axes.
func spatialLayout(_ rank: Int) -> String {
  "[N, C, " + ["D", "H", "W"].suffix(rank).joined(separator: ", ") + "]"
}

/// A convolution layer over `Rank` spatial axes; use `Conv1D`, `Conv2D` or `Conv3D`.
///
/// Input `[N, C_in, *spatial]`, output `[N, outChannels, *out]`, weight
/// `[outChannels, C_in / groups, *kernel]` named `<layer>.weight`, bias `<layer>.bias`.
///
/// ```swift
/// Conv2D(16, kernel: 3, padding: .same, activation: .relu)       // 3×3, 16 filters
/// Conv2D(32, kernel: 3, stride: 2, padding: 1, paddingMode: .reflect)
/// Conv2D.depthwise(kernel: 3, padding: 1)                        // groups = channels
/// Conv2D(weight: w, bias: b, padding: 1)                         // given weights [16, C, 3, 3]
/// ```
public struct Conv<Rank: SpatialRank>: Layer {
  /// How many output channels, and how the input channels are grouped.
  public enum Channels: Hashable, Sendable {
    /// `outChannels` filters, the input channels split into `groups`.
    case grouped(outChannels: Int, groups: Int)
    /// groups = input channels, `multiplier` outputs per input channel.
    case depthwise(multiplier: Int)
  }

  /// How many output channels, and how the input channels are grouped.
  public var channels: Channels
  /// The kernel size per spatial axis.
  public var kernel: Dims
  /// The step between windows per spatial axis.
  public var stride: Dims
  /// How the input is padded.
  public var padding: ConvPadding
  /// What the padding holds: zeros, or the replicated, reflected or wrapped input.
  public var paddingMode: PaddingMode
  /// The spacing of the kernel's taps per spatial axis.
  public var dilation: Dims
  /// Whether the layer adds a bias per output channel.
  public var useBias: Bool
  /// The function applied to the output, fused into the convolution when compiled; nil for none.
  public var activation: UnaryFunction?
  /// How the weight's first values are drawn.
  public var weightInitializer: Initializer
  /// How the bias's first values are drawn.
  public var biasInitializer: Initializer
  /// If set, the input must have this many channels (checked when the model is built).
  public var inChannels: Int?
  /// The layer's name, which scopes its parameters (`conv1.weight`); nil for a fresh `conv<n>`.
  public var name: String?
  /// Values for the weight and bias instead of the initializers (see `init(weight:bias:…)`).
  public var givenWeight: Tensor<Float>?
  /// The bias given to `init(weight:bias:…)`, or nil.
  public var givenBias: Tensor<Float>?

  /// A convolution with `outChannels` filters of size `kernel`, whose weights the initializers draw.
  public init(
    _ outChannels: Int, kernel: any DimsConvertible, stride: any DimsConvertible = 1, padding: any ConvPaddingConvertible = .valid,
    paddingMode: PaddingMode = .zero, dilation: any DimsConvertible = 1, groups: Int = 1, bias: Bool = true,
    activation: UnaryFunction? = nil, weightInitializer: Initializer = .heNormal,
    biasInitializer: Initializer = .zeros, inChannels: Int? = nil, name: String? = nil
  ) {
    self.channels = .grouped(outChannels: outChannels, groups: groups)
    self.kernel = kernel.dims
    self.stride = stride.dims
    self.padding = padding.convPadding
    self.paddingMode = paddingMode
    self.dilation = dilation.dims
    self.useBias = bias
    self.activation = activation
    self.weightInitializer = weightInitializer
    self.biasInitializer = biasInitializer
    self.inChannels = inChannels
    self.name = name
  }

  /// A convolution with given values: `weight` is `[outChannels, C_in / groups, *kernel]`
  /// (PyTorch's layout), `bias` is `[outChannels]` or nil for none.
  public init(
    weight: Tensor<Float>, bias: Tensor<Float>? = nil, stride: any DimsConvertible = 1, padding: any ConvPaddingConvertible = .valid,
    paddingMode: PaddingMode = .zero, dilation: any DimsConvertible = 1, groups: Int = 1, activation: UnaryFunction? = nil,
    name: String? = nil
  ) {
    self.init(
      weight.shape.first ?? 0, kernel: Array(weight.shape.dropFirst(2)), stride: stride, padding: padding,
      paddingMode: paddingMode, dilation: dilation, groups: groups, bias: bias != nil, activation: activation, name: name)
    givenWeight = weight
    givenBias = bias
  }

  /// A depthwise convolution: every input channel convolved with its own `multiplier` filters.
  public static func depthwise(
    kernel: any DimsConvertible, stride: any DimsConvertible = 1, padding: any ConvPaddingConvertible = .valid, paddingMode: PaddingMode = .zero,
    dilation: any DimsConvertible = 1, multiplier: Int = 1, bias: Bool = true, activation: UnaryFunction? = nil,
    name: String? = nil
  ) -> Conv {
    var conv = Conv(
      1, kernel: kernel, stride: stride, padding: padding, paddingMode: paddingMode,
      dilation: dilation, bias: bias, activation: activation, name: name)
    conv.channels = .depthwise(multiplier: multiplier)
    return conv
  }

  /// Adds the convolution (and its activation) after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    let op = "Conv\(Rank.count)D"
    return try b.layer(name, prefix: "conv") { layer in
      try b.requireRank(x, Rank.count + 2, layer: layer, op: op, layout: spatialLayout(Rank.count))
      let inputChannels = x.shape[1]
      if let inChannels, inChannels != inputChannels {
        throw KilnError.shape(node: layer, op: op, message: "input has \(inputChannels) channels, layer expects \(inChannels)")
      }
      let (outChannels, groups): (Int, Int)
      switch channels {
      case .grouped(let out, let g): (outChannels, groups) = (out, g)
      case .depthwise(let multiplier): (outChannels, groups) = (inputChannels * multiplier, inputChannels)
      }
      guard groups >= 1, inputChannels % groups == 0 else {
        throw KilnError.shape(node: layer, op: op, message: "\(inputChannels) input channels do not divide into \(groups) groups")
      }
      if let givenWeight, givenWeight.rank != Rank.count + 2 {
        throw KilnError.shape(
          node: layer, op: op, message: "the given weight \(TensorType(givenWeight.shape)) must be [out, in / groups, \(Rank.count) kernel sizes]")
      }
      let kernel = try kernel.expanded(to: Rank.count, "kernel", layer: layer)
      let stride = try stride.expanded(to: Rank.count, "stride", layer: layer)
      let dilation = try dilation.expanded(to: Rank.count, "dilation", layer: layer)
      let padding = try padding.resolve(
        input: Array(x.shape[2...]), kernel: kernel, stride: stride, dilation: dilation, layer: layer)
      let weight = try b.parameter(
        "weight", shape: [outChannels, inputChannels / groups] + kernel, initializer: weightInitializer, given: givenWeight)
      let bias = useBias ? [try b.parameter("bias", shape: [outChannels], initializer: biasInitializer, given: givenBias)] : []
      let attrs = ConvAttrs(stride: stride, padding: padding, paddingMode: paddingMode, dilation: dilation, groups: groups)
      return try b.activation(try b.add(layer, .conv(attrs), [x, weight] + bias), activation)
    }
  }
}

/// A convolution over one spatial axis: `[N, C, W]`.
public typealias Conv1D = Conv<Spatial1>
/// A convolution over two spatial axes: `[N, C, H, W]`.
public typealias Conv2D = Conv<Spatial2>
/// A convolution over three spatial axes: `[N, C, D, H, W]`.
public typealias Conv3D = Conv<Spatial3>

/// A transposed convolution layer over `Rank` spatial axes; use `ConvTranspose1D/2D/3D`.
///
/// Input `[N, C_in, *spatial]`, weight `[C_in, outChannels / groups, *kernel]`; output size per axis
/// (in − 1)·stride − 2·padding + dilation·(kernel − 1) + outputPadding + 1.
/// `ConvTranspose2D(16, kernel: 2, stride: 2)` doubles height and width.
public struct ConvTranspose<Rank: SpatialRank>: Layer {
  /// The number of output channels.
  public var outChannels: Int
  /// The kernel size per spatial axis.
  public var kernel: Dims
  /// The upsampling factor per spatial axis.
  public var stride: Dims
  /// The padding removed from both ends of each spatial axis of the output.
  public var padding: Dims
  /// Extra size added to the end of each spatial axis of the output.
  public var outputPadding: Dims
  /// The spacing of the kernel's taps per spatial axis.
  public var dilation: Dims
  /// How many groups the channels are split into.
  public var groups: Int
  /// Whether the layer adds a bias per output channel.
  public var useBias: Bool
  /// The function applied to the output; nil for none.
  public var activation: UnaryFunction?
  /// How the weight's first values are drawn.
  public var weightInitializer: Initializer
  /// The layer's name, which scopes its parameters; nil for a fresh `conv_transpose<n>`.
  public var name: String?
  /// Values for the weight and bias instead of the initializers (see `init(weight:bias:…)`).
  public var givenWeight: Tensor<Float>?
  /// The bias given to `init(weight:bias:…)`, or nil.
  public var givenBias: Tensor<Float>?

  /// A transposed convolution to `outChannels` channels with a kernel of size `kernel`, whose weights are drawn by `weightInitializer`.
  public init(
    _ outChannels: Int, kernel: any DimsConvertible, stride: any DimsConvertible = 1, padding: any DimsConvertible = 0, outputPadding: any DimsConvertible = 0,
    dilation: any DimsConvertible = 1, groups: Int = 1, bias: Bool = true, activation: UnaryFunction? = nil,
    weightInitializer: Initializer = .heNormal, name: String? = nil
  ) {
    self.outChannels = outChannels
    self.kernel = kernel.dims
    self.stride = stride.dims
    self.padding = padding.dims
    self.outputPadding = outputPadding.dims
    self.dilation = dilation.dims
    self.groups = groups
    self.useBias = bias
    self.activation = activation
    self.weightInitializer = weightInitializer
    self.name = name
  }

  /// A transposed convolution with given values: `weight` is `[C_in, outChannels / groups,
  /// *kernel]` (PyTorch's layout), `bias` is `[outChannels]` or nil for none.
  public init(
    weight: Tensor<Float>, bias: Tensor<Float>? = nil, stride: any DimsConvertible = 1, padding: any DimsConvertible = 0, outputPadding: any DimsConvertible = 0,
    dilation: any DimsConvertible = 1, groups: Int = 1, activation: UnaryFunction? = nil, name: String? = nil
  ) {
    self.init(
      (weight.shape.dropFirst().first ?? 0) * groups, kernel: Array(weight.shape.dropFirst(2)), stride: stride,
      padding: padding, outputPadding: outputPadding, dilation: dilation, groups: groups, bias: bias != nil,
      activation: activation, name: name)
    givenWeight = weight
    givenBias = bias
  }

  /// Adds the transposed convolution (and its activation) after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let b = x.builder
    let op = "ConvTranspose\(Rank.count)D"
    return try b.layer(name, prefix: "conv_transpose") { layer in
      try b.requireRank(x, Rank.count + 2, layer: layer, op: op, layout: spatialLayout(Rank.count))
      guard groups >= 1, outChannels % groups == 0 else {
        throw KilnError.shape(node: layer, op: op, message: "\(outChannels) output channels do not divide into \(groups) groups")
      }
      if let givenWeight, givenWeight.rank != Rank.count + 2 {
        throw KilnError.shape(
          node: layer, op: op, message: "the given weight \(TensorType(givenWeight.shape)) must be [in, out / groups, \(Rank.count) kernel sizes]")
      }
      let pads = try padding.expanded(to: Rank.count, "padding", layer: layer)
      let attrs = ConvTransposeAttrs(
        stride: try stride.expanded(to: Rank.count, "stride", layer: layer),
        padding: Padding(before: pads, after: pads),
        outputPadding: try outputPadding.expanded(to: Rank.count, "output padding", layer: layer),
        dilation: try dilation.expanded(to: Rank.count, "dilation", layer: layer), groups: groups)
      let kernel = try kernel.expanded(to: Rank.count, "kernel", layer: layer)
      let weight = try b.parameter(
        "weight", shape: [x.shape[1], outChannels / groups] + kernel, initializer: weightInitializer, given: givenWeight)
      let bias = useBias ? [try b.parameter("bias", shape: [outChannels], initializer: .zeros, given: givenBias)] : []
      return try b.activation(try b.add(layer, .convTranspose(attrs), [x, weight] + bias), activation)
    }
  }
}

/// A transposed convolution over one spatial axis.
public typealias ConvTranspose1D = ConvTranspose<Spatial1>
/// A transposed convolution over two spatial axes.
public typealias ConvTranspose2D = ConvTranspose<Spatial2>
/// A transposed convolution over three spatial axes.
public typealias ConvTranspose3D = ConvTranspose<Spatial3>
