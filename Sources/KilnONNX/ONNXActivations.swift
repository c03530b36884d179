import Kiln

/// ONNX's elementwise activations as Kiln unary functions.
extension ONNXGraphImporter {
  /// The unary function of activation operator `opType`, with ONNX's default attributes.
  func activation(_ opType: String, _ a: ONNXAttributes) throws -> UnaryFunction {
    switch opType {
    case "Relu": return .relu
    case "Sigmoid": return .sigmoid
    case "Tanh": return .tanh
    case "LeakyRelu": return .leakyReLU(slope: Double(a.float("alpha", default: 0.01)))
    case "Elu": return .elu(alpha: Double(a.float("alpha", default: 1)))
    case "HardSigmoid": return .hardSigmoid(alpha: Double(a.float("alpha", default: 0.2)), beta: Double(a.float("beta", default: 0.5)))
    case "HardSwish": return .hardSwish
    case "Erf": return .erf
    case "Swish":
      let alpha = a.float("alpha", default: 1)
      guard alpha == 1 else { throw KilnError.invalidArgument("Swish with alpha \(alpha) is not supported (alpha 1, SiLU, is)") }
      return .silu
    case "Sqrt": return .sqrt
    case "Gelu":
      let approximation = a.string("approximate", default: "none")
      guard approximation == "none" else { throw KilnError.invalidArgument("Gelu's approximate must be none or tanh, got \(approximation)") }
      return .gelu
    default:
      throw KilnError.invalidArgument("operator \(opType) is not an activation")
    }
  }

  /// Clip's clamp, with its bounds from constant inputs (opset 11 on) or attributes (before):
  /// ReLU6 or ReLU where it is one, a general clamp otherwise; a missing bound is no bound.
  func clip(_ a: ONNXAttributes, inputs: [String]) throws -> UnaryFunction {
    func bound(_ index: Int, _ attribute: String) throws -> Double? {
      if let name = Self.optional(inputs, index) {
        let values = try constant(name).scalars
        guard values.count == 1 else { throw KilnError.invalidArgument("Clip's \(attribute) must be a scalar, got \(values.count) values") }
        return Double(values[0])
      }
      return a.has(attribute) ? Double(a.float(attribute, default: 0)) : nil
    }
    let (low, high) = (try bound(1, "min"), try bound(2, "max"))
    switch (low, high) {
    case (0, 6): return .relu6
    case (0, nil): return .relu
    default:
      let (lower, upper) = (low ?? -Double(Float.greatestFiniteMagnitude), high ?? Double(Float.greatestFiniteMagnitude))
      guard lower <= upper else { throw KilnError.invalidArgument("Clip's min \(lower) is above its max \(upper)") }
      return .clamp(low: lower, high: upper)
    }
  }

  /// GELU's tanh approximation, x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2, from elementwise ops.
  mutating func tanhGELU(out: String, x: ValueID) throws {
    let square = try append(out, suffix: ".square", .binary(BinaryAttrs(.mul)), [x, x])
    let cube = try append(out, suffix: ".cube", .binary(BinaryAttrs(.mul)), [square, x])
    let scaledCube = try append(out, suffix: ".scaled_cube", .unary(UnaryAttrs(.affine(scale: 0.044715, shift: 0))), [cube])
    let inner = try append(out, suffix: ".inner", .binary(BinaryAttrs(.add)), [x, scaledCube])
    let argument = try append(out, suffix: ".argument", .unary(UnaryAttrs(.affine(scale: (2 / Double.pi).squareRoot(), shift: 0))), [inner])
    let tanh = try append(out, suffix: ".tanh", .unary(UnaryAttrs(.tanh)), [argument])
    let half = try append(out, suffix: ".half", .unary(UnaryAttrs(.affine(scale: 0.5, shift: 0.5))), [tanh])
    define(out, try append(out, .binary(BinaryAttrs(.mul)), [x, half]))
  }
}
