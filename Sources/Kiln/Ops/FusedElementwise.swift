/// A chain of elementwise ops over one shape computed in one pass, which `Graph.fusingElementwise`
/// writes for compiled code: each input is read and the result written once, instead of once
/// per op (an optimizer's update, v ← μ·v + g then θ ← θ − η·v, is two of these instead of four
/// ops). Inputs: tensors with the output's elements, or single elements that every position
/// reads (a learning rate). The steps run in order, each on inputs and earlier steps' values;
/// the last step's value is the output.
public struct FusedElementwiseAttrs: OpAttributes {
  /// What a step computes.
  public enum Operation: Codable, Hashable, Sendable {
    /// A function of one operand, as `Op.unary`.
    case unary(UnaryFunction)
    /// Arithmetic on two operands, as `Op.binary`.
    case binary(BinaryOperator)

    /// Operands it takes.
    public var arity: Int {
      switch self {
      case .unary: return 1
      case .binary: return 2
      }
    }

    /// The graph op this step computes.
    public var op: Op {
      switch self {
      case .unary(let function): return .unary(UnaryAttrs(function))
      case .binary(let op): return .binary(BinaryAttrs(op))
      }
    }
  }

  /// Where a step's operand comes from.
  public enum Operand: Codable, Hashable, Sendable {
    /// The fused op's input at this position.
    case input(Int)
    /// The value of the step at this position.
    case step(Int)
  }

  /// One op of the chain and its operands.
  public struct Step: Codable, Hashable, Sendable {
    /// The op.
    public var operation: Operation
    /// Its operands, as many as the op takes.
    public var operands: [Operand]

    /// `operation` on `operands`.
    public init(_ operation: Operation, _ operands: [Operand]) {
      self.operation = operation
      self.operands = operands
    }
  }

  /// The chain, in the order it is computed.
  public var steps: [Step]

  /// The chain `steps`.
  public init(steps: [Step]) { self.steps = steps }

  /// The chain run on `inputs` by `unary` and `binary`, which compute one op on any kind of
  /// value (tensors in the interpreter, vectors in compiled code): the last step's value.
  public func evaluate<Value>(
    _ inputs: [Value], unary: (UnaryFunction, Value) -> Value, binary: (BinaryOperator, Value, Value) -> Value
  ) -> Value {
    var values: [Value] = []
    for step in steps {
      let operands = step.operands.map { operand in
        switch operand {
        case .input(let index): return inputs[index]
        case .step(let index): return values[index]
        }
      }
      switch step.operation {
      case .unary(let function): values.append(unary(function, operands[0]))
      case .binary(let op): values.append(binary(op, operands[0], operands[1]))
      }
    }
    return values[values.count - 1]
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    let types = try stepTypes(inputs)
    guard let output = types.last else { throw ShapeError("a fused elementwise op needs at least one step") }
    for (position, input) in inputs.enumerated() {
      try requireFloat(input, "input \(position)")
      try require(input.elementCount == output.elementCount || input.elementCount == 1, "input \(position) \(input) is neither \(output) nor one element")
    }
    for (position, type) in types.enumerated() {
      try require(type.elementCount == output.elementCount || type.elementCount == 1, "step \(position) gives \(type), not \(output)")
    }
    return output
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int {
    guard let types = try? stepTypes(inputs) else { return output.elementCount }
    return steps.indices.reduce(0) { total, position in
      let step = steps[position]
      return total + step.operation.op.attributes.flops(operandTypes(step, inputs, types), output: types[position])
    }
  }

  public var attributeText: [String] {
    steps.enumerated().map { position, step in
      let operands = step.operands.map { operand -> String in
        switch operand {
        case .input(let index): return "in\(index)"
        case .step(let index): return "s\(index)"
        }
      }
      return "s\(position)=\(([step.operation.op.mnemonic] + step.operation.op.attributes.attributeText).joined(separator: ":"))(\(operands.joined(separator: ",")))"
    }
  }

  /// The type of every step's value, by the shape rules of the ops it computes.
  private func stepTypes(_ inputs: [TensorType]) throws -> [TensorType] {
    var types: [TensorType] = []
    for (position, step) in steps.enumerated() {
      let arity = step.operation.arity
      try require(step.operands.count == arity, "step \(position) has \(step.operands.count) operands, not \(arity)")
      for operand in step.operands {
        switch operand {
        case .input(let index): try require(inputs.indices.contains(index), "step \(position) reads input \(index) of \(inputs.count)")
        case .step(let index): try require(index < position && index >= 0, "step \(position) reads step \(index), which is not before it")
        }
      }
      types.append(try step.operation.op.attributes.outputType(operandTypes(step, inputs, types)))
    }
    return types
  }

  private func operandTypes(_ step: Step, _ inputs: [TensorType], _ types: [TensorType]) -> [TensorType] {
    step.operands.map { operand in
      switch operand {
      case .input(let index): return inputs[index]
      case .step(let index): return types[index]
      }
    }
  }
}
