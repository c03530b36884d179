/// A value fed from outside on every run (an image batch, labels, token ids).
public struct InputAttrs: OpAttributes {
  /// The input's type.
  public var type: TensorType

  /// A data input of `type`.
  public init(_ type: TensorType) { self.type = type }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 0...0)
    return type
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }
}

/// What a parameter is for.
public enum ParameterRole: String, Codable, Hashable, Sendable {
  /// Learned by the optimizer (unless frozen for fine-tuning).
  case weight
  /// Updated by the training graph itself, never by the optimizer (batch norm running averages).
  case state
}

/// A named tensor that lives with the model (weights, biases, running statistics).
public struct ParameterAttrs: OpAttributes {
  /// The parameter's type.
  public var type: TensorType
  /// How the parameter's first values are drawn.
  public var initializer: Initializer
  /// Whether the optimizer learns it or the training graph updates it.
  public var role: ParameterRole

  /// A parameter of `type` drawn by `initializer`.
  public init(_ type: TensorType, initializer: Initializer, role: ParameterRole = .weight) {
    self.type = type
    self.initializer = initializer
    self.role = role
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 0...0)
    return type
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 0 }

  public var attributeText: [String] { ["init=\(initializer.text)"] + (role == .state ? ["state"] : []) }
}
