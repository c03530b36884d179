// The ops that backward graphs are made of. Each one is the adjoint (vector-Jacobian product)
// of a forward op that cannot be written as a combination of other ops; `dy` is always the
// gradient flowing back into the forward op's output.

/// Throws unless `actual` is the type the forward op would produce, so a backward op cannot be
/// wired to the wrong forward values.
private func requireForwardType(_ actual: TensorType, _ expected: TensorType, _ what: String) throws {
  try require(actual.shape == expected.shape, "\(what) is \(actual) but the forward op gives \(expected)")
}

/// Gradient of a convolution with respect to its input: `dy` scattered back through the
/// windows (and through the padding's source positions for replicate/reflect/circular).
/// Inputs: `dy`, `weight`. Output: the forward input's type.
public struct ConvInputGradAttrs: OpAttributes {
  /// The forward convolution.
  public var conv: ConvAttrs
  /// The forward input's shape, which the stride alone does not fix.
  public var inputShape: [Int]

  /// The input gradient of `conv` applied to an input of `inputShape`.
  public init(conv: ConvAttrs, inputShape: [Int]) {
    self.conv = conv
    self.inputShape = inputShape
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    try requireForwardType(inputs[0], try conv.outputType([TensorType(inputShape), inputs[1]]), "dy")
    return TensorType(inputShape)
  }

  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int {
    conv.multiplyAdds([output, inputs[1]], output: inputs[0])
  }

  public var attributeText: [String] { conv.attributeText + ["input=\(formatList(inputShape))"] }
}

/// Gradient of a convolution with respect to its weight: the correlation of the input with `dy`.
/// Inputs: `x`, `dy`. Output `[C_out, C_in / groups, *kernel]`.
public struct ConvWeightGradAttrs: OpAttributes {
  /// The forward convolution.
  public var conv: ConvAttrs
  /// The kernel size per spatial axis.
  public var kernel: [Int]

  /// The weight gradient of `conv` with a kernel of size `kernel`.
  public init(conv: ConvAttrs, kernel: [Int]) {
    self.conv = conv
    self.kernel = kernel
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    let (x, dy) = (inputs[0], inputs[1])
    try require(x.rank >= 3 && dy.rank == x.rank, "x \(x) and dy \(dy) must be [N, C, *spatial]")
    let weight = TensorType([dy.shape[1], x.shape[1] / max(conv.groups, 1)] + kernel)
    try requireForwardType(dy, try conv.outputType([x, weight]), "dy")
    return weight
  }

  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int {
    conv.multiplyAdds([inputs[0], output], output: inputs[1])
  }

  public var attributeText: [String] { conv.attributeText + ["kernel=\(formatList(kernel))"] }
}

/// Gradient of max or average pooling: `dy` routed to each window's first maximum, or spread
/// evenly over the window (by the forward op's divisor). Inputs: `x`, `dy`. Output: `x`'s type.
public struct PoolGradAttrs: OpAttributes {
  /// The forward pooling.
  public var pool: PoolAttrs

  /// The input gradient of `pool`.
  public init(pool: PoolAttrs) { self.pool = pool }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    try requireForwardType(inputs[1], try pool.outputType([inputs[0]]), "dy")
    return inputs[0]
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int {
    pool.flops([inputs[0]], output: inputs[1])
  }

  public var attributeText: [String] { [pool.kind.rawValue] + pool.attributeText }
}

/// Gradient of a reduction: `dy` broadcast back over the reduced axes (divided by the count for
/// a mean; only to each group's first maximum for a max). Inputs: `x`, `dy`. Output: `x`'s type.
public struct ReduceGradAttrs: OpAttributes {
  /// The forward reduction.
  public var reduce: ReduceAttrs

  /// The input gradient of `reduce`.
  public init(reduce: ReduceAttrs) { self.reduce = reduce }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    try requireForwardType(inputs[1], try reduce.outputType([inputs[0]]), "dy")
    return inputs[0]
  }

  public var attributeText: [String] { reduce.attributeText }
}

