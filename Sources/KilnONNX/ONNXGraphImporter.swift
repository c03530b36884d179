import Kiln

/// Builds a Kiln graph from ONNX nodes in order. ONNX values are Kiln values, or constants
/// (initializers, `Constant` outputs) that become parameters when an op reads them as tensors and
/// stay numbers when an op reads them as its settings (a shape, pads, slice bounds).
struct ONNXGraphImporter {
  var graph: Graph
  let opset: Int
  private var values: [String: ValueID] = [:]
  private var constants: [String: Tensor<Float>] = [:]
  /// Constants that may only be settings: integer initializers and the fixed inputs.
  private var settingsOnly = Set<String>()
  private var parameters = ParameterStore()

  init(name: String, opset: Int) {
    graph = Graph(name: name)
    self.opset = opset
  }

  // MARK: - Values

  /// Reads the graph's initializers and inputs. Each initializer's bytes are dropped from `proto`
  /// once converted, so a model's weights are in memory about once, not twice.
  mutating func addInputs(_ proto: inout Onnx_GraphProto, shapes: [String: [Int]], defaultShape: [Int]?, constants fixed: [String: Tensor<Float>]) throws {
    for index in proto.initializer.indices {
      let initializer = proto.initializer[index]
      constants[initializer.name] = try initializer.floatTensor()
      if !initializer.holdsFloats { settingsOnly.insert(initializer.name) }
      proto.initializer[index] = Onnx_TensorProto()
      proto.initializer[index].name = initializer.name
    }
    for (name, tensor) in fixed {
      constants[name] = tensor
      settingsOnly.insert(name)
    }
    for input in proto.input where constants[input.name] == nil {
      guard case .tensorType(let type) = input.type.value else {
        throw KilnError.invalidArgument("input \(input.name) is not a tensor (a sequence, map or optional); Kiln imports tensors")
      }
      guard type.elemType == 1 else {
        throw KilnError.invalidArgument("input \(input.name) has ONNX element type \(type.elemType); Kiln imports float inputs")
      }
      let declared = type.shape.dim.map { $0.dimValue > 0 ? Int($0.dimValue) : nil }
      let shape: [Int]
      if let given = shapes[input.name] ?? (declared.contains(nil) ? defaultShape : nil) {
        guard given.count == declared.count, zip(given, declared).allSatisfy({ $1 == nil || $0 == $1 }) else {
          throw KilnError.invalidArgument("input \(input.name) is declared \(declared.map { $0.map(String.init) ?? "?" }) but --input-shape gives \(given)")
        }
        shape = given
      } else {
        guard declared.allSatisfy({ $0 != nil }) else {
          let dims = type.shape.dim.map { $0.dimValue > 0 ? String($0.dimValue) : ($0.dimParam.isEmpty ? "?" : $0.dimParam) }
          throw KilnError.invalidArgument("input \(input.name) has dynamic dimensions [\(dims.joined(separator: ","))]; give its shape with --input-shape")
        }
        shape = declared.map { $0! }
      }
      _ = try checkedCount(shape, of: "input \(input.name)")
      values[input.name] = try graph.append(input.name, .input(InputAttrs(TensorType(shape))))
    }
  }

  /// The Kiln value of ONNX value `name`; a constant becomes a parameter (of `role`) the first time.
  mutating func value(_ name: String, role: ParameterRole = .weight) throws -> ValueID {
    if let value = values[name] { return value }
    guard let tensor = constants[name] else { throw KilnError.invalidArgument("reads \(name), which no earlier node, input or initializer defines") }
    guard !settingsOnly.contains(name) else {
      throw KilnError.invalidArgument("uses the integer tensor \(name) as data; Kiln computes in float and takes integer tensors only as settings (shapes, pads, axes)")
    }
    let value = try graph.append(name, .parameter(ParameterAttrs(TensorType(tensor.shape), initializer: .zeros, role: role)))
    parameters[name] = tensor
    values[name] = value
    return value
  }

