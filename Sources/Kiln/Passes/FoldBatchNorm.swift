extension Model {
  /// For inference: every batch norm that directly follows a convolution (the convolution's only
  /// reader) is folded into it. With s = γ / √(σ² + ε) per output channel, the convolution's
  /// weight becomes W·s and its bias (b − μ)·s + β (b = 0 without one), and the batch norm and its
  /// four parameters disappear. The folded weight and bias keep the convolution's parameter names.
  /// Graphs with state updates (training steps) are returned unchanged.
  public func foldingBatchNorm() throws -> Model {
    guard graph.stateUpdates.isEmpty else { return self }
    var readers = [Int](repeating: 0, count: graph.nodes.count)
    for node in graph.nodes { for input in node.inputs { readers[input.id] += 1 } }
    for output in graph.outputs { readers[output.id] += 1 }
    func value(_ id: ValueID) -> Tensor<Float>? {
      guard case .parameter = graph[id].op, readers[id.id] == 1 else { return nil }
      return parameters[graph[id].name]
    }
    // Convolution → its folded weight and bias; batch norm → its convolution; dropped parameters.
    var folded: [Int: (weight: Tensor<Float>, bias: Tensor<Float>)] = [:]
    var replaced: [Int: Int] = [:]
    var dropped = Set<Int>()
    for (index, node) in graph.nodes.enumerated() {
      guard case .batchNorm(let attrs) = node.op, readers[node.inputs[0].id] == 1 else { continue }
      let conv = graph[node.inputs[0]]
      guard case .conv = conv.op, let weight = value(conv.inputs[1]) else { continue }
      let statistics = node.inputs[1...].compactMap(value)
      let bias = conv.inputs.count > 2 ? value(conv.inputs[2]) : Tensor(validShape: [weight.shape[0]], scalars: Array(repeating: 0, count: weight.shape[0]))
      guard statistics.count == 4, let bias else { continue }
      let (gamma, beta, mean, variance) = (statistics[0].scalars, statistics[1].scalars, statistics[2].scalars, statistics[3].scalars)
      let scale = gamma.indices.map { gamma[$0] / (variance[$0] + Float(attrs.epsilon)).squareRoot() }
      let perChannel = weight.count / weight.shape[0]
      folded[node.inputs[0].id] = (
        Tensor(validShape: weight.shape, scalars: weight.scalars.enumerated().map { $0.element * scale[$0.offset / perChannel] }),
        Tensor(validShape: bias.shape, scalars: bias.scalars.indices.map { (bias.scalars[$0] - mean[$0]) * scale[$0] + beta[$0] }))
      replaced[index] = node.inputs[0].id
      dropped.formUnion(node.inputs[1...].map(\.id))
    }
    guard !folded.isEmpty else { return self }
    var store = ParameterStore()
    var map: [Int: ValueID] = [:]
    let rewritten = try graph.rewritten { node, inputs, result in
      let index = graph.index(of: node.name)!.id
      if let conv = replaced[index] { return map[conv] }
      guard let values = folded[index] else {
        if case .parameter = node.op { store[node.name] = parameters[node.name] }
        return try result.append(copyOf: node, inputs: inputs)
      }
      // The folded convolution: its weight parameter gets the folded values, its bias is new when
      // it had none.
      let weightName = graph[node.inputs[1]].name
      store[weightName] = values.weight
      var operands = Array(inputs.prefix(2))
      if node.inputs.count > 2 {
        operands.append(inputs[2])
        store[graph[node.inputs[2]].name] = values.bias
      } else {
        let name = node.name + ".bias"
        operands.append(try result.append(name, .parameter(ParameterAttrs(TensorType(values.bias.shape), initializer: .zeros))))
        store[name] = values.bias
      }
      let output = try result.append(node.name, node.op, inputs: operands)
      map[index] = output
      return output
    }
    // The batch norms' parameters, read by nothing now, go too.
    let names = Set(dropped.map { graph.nodes[$0].name })
    for name in names { store[name] = nil }
    return try Model(graph: rewritten.rewritten { node, inputs, result in
      names.contains(node.name) ? nil : try result.append(copyOf: node, inputs: inputs)
    }, parameters: store)
  }
}
