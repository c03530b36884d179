/// The broadcast shape of two shapes, numpy-style: axes are aligned from the right and a size
/// of 1 stretches to match.
func broadcastShapes(_ a: [Int], _ b: [Int]) throws -> [Int] {
  let rank = max(a.count, b.count)
  let pa = Array(repeating: 1, count: rank - a.count) + a
  let pb = Array(repeating: 1, count: rank - b.count) + b
  return try (0..<rank).map { i in
    try require(
      pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1,
      "shapes \(a) and \(b) do not broadcast: axis \(i) has \(pa[i]) against \(pb[i])")
    return max(pa[i], pb[i])
  }
}

/// An elementwise arithmetic operator on two tensors.
public enum BinaryOperator: String, Codable, Hashable, Sendable, CaseIterable {
  /// a + b.
  case add
  /// a − b.
  case sub
  /// a · b.
  case mul
  /// a / b.
  case div
}

/// Elementwise `a ⊕ b` with numpy-style broadcasting (residual add, SE channel scaling, …).
public struct BinaryAttrs: OpAttributes {
  /// The operator.
  public var op: BinaryOperator

  /// Elementwise `op`.
  public init(_ op: BinaryOperator) { self.op = op }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    try requireFloat(inputs[0], "a")
    try requireFloat(inputs[1], "b")
    return TensorType(try broadcastShapes(inputs[0].shape, inputs[1].shape))
  }

  public var attributeText: [String] { [op.rawValue] }
}

/// A function applied to every element on its own.
public enum UnaryFunction: Codable, Hashable, Sendable {
  /// max(x, 0).
  case relu
  /// min(max(x, 0), 6) (MobileNet v2).
  case relu6
  /// `x` for x > 0, else `slope·x`.
  case leakyReLU(slope: Double)
  /// `x` for x > 0, else `alpha·(eˣ − 1)`.
  case elu(alpha: Double)
  /// 1 / (1 + e⁻ˣ).
  case sigmoid
  /// The hyperbolic tangent.
  case tanh
  /// `scale·x + shift`.
  case affine(scale: Double, shift: Double)
  /// √x (optimizer updates divide by the root of second moments).
  case sqrt
  /// min(max(x, low), high) (ONNX Clip; ReLU6 is `clamp(0, 6)`'s common case).
  case clamp(low: Double, high: Double)
  /// max(0, min(1, α·x + β)) (MobileNet v3's squeeze-and-excitation gate).
  case hardSigmoid(alpha: Double, beta: Double)
  /// x·min(max(x + 3, 0), 6)/6 (MobileNet v3).
  case hardSwish
  /// x·sigmoid(x), also called swish (EfficientNet).
  case silu
  /// The error function, 2/√π ∫₀ˣ e^(−t²) dt.
  case erf
  /// x·Φ(x) = x·(1 + erf(x/√2))/2, the exact GELU (ConvNeXt).
  case gelu

  /// The function's name alone: `relu`, `leaky_relu`, `affine`.
  public var name: String {
    switch self {
    case .relu: return "relu"
    case .relu6: return "relu6"
    case .leakyReLU: return "leaky_relu"
    case .elu: return "elu"
    case .sigmoid: return "sigmoid"
    case .tanh: return "tanh"
    case .affine: return "affine"
    case .sqrt: return "sqrt"
    case .clamp: return "clamp"
    case .hardSigmoid: return "hard_sigmoid"
    case .hardSwish: return "hard_swish"
    case .silu: return "silu"
    case .erf: return "erf"
    case .gelu: return "gelu"
    }
  }

  /// The name with its settings, as the text dump shows it: `leaky_relu slope=0.1`.
  public var text: String {
    switch self {
    case .relu, .relu6, .sigmoid, .tanh, .sqrt, .hardSwish, .silu, .erf, .gelu: return name
    case .leakyReLU(let slope): return "leaky_relu slope=\(slope)"
    case .elu(let alpha): return "elu alpha=\(alpha)"
    case .affine(let scale, let shift): return "affine scale=\(scale) shift=\(shift)"
    case .clamp(let low, let high): return "clamp low=\(low) high=\(high)"
    case .hardSigmoid(let alpha, let beta): return "hard_sigmoid alpha=\(alpha) beta=\(beta)"
    }
  }
}

/// An activation or other unary function, applied elementwise.
public struct UnaryAttrs: OpAttributes {
  /// The function.
  public var function: UnaryFunction

  /// `function` applied to every element.
  public init(_ function: UnaryFunction) { self.function = function }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    try requireFloat(inputs[0], "input")
    return inputs[0]
  }

  public var attributeText: [String] { [function.text] }
}

/// Maxout: the maximum over each run of `pieces` consecutive elements along `axis` (the
/// channels, axis 1, by default): `[N, C·pieces, …]` → `[N, C, …]`.
public struct MaxoutAttrs: OpAttributes {
  /// Elements per run.
  public var pieces: Int
  /// The axis whose runs are reduced (non-negative).
  public var axis: Int

  /// The maximum over runs of `pieces` elements along `axis`.
  public init(pieces: Int, axis: Int = 1) {
    self.pieces = pieces
    self.axis = axis
  }

  /// Model files written before maxout had an axis read as channel maxout.
  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    pieces = try container.decode(Int.self, forKey: .pieces)
    axis = try container.decodeIfPresent(Int.self, forKey: .axis) ?? 1
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require((0..<x.rank).contains(axis), "axis \(axis) is outside the \(x.rank) axes of \(x)")
    try require(pieces >= 1, "pieces must be at least 1, got \(pieces)")
    try require(
      x.shape[axis] % pieces == 0,
      "\(x.shape[axis]) \(axis == 1 ? "channels" : "elements along axis \(axis)") do not divide into groups of \(pieces) pieces")
    var shape = x.shape
    shape[axis] /= pieces
    return TensorType(shape)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { inputs[0].elementCount }

  public var attributeText: [String] { ["pieces=\(pieces)"] + (axis == 1 ? [] : ["axis=\(axis)"]) }

  /// Elements after the reduced axis, per index of it: runs are `pieces · inner` apart.
  package func inner(_ input: [Int]) -> Int { input[(axis + 1)...].reduce(1, *) }
}

/// Softmax (or log-softmax) along one axis.
public struct SoftmaxAttrs: OpAttributes {
  /// The axis the probabilities sum to one along (non-negative).
  public var axis: Int
  /// Whether the output is log-probabilities.
  public var log: Bool

  /// A softmax (or log-softmax) along `axis`.
  public init(axis: Int, log: Bool = false) {
    self.axis = axis
    self.log = log
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    try requireFloat(inputs[0], "input")
    try require(axis >= 0 && axis < inputs[0].rank, "axis \(axis) is outside \(inputs[0])")
    return inputs[0]
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 4 * output.elementCount }

  public var attributeText: [String] { ["axis=\(axis)"] + (log ? ["log"] : []) }
}