  /// A parameter holding `tensor` (a weight the import had to transform).
  mutating func parameter(_ name: String, _ tensor: Tensor<Float>) throws -> ValueID {
    let value = try graph.append(name, .parameter(ParameterAttrs(TensorType(tensor.shape), initializer: .zeros)))
    parameters[name] = tensor
    return value
  }

  /// ONNX value `name` as numbers known at import time (a shape, pads, slice bounds, a weight).
  func constant(_ name: String) throws -> Tensor<Float> {
    guard let tensor = constants[name] else {
      throw KilnError.invalidArgument("needs \(name) as a constant (an initializer or a Constant node) but it is computed")
    }
    return tensor
  }

  func isConstant(_ name: String) -> Bool { constants[name] != nil && values[name] == nil }

  func shape(_ value: ValueID) -> [Int] { graph[value].type.shape }

  /// Adds a node named after ONNX output `output` (with a suffix when one ONNX node makes several).
  mutating func append(_ output: String, suffix: String = "", _ op: Op, _ inputs: [ValueID]) throws -> ValueID {
    let value = try graph.append(output + suffix, op, inputs: inputs)
    _ = try checkedCount(graph[value].type.shape, of: "the output \(output + suffix)")
    return value
  }

  mutating func define(_ name: String, _ value: ValueID) { values[name] = value }

  /// Makes ONNX value `name` a constant computed at import time; `integer` ones are settings only.
  mutating func define(constant name: String, _ tensor: Tensor<Float>, integer: Bool) {
    constants[name] = tensor
    if integer { settingsOnly.insert(name) } else { settingsOnly.remove(name) }
  }

  /// Whether constant `name` holds integers (a shape, indices), which Kiln reads as settings only.
  func isInteger(_ name: String) -> Bool { settingsOnly.contains(name) }

  mutating func finish(outputs: [String]) throws -> Model {
    graph.outputs = try outputs.map { try value($0) }
    return try Model(graph: graph, parameters: parameters)
  }

  // MARK: - Nodes

  /// The fewest inputs each operator needs.
  static let minimumInputs: [String: Int] = [
    "Constant": 0, "Conv": 2, "ConvTranspose": 2, "Gemm": 2, "MatMul": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2,
    "BatchNormalization": 5, "Reshape": 1, "Slice": 1, "Pad": 1, "Concat": 1, "LayerNormalization": 2, "Gather": 2, "Range": 3,
  ]

