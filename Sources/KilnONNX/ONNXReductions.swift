import Kiln

/// ONNX's reductions and layer normalization, built from Kiln's reduce, elementwise and unary ops.
extension ONNXGraphImporter {
  /// ReduceMean, ReduceSum and ReduceMax map to one reduce; ReduceMin is −max(−x), ReduceL2
  /// √Σx², ReduceSumSquare Σx². Axes come from the attribute or (ReduceSum from opset 13, the
  /// others from 18) the second input; none means all, unless `noop_with_empty_axes`.
  mutating func reduction(_ opType: String, _ a: ONNXAttributes, out: String, inputs: [String]) throws {
    var x = try value(inputs[0])
    let rank = shape(x).count
    let given = try ints(inputs, 1, attribute: "axes", a) ?? []
    if given.isEmpty && a.int("noop_with_empty_axes", default: 0) != 0 {
      define(out, x)
      return
    }
    let axes = given.isEmpty ? Array(0..<rank) : Array(Set(try given.map { try normalized($0, rank: rank) })).sorted()
    let keepDims = a.int("keepdims", default: 1) != 0
    func negated(_ v: ValueID, _ suffix: String) throws -> ValueID {
      try append(out, suffix: suffix, .unary(UnaryAttrs(.affine(scale: -1, shift: 0))), [v])
    }
    switch opType {
    case "ReduceMean", "ReduceSum", "ReduceMax":
      let kind: ReduceKind = opType == "ReduceMean" ? .mean : opType == "ReduceSum" ? .sum : .max
      define(out, try append(out, .reduce(ReduceAttrs(kind, axes: axes, keepDims: keepDims)), [x]))
    case "ReduceMin":
      let largest = try append(out, suffix: ".max", .reduce(ReduceAttrs(.max, axes: axes, keepDims: keepDims)), [try negated(x, ".negated")])
      define(out, try negated(largest, ""))
    default:
      x = try append(out, suffix: ".square", .binary(BinaryAttrs(.mul)), [x, x])
      let sum = try append(out, suffix: opType == "ReduceL2" ? ".sum" : "", .reduce(ReduceAttrs(.sum, axes: axes, keepDims: keepDims)), [x])
      define(out, opType == "ReduceL2" ? try append(out, .unary(UnaryAttrs(.sqrt)), [sum]) : sum)
    }
  }

  /// LayerNormalization over the axes from `axis` on: (x − mean)/√(variance + ε)·scale + bias,
  /// with the biased variance, as ONNX defines it; the optional outputs are the mean and
  /// 1/√(variance + ε).
  mutating func layerNormalization(_ a: ONNXAttributes, outputs: [String], inputs: [String]) throws {
    let out = outputs[0]
    let x = try value(inputs[0])
    let rank = shape(x).count
    let axis = try normalized(a.int("axis", default: -1), rank: rank)
    let axes = Array(axis..<rank)
    let epsilon = Double(a.float("epsilon", default: 1e-5))
    let mean = try append(out, suffix: ".mean", .reduce(ReduceAttrs(.mean, axes: axes, keepDims: true)), [x])
    let centered = try append(out, suffix: ".centered", .binary(BinaryAttrs(.sub)), [x, mean])
    let squared = try append(out, suffix: ".squared", .binary(BinaryAttrs(.mul)), [centered, centered])
    let variance = try append(out, suffix: ".variance", .reduce(ReduceAttrs(.mean, axes: axes, keepDims: true)), [squared])
    let shifted = try append(out, suffix: ".shifted", .unary(UnaryAttrs(.affine(scale: 1, shift: epsilon))), [variance])
    let deviation = try append(out, suffix: ".deviation", .unary(UnaryAttrs(.sqrt)), [shifted])
    let normalized = try append(out, suffix: ".normalized", .binary(BinaryAttrs(.div)), [centered, deviation])
    let bias = Self.optional(inputs, 2)
    let scaled = try append(out, suffix: bias == nil ? "" : ".scaled", .binary(BinaryAttrs(.mul)), [normalized, try value(inputs[1])])
    define(out, try bias.map { try append(out, .binary(BinaryAttrs(.add)), [scaled, try value($0)]) } ?? scaled)
    if let name = Self.optional(outputs, 1) { define(name, mean) }
    if let name = Self.optional(outputs, 2) {
      let one = try parameter(name + ".one", Tensor(shape: [1], scalars: [1]))
      define(name, try append(name, .binary(BinaryAttrs(.div)), [one, deviation]))
    }
  }
}
