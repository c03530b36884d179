/// The gradient exchange of data-parallel training: the sum, over the processes of the job, of
/// `weight` × the input; every process gets the same result. A training graph for one of N
/// processes (`TrainingGraph(…, share:)`) sums its gradients through one such node, with the
/// process's share of the global batch as the weight, so the sum is the global batch's mean
/// gradient. Compiled code reaches the other processes through the communicator its runtime pool
/// holds (`kiln_pool_set_communicator`); without one — and in the interpreter, which runs one
/// process — the result is `weight` × the input.
public struct AllReduceAttrs: OpAttributes {
  /// What this process's values are multiplied by before the sum.
  public var weight: Double

  /// A sum over processes of `weight` × the input.
  public init(weight: Double = 1) { self.weight = weight }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    try requireFloat(inputs[0], "input")
    return inputs[0]
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { output.elementCount }

  public var attributeText: [String] { ["weight=\(weight)"] }
}
