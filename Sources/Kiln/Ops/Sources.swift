/// A value fed from outside on every run (an image batch, labels, token ids).
public struct InputAttrs: OpAttributes {
  public var type: TensorType

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
  public var type: TensorType
  public var initializer: Initializer
  public var role: ParameterRole

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
