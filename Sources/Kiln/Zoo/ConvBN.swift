/// A convolution without bias followed by batch norm and an optional activation: the unit most
/// CNNs since 2015 are made of. `convName` and `bnName` give the two layers the names the
/// published PyTorch models use (`conv`/`bn` in GoogLeNet, `0`/`1` in MobileNet v2), so their
/// weights load directly. Without a `name` the two layers join the enclosing scope (ResNet's
/// `conv1`/`bn1`).
public struct ConvBN: Layer {
  /// The convolution, without bias.
  public var conv: Conv2D
  /// The batch norm's ε.
  public var epsilon: Double
  /// The function after the batch norm; nil for none.
  public var activation: UnaryFunction?
  /// The scope of the two layers, or nil for the enclosing scope.
  public var name: String?
  /// The batch norm's name.
  public var bnName: String

  /// A convolution to `outChannels` channels, a batch norm and `activation`.
  public init(
    _ outChannels: Int, kernel: any DimsConvertible, stride: any DimsConvertible = 1, padding: any ConvPaddingConvertible = .valid, groups: Int = 1,
    epsilon: Double = 1e-5, activation: UnaryFunction? = .relu, name: String? = nil,
    convName: String = "conv", bnName: String = "bn"
  ) {
    conv = Conv2D(outChannels, kernel: kernel, stride: stride, padding: padding, groups: groups, bias: false, name: convName)
    self.epsilon = epsilon
    self.activation = activation
    self.name = name
    self.bnName = bnName
  }

  /// The depthwise variant: one 3×3 (or `kernel`) filter per channel.
  public static func depthwise(
    kernel: any DimsConvertible = 3, stride: any DimsConvertible = 1, padding: any ConvPaddingConvertible = 1, activation: UnaryFunction? = .relu,
    name: String? = nil, convName: String = "conv", bnName: String = "bn"
  ) -> ConvBN {
    var unit = ConvBN(1, kernel: kernel, activation: activation, name: name, convName: convName, bnName: bnName)
    unit.conv = Conv2D.depthwise(kernel: kernel, stride: stride, padding: padding, bias: false, name: convName)
    return unit
  }

  /// Adds the convolution, the batch norm and the activation after `x`.
  public func callAsFunction(_ x: Symbol) throws -> Symbol {
    let body = {
      let y = try x.apply(conv).apply(BatchNorm(epsilon: epsilon, name: bnName))
      return try activation.map { try y.applying($0) } ?? y
    }
    guard let name else { return try body() }
    return try x.builder.layer(name, prefix: "conv_bn") { _ in try body() }
  }
}