/// Gradient of an elementwise function: `f′(x)·dy`, with the derivative taken from `x` or from
/// the forward output `y` (sigmoid, tanh, ELU). Inputs: `x`, `y`, `dy`.
public struct UnaryGradAttrs: OpAttributes {
  /// The forward function.
  public var function: UnaryFunction

  /// The input gradient of `function`.
  public init(_ function: UnaryFunction) { self.function = function }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 3...3)
    try require(inputs[1] == inputs[0] && inputs[2] == inputs[0], "x, y and dy must share one type, got \(inputs)")
    return inputs[0]
  }

  public var attributeText: [String] { [function.text] }
}

/// Gradient of maxout: `dy` routed to the first maximum of each run of pieces.
/// Inputs: `x`, `dy`. Output: `x`'s type.
public struct MaxoutGradAttrs: OpAttributes {
  /// The forward maxout.
  public var maxout: MaxoutAttrs

  /// The input gradient of `maxout`.
  public init(maxout: MaxoutAttrs) { self.maxout = maxout }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    try requireForwardType(inputs[1], try maxout.outputType([inputs[0]]), "dy")
    return inputs[0]
  }

  public var attributeText: [String] { maxout.attributeText }
}

/// Gradient of an embedding table: each row of `dy` added into the row of its index
/// (scatter-add). Inputs: `indices`, `dy`. Output `[vocabulary, dim]`.
public struct EmbeddingGradAttrs: OpAttributes {
  /// The number of rows of the table.
  public var vocabulary: Int

  /// The gradient of a table of `vocabulary` rows.
  public init(vocabulary: Int) { self.vocabulary = vocabulary }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    let (indices, dy) = (inputs[0], inputs[1])
    try require(indices.dtype == .i32 && dy.shape.dropLast() == indices.shape[...], "dy \(dy) must be indices \(indices) + [dim]")
    return TensorType([vocabulary, dy.shape[dy.rank - 1]])
  }

  public var attributeText: [String] { ["vocabulary=\(vocabulary)"] }
}

/// Gradient of a resize: each output gradient spread back over the input elements it read, by
/// their weights. Input: `dy`. Output: the resize's input type, `[N, C, *inputSpatial]`.
public struct ResizeGradAttrs: OpAttributes {
  /// The forward resize.
  public var resize: ResizeAttrs
  /// The forward input's shape.
  public var inputShape: [Int]

  /// The input gradient of `resize` applied to an input of `inputShape`.
  public init(resize: ResizeAttrs, inputShape: [Int]) {
    self.resize = resize
    self.inputShape = inputShape
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    try requireForwardType(inputs[0], try resize.outputType([TensorType(inputShape)]), "dy")
    return TensorType(inputShape)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { resize.flops([output], output: inputs[0]) }

  public var attributeText: [String] { resize.attributeText + ["input=\(formatList(inputShape))"] }
}

/// Gradient of a slice: `dy` placed back at the sliced positions of a zero tensor of the input's
/// shape. Inputs: `dy`.
public struct SliceGradAttrs: OpAttributes {
  /// The forward slice.
  public var slice: SliceAttrs
  /// The forward input's shape.
  public var inputShape: [Int]

  /// The input gradient of `slice` applied to an input of `inputShape`.
  public init(slice: SliceAttrs, inputShape: [Int]) {
    self.slice = slice
    self.inputShape = inputShape
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let forward = try slice.outputType([TensorType(inputShape, inputs[0].dtype)])
    try requireForwardType(inputs[0], forward, "dy")
    return TensorType(inputShape)
  }

  public var attributeText: [String] { slice.attributeText + ["input=\(formatList(inputShape))"] }
}

/// Gradient of padding: every padded position's gradient added into the element it was made up
/// from (nothing for zeros). Inputs: `dy`. Output: the unpadded shape.
public struct PadGradAttrs: OpAttributes {
  /// The forward padding.
  public var pad: PadAttrs

  /// The input gradient of `pad`.
  public init(pad: PadAttrs) { self.pad = pad }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let dy = inputs[0]
    try require(pad.before.count == dy.rank && pad.after.count == dy.rank, "padding does not match dy \(dy)")
    let shape = (0..<dy.rank).map { dy.shape[$0] - pad.before[$0] - pad.after[$0] }
    let forward = try pad.outputType([TensorType(shape)])
    try requireForwardType(dy, forward, "dy")
    return TensorType(shape)
  }

