import Foundation

/// A model summary, like Keras's `model.summary()` with the receptive field added: one row per
/// computing node, totals at the bottom.
public struct Summary: Codable, Sendable {
  /// One computing node's line of the summary.
  public struct Row: Codable, Sendable {
    /// The node's name.
    public var name: String
    /// The op's display name (`Conv2D`, `MaxPool2D`).
    public var op: String
    /// The node's output shape.
    public var outputShape: [Int]
    /// Trainable and state scalars of the parameters this node is the first to use.
    public var parameters: Int
    /// Multiply-adds the node computes.
    public var multiplyAdds: Int
    /// Floating-point operations the node computes.
    public var flops: Int
    /// The output's receptive field, for nodes below the first flattening.
    public var receptiveField: ReceptiveField?
  }

  /// The graph's name.
  public var model: String
  /// The shape of each data input.
  public var inputShapes: [[Int]]
  /// One row per computing node, in order.
  public var rows: [Row]
  /// Weights the optimizer learns (what papers and `torch` count as parameters).
  public var trainableParameters: Int
  /// State such as batch-norm running statistics (PyTorch's buffers).
  public var stateParameters: Int
  /// Multiply-adds of the whole graph.
  public var multiplyAdds: Int
  /// Floating-point operations of the whole graph.
  public var flops: Int

  /// The summary of `graph`.
  public init(_ graph: Graph) {
    let fields = ReceptiveField.compute(graph)
    var counted = Set<Int>()
    var rows: [Row] = []
    var (trainable, state) = (0, 0)
    for (index, node) in graph.nodes.enumerated() {
      if case .parameter(let attrs) = node.op {
        if attrs.role == .weight { trainable += node.type.elementCount } else { state += node.type.elementCount }
      }
      if node.op.isSource { continue }
      let inputTypes = node.inputs.map { graph[$0].type }
      var parameters = 0
      for input in node.inputs where !counted.contains(input.id) {
        if case .parameter = graph[input].op {
          counted.insert(input.id)
          parameters += graph[input].type.elementCount
        }
      }
      let attributes = node.op.attributes
      rows.append(
        Row(
          name: node.name, op: node.op.mnemonic, outputShape: node.type.shape, parameters: parameters,
          multiplyAdds: attributes.multiplyAdds(inputTypes, output: node.type),
          flops: attributes.flops(inputTypes, output: node.type), receptiveField: fields[index]))
    }
    model = graph.name
    inputShapes = graph.inputs.map { graph[$0].type.shape }
    self.rows = rows
    trainableParameters = trainable
    stateParameters = state
    multiplyAdds = rows.reduce(0) { $0 + $1.multiplyAdds }
    flops = rows.reduce(0) { $0 + $1.flops }
  }

  /// The summary as an aligned table.
  public var text: String {
    var table = TextTable(header: ["layer", "op", "output", "params", "MACs", "receptive field"], rightAligned: [3, 4])
    for row in rows {
      table.append([
        row.name, row.op, TensorType(row.outputShape).description, grouped(row.parameters), grouped(row.multiplyAdds),
        row.receptiveField?.description ?? "-",
      ])
    }
    table.rulesBefore = [rows.count]
    let inputs = inputShapes.map { TensorType($0).description }.joined(separator: ", ")
    return [
      "Model \(model), input \(inputs)", table.text,
      "Parameters: \(grouped(trainableParameters + stateParameters)) (trainable \(grouped(trainableParameters)), state \(grouped(stateParameters)))",
      "Multiply-adds: \(grouped(multiplyAdds))  FLOPs: \(grouped(flops))",
    ].joined(separator: "\n") + "\n"
  }
}
