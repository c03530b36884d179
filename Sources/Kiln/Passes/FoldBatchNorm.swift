/// A batch norm folded into the convolution before it: the parameters the folded weight and bias
/// are computed from, and their names in the folded graph. With s = γ / √(σ² + ε) per output
/// channel, the folded weight is W·s and the folded bias (b − μ)·s + β (b = 0 without one).
public struct BatchNormFold: Equatable, Sendable {
  /// The convolution's weight.
  public let weight: String
  /// The convolution's bias (nil: it has none).
  public let bias: String?
  /// The batch norm's γ, β, running mean and running variance.
  public let gamma, beta, mean, variance: String
  /// The batch norm's ε.
  public let epsilon: Double
  /// The folded graph's parameters that hold W·s and (b − μ)·s + β.
  public let foldedWeight, foldedBias: String

  /// The folded weight and bias from the values in `store`.
  public func values(_ store: ParameterStore) throws -> (weight: Tensor<Float>, bias: Tensor<Float>) {
    func value(_ name: String) throws -> Tensor<Float> {
      guard let tensor = store[name] else { throw KilnError.invalidArgument("batch norm folding: parameter \(name) has no value") }
      return tensor
    }
    let weight = try value(self.weight)
    let channels = weight.shape[0]
    let bias = try self.bias.map(value)?.scalars ?? Array(repeating: 0, count: channels)
    let (gamma, beta, mean, variance) = (try value(self.gamma).scalars, try value(beta).scalars, try value(mean).scalars, try value(self.variance).scalars)
    guard [bias.count, gamma.count, beta.count, mean.count, variance.count].allSatisfy({ $0 == channels }) else {
      throw KilnError.invalidArgument("batch norm folding: the statistics of \(self.weight)'s batch norm do not have \(channels) channels")
    }
    let scale = gamma.indices.map { gamma[$0] / (variance[$0] + Float(epsilon)).squareRoot() }
    let perChannel = weight.count / channels
    return (
      Tensor(validShape: weight.shape, scalars: weight.scalars.enumerated().map { $0.element * scale[$0.offset / perChannel] }),
      Tensor(validShape: [channels], scalars: bias.indices.map { (bias[$0] - mean[$0]) * scale[$0] + beta[$0] }))
  }
}

extension Graph {
  /// Every batch norm that directly follows a convolution (the convolution's only reader, all
  /// their parameters read by them alone) folded into it (`BatchNormFold`): the batch norm and its
  /// four parameters disappear and the convolution reads a folded weight and bias. These keep
  /// the convolution's parameter names (a new bias is named after the convolution), or, with
  /// `renaming`, get names of their own (`<name>.folded`), so that the original parameters can
  /// stay beside them. Graphs with state updates (training steps) are returned unchanged.
  public func foldingBatchNorm(renaming: Bool = false) throws -> (graph: Graph, folds: [BatchNormFold]) {
    guard stateUpdates.isEmpty else { return (self, []) }
    var readers = [Int](repeating: 0, count: nodes.count)
    for node in nodes { for input in node.inputs { readers[input.id] += 1 } }
    for output in outputs { readers[output.id] += 1 }
    func parameter(_ id: ValueID) -> String? {
      guard case .parameter = self[id].op, readers[id.id] == 1 else { return nil }
      return self[id].name
    }
    // Convolution → its fold; batch norm → its convolution.
    var folds: [Int: BatchNormFold] = [:]
    var replaced: [Int: Int] = [:]
    for (index, node) in nodes.enumerated() {
      guard case .batchNorm(let attrs) = node.op, readers[node.inputs[0].id] == 1 else { continue }
      let conv = self[node.inputs[0]]
      let statistics = node.inputs[1...].compactMap(parameter)
      guard case .conv = conv.op, let weight = parameter(conv.inputs[1]), statistics.count == 4 else { continue }
      let bias = conv.inputs.count > 2 ? parameter(conv.inputs[2]) : nil
      guard conv.inputs.count == 2 || bias != nil else { continue }
      let newBias = bias ?? conv.name + ".bias"
      folds[node.inputs[0].id] = BatchNormFold(
        weight: weight, bias: bias, gamma: statistics[0], beta: statistics[1], mean: statistics[2], variance: statistics[3], epsilon: attrs.epsilon,
        foldedWeight: renaming ? weight + ".folded" : weight, foldedBias: renaming ? newBias + ".folded" : newBias)
      replaced[index] = node.inputs[0].id
    }
    guard !folds.isEmpty else { return (self, []) }
    // Parameters read by nothing once folded: the batch norms' and, renaming, the convolutions'.
    let dropped = Set(folds.values.flatMap { fold in
      [fold.gamma, fold.beta, fold.mean, fold.variance] + (renaming ? [fold.weight] + (fold.bias.map { [$0] } ?? []) : [])
    })
    var map: [Int: ValueID] = [:]
    let folded = try rewritten { node, inputs, result in
      let index = self.index(of: node.name)!.id
      if let conv = replaced[index] { return map[conv] }
      guard let fold = folds[index] else { return try result.append(copyOf: node, inputs: inputs) }
      let weight = renaming ? try result.append(fold.foldedWeight, self[node.inputs[1]].op) : inputs[1]
      let bias = renaming || fold.bias == nil
        ? try result.append(fold.foldedBias, .parameter(ParameterAttrs(TensorType([node.type.shape[1]]), initializer: .zeros))) : inputs[2]
      let output = try result.append(node.name, node.op, inputs: [inputs[0], weight, bias])
      map[index] = output
      return output
    }
    let pruned = try folded.rewritten { node, inputs, result in
      if case .parameter = node.op, dropped.contains(node.name) { return nil }
      return try result.append(copyOf: node, inputs: inputs)
    }
    return (pruned, Array(folds.values).sorted { $0.foldedWeight < $1.foldedWeight })
  }
}

extension Model {
  /// For inference: every batch norm that directly follows a convolution folded into it
  /// (`Graph.foldingBatchNorm`), the folded weight and bias computed here under the
  /// convolution's parameter names, the batch norm's parameters gone. Graphs with state
  /// updates (training steps) are returned unchanged.
  public func foldingBatchNorm() throws -> Model {
    let (folded, folds) = try graph.foldingBatchNorm()
    guard !folds.isEmpty else { return self }
    var computed: [String: Tensor<Float>] = [:]
    for fold in folds {
      (computed[fold.foldedWeight], computed[fold.foldedBias]) = try fold.values(parameters)
    }
    var store = ParameterStore()
    for value in folded.parameters {
      let name = folded[value].name
      store[name] = computed[name] ?? parameters[name]
    }
    return try Model(graph: folded, parameters: store)
  }
}