  public var attributeText: [String] { pad.attributeText }
}

/// The operand of a batch normalisation (or loss) a gradient op differentiates with respect to.
public enum BatchNormOperand: String, Codable, Hashable, Sendable {
  /// The normalised input `x`.
  case input
  /// The scale γ.
  case gamma
  /// The shift β.
  case beta
  /// The mean the input is centred by.
  case mean
  /// The variance the input is scaled by.
  case variance
  /// The input, whose batch statistics the mean and the variance are (`BatchNormAttrs.batchStatistics`):
  /// γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)) per channel, x̂ = (x − μ)/σ, its sums taken from the
  /// gradients of γ (Σ dy·x̂) and β (Σ dy), which are its sixth and seventh inputs.
  case inputWithStatistics = "input_with_statistics"
}

/// One gradient of batch normalisation with given statistics. Inputs: `x`, `gamma`, `mean`,
/// `variance`, `dy`, and for `.inputWithStatistics` the gradients of γ and β. Output: `x`'s type
/// for `.input` and `.inputWithStatistics`, else `[C]`.
public struct BatchNormGradAttrs: OpAttributes {
  /// The forward batch norm's ε.
  public var epsilon: Double
  /// The operand differentiated with respect to.
  public var operand: BatchNormOperand

  /// The gradient with respect to `operand` of a batch norm with `epsilon`.
  public init(epsilon: Double, operand: BatchNormOperand) {
    self.epsilon = epsilon
    self.operand = operand
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, operand == .inputWithStatistics ? 7...7 : 5...5)
    let (x, gamma, mean, variance, dy) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4])
    let forward = try BatchNormAttrs(epsilon: epsilon).outputType([x, gamma, gamma, mean, variance])
    try requireForwardType(dy, forward, "dy")
    for (sum, name) in zip(inputs.dropFirst(5), ["γ's gradient", "β's gradient"]) { try requireForwardType(sum, gamma, name) }
    return operand == .input || operand == .inputWithStatistics ? x : TensorType([x.shape[1]])
  }

  public var attributeText: [String] { ["wrt=\(operand.rawValue)", "eps=\(epsilon)"] }
}

/// Which operand of a loss a `LossGradAttrs` differentiates.
public enum LossOperand: String, Codable, Hashable, Sendable {
  /// The logits or predictions.
  case prediction
  /// Float targets (binary cross-entropy, MSE).
  case target
}

/// Gradient of a loss with respect to its prediction (or float target), scaled by the scalar
/// `dy`. Inputs: `prediction`, `target`, `dy`.
public struct LossGradAttrs: OpAttributes {
  /// The forward loss.
  public var loss: LossAttrs
  /// The operand differentiated with respect to.
  public var operand: LossOperand

  /// The gradient of `loss` with respect to `operand`.
  public init(loss: LossAttrs, operand: LossOperand) {
    self.loss = loss
    self.operand = operand
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 3...3)
    try requireForwardType(inputs[2], try loss.outputType([inputs[0], inputs[1]]), "dy")
    try require(operand == .prediction || inputs[1].dtype == .f32, "integer labels have no gradient")
    return operand == .prediction ? inputs[0] : inputs[1]
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 4 * output.elementCount }

  public var attributeText: [String] { loss.attributeText + ["wrt=\(operand.rawValue)"] }
}

/// Gradient of local response normalisation with respect to its input. Inputs: `x`, `dy`.
/// Output: `x`'s type.
public struct LRNGradAttrs: OpAttributes {
  /// The forward normalisation.
  public var lrn: LRNAttrs

  /// The input gradient of `lrn`.
  public init(lrn: LRNAttrs) { self.lrn = lrn }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    try requireForwardType(inputs[1], try lrn.outputType([inputs[0]]), "dy")
    return inputs[0]
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { (4 * lrn.size + 8) * output.elementCount }

  public var attributeText: [String] { lrn.attributeText }
}