  mutating func add(_ node: Onnx_NodeProto) throws {
    let a = ONNXAttributes(node)
    guard let out = node.output.first, !out.isEmpty else { throw KilnError.invalidArgument("the node has no output") }
    let inputs = node.input
    let needed = Self.minimumInputs[node.opType] ?? 1
    guard inputs.count >= needed, inputs.prefix(needed).allSatisfy({ !$0.isEmpty }) else {
      throw KilnError.invalidArgument("\(node.opType) needs \(needed) input\(needed == 1 ? "" : "s"), the node has \(inputs.filter { !$0.isEmpty }.count)")
    }
    func input(_ i: Int) throws -> ValueID { try value(inputs[i]) }
    /// Whether the constant-or-computed input `name` may be non-zero.
    func mayBeNonZero(_ name: String) throws -> Bool { try !isConstant(name) || constant(name).scalars.contains { $0 != 0 } }
    if try fold(node, a) { return }
    // Mask, indices and batch-statistics outputs exist only in training or for MaxPool's indices.
    let usesExtraOutputs = node.output.dropFirst().contains { !$0.isEmpty }
    switch node.opType {
    case "Identity", "Dropout":
      if node.opType == "Dropout" {
        if usesExtraOutputs { throw KilnError.invalidArgument("the dropout mask output is not supported (inference only)") }
        // Training mode drops values unless the ratio (default 0.5) is 0.
        let training = try Self.optional(inputs, 2).map(mayBeNonZero) ?? false
        if try training && Self.optional(inputs, 1).map(mayBeNonZero) ?? true {
          throw KilnError.invalidArgument("training-mode dropout is not supported (inference only)")
        }
      }
      if isConstant(inputs[0]) {
        constants[out] = try constant(inputs[0])
        if settingsOnly.contains(inputs[0]) { settingsOnly.insert(out) }
      } else {
        define(out, try input(0))
      }
    case "Constant":
      constants[out] = try constantValue(a)
      if a.has("value_int") || a.has("value_ints") || a.tensor("value").map({ !$0.holdsFloats }) == true {
        settingsOnly.insert(out)
      }
    case "Gelu" where a.string("approximate", default: "none") == "tanh":
      try tanhGELU(out: out, x: try input(0))
    case "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "HardSigmoid", "HardSwish", "Erf", "Sqrt", "Gelu", "Swish":
      define(out, try append(out, .unary(UnaryAttrs(try activation(node.opType, a))), [try input(0)]))
    case "Clip":
      define(out, try append(out, .unary(UnaryAttrs(try clip(a, inputs: inputs))), [try input(0)]))
    case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceSumSquare":
      try reduction(node.opType, a, out: out, inputs: inputs)
    case "LayerNormalization":
      try layerNormalization(a, outputs: node.output, inputs: inputs)
    case "Unsqueeze", "Squeeze":
      let x = try input(0)
      let axes = try ints(inputs, 1, attribute: "axes", a)
      let target = node.opType == "Squeeze" ? try squeezed(shape(x), axes: axes) : try unsqueezed(shape(x), axes: axes)
      define(out, try append(out, .reshape(ReshapeAttrs(shape: target)), [x]))
    case "Add", "Sub", "Mul", "Div":
      let op: BinaryOperator = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div][node.opType]!
      define(out, try append(out, .binary(BinaryAttrs(op)), [try input(0), try input(1)]))
    case "Softmax", "LogSoftmax":
      try softmax(a, out: out, x: try input(0), log: node.opType == "LogSoftmax")
    case "Conv":
      try convolution(a, out: out, inputs: inputs)
    case "ConvTranspose":
      try transposedConvolution(a, out: out, inputs: inputs)
    case "MaxPool", "AveragePool":
      if usesExtraOutputs { throw KilnError.invalidArgument("the indices output of MaxPool is not supported") }
      try pool(a, out: out, x: try input(0), kind: node.opType == "MaxPool" ? .max : .average)
    case "GlobalAveragePool", "GlobalMaxPool":
      define(out, try append(out, .globalPool(GlobalPoolAttrs(kind: node.opType == "GlobalMaxPool" ? .max : .average)), [try input(0)]))
    case "Gemm":
      try gemm(a, out: out, inputs: inputs)
    case "MatMul":
      try matmul(out: out, inputs: inputs)
    case "BatchNormalization":
      if a.int("training_mode", default: 0) != 0 || usesExtraOutputs {
        throw KilnError.invalidArgument("only inference-mode batch normalization is supported")
      }
      let operands = try [input(0), input(1), input(2), value(inputs[3], role: .state), value(inputs[4], role: .state)]
      define(out, try append(out, .batchNorm(BatchNormAttrs(epsilon: Double(a.float("epsilon", default: 1e-5)))), operands))
    case "LRN":
      guard a.int("size", default: 0) >= 1 else { throw KilnError.invalidArgument("LRN needs its size attribute (the channels in a window)") }
      let attrs = LRNAttrs(
        size: a.int("size", default: 0), alpha: Double(a.float("alpha", default: 1e-4)), beta: Double(a.float("beta", default: 0.75)),
        bias: Double(a.float("bias", default: 1)))
      define(out, try append(out, .lrn(attrs), [try input(0)]))
    case "Flatten":
      let x = try input(0)
      let shape = self.shape(x)
      let axis = try normalized(a.int("axis", default: 1), rank: shape.count, inclusive: true)
      define(out, try append(out, .reshape(ReshapeAttrs(shape: Self.matrix(shape, splitAt: axis))), [x]))
    case "Reshape":
      try reshape(a, out: out, inputs: inputs)
    case "Transpose":
      let x = try input(0)
      let permutation = a.ints("perm") ?? Array((0..<shape(x).count).reversed())
      define(out, try append(out, .transpose(TransposeAttrs(permutation: permutation)), [x]))
    case "Concat":
      let parts = try inputs.filter { !$0.isEmpty }.map { try value($0) }
      let axis = try normalized(a.int("axis", default: 0), rank: shape(parts[0]).count)
      define(out, try append(out, .concat(ConcatAttrs(axis: axis)), parts))
    case "Split":
      try split(a, node: node)
    case "Slice":
      try slice(a, out: out, inputs: inputs)
    case "Pad":
      try pad(a, out: out, inputs: inputs)
    case "Resize", "Upsample":
      try resize(node.opType, a, out: out, inputs: inputs)
    case "Gather" where !isConstant(inputs[0]) && isConstant(inputs[1]):
      try gather(a, out: out, inputs: inputs)
    case "Cast" where [1, 11].contains(a.int("to", default: 1)):
      define(out, try input(0))
    case "Gather", "Cast", "Range", "ConstantOfShape":
      throw KilnError.invalidArgument("\(node.opType) is imported only as a shape computation on constants, and \(inputs.filter { !$0.isEmpty && !isConstant($0) }.joined(separator: ", ")) is computed")
    default:
      throw KilnError.invalidArgument("operator \(node.opType) is not supported")
    }
  }

  /// Input `index` of a node, when it is given (ONNX leaves optional inputs out or empty).
  static func optional(_ inputs: [String], _ index: Int) -> String? {
    inputs.count > index && !inputs[index].isEmpty ? inputs[index] : nil
  }

  /// `shape` seen as a matrix `[∏ axes before axis, ∏ axes from it]` (Flatten; Softmax before
  /// opset 13).
  static func matrix(_ shape: [Int], splitAt axis: Int) -> [Int] {
    [shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *)]
  }

  /// `axis` in `0..<rank` (or `0...rank`), negative ones counted from the end.
  func normalized(_ axis: Int, rank: Int, inclusive: Bool = false) throws -> Int {
    let result = axis < 0 ? axis + rank : axis
    guard result >= 0, result < rank + (inclusive ? 1 : 0) else { throw KilnError.invalidArgument("axis \(axis) is outside rank \(rank)") }
    return result
  }

  func constantValue(_ a: ONNXAttributes) throws -> Tensor<Float> {
    if let tensor = a.tensor("value") { return try tensor.floatTensor() }
    if a.has("value_float") { return try Tensor(shape: [], scalars: [a.float("value_float", default: 0)]) }
    if let floats = a.floats("value_floats") { return try Tensor(shape: [floats.count], scalars: floats) }
    if a.has("value_int") { return try Tensor(shape: [], scalars: [Float(a.int("value_int", default: 0))]) }
    if let ints = a.ints("value_ints") { return try Tensor(shape: [ints.count], scalars: ints.map(Float.init)) }
    throw KilnError.invalidArgument("a Constant needs value, value_float(s) or value_int(s); sparse and string constants are not supported")
  }

  /// Ints from constant input `index` (opset ≥ 10/11/13 style) or attribute `attribute` (older).
  func ints(_ inputs: [String], _ index: Int, attribute: String, _ a: ONNXAttributes, clamped: Bool = false) throws -> [Int]? {
    if let name = Self.optional(inputs, index) { return try constant(name).scalars.map { try settingInt($0, clamped: clamped) } }
    return try a.ints(attribute)?.map { try settingInt(Float($0), clamped: clamped) }
  }
}
