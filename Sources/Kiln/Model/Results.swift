/// What a run returns, from the interpreter or from compiled code alike: the graph's outputs in
/// order and by name, and, for a differentiated graph, the gradients by target name.
///
/// ```swift
/// let results = try model.run(["input": image])
/// let logits = results[0]                        // or results["fc3"]
/// let dw = try model.vjp(["input": image], cotangent: dy, withRespectTo: ["conv1.weight"])
///   .gradients["conv1.weight"]
/// ```
public struct Results<Scalar: KilnScalar>: RandomAccessCollection, Sendable {
  /// The outputs, in the graph's order.
  public let outputs: [Tensor<Scalar>]
  /// The node name of each output, in the same order.
  public let names: [String]
  /// For a differentiated graph (`Graph.vjp`, `Graph.differentiated`): the gradient with respect
  /// to each target, by the target's name. Empty otherwise.
  public let gradients: [String: Tensor<Scalar>]

  /// The results of a run of `graph` that produced `outputs` (one per graph output, in order).
  package init(graph: Graph, outputs: [Tensor<Scalar>]) {
    precondition(outputs.count == graph.outputs.count, "\(outputs.count) results for the \(graph.outputs.count) outputs of \(graph.name)")
    self.outputs = outputs
    names = graph.outputs.map { graph[$0].name }
    gradients = graph.gradientOutputs.mapValues { outputs[$0] }
  }

  /// The output computed by the node called `name`, or nil if no output has that name.
  public subscript(name: String) -> Tensor<Scalar>? { names.firstIndex(of: name).map { outputs[$0] } }

  /// The position of the first output.
  public var startIndex: Int { 0 }
  /// One past the position of the last output.
  public var endIndex: Int { outputs.count }
  /// The output at `position`, in the graph's order.
  public subscript(position: Int) -> Tensor<Scalar> { outputs[position] }
}
