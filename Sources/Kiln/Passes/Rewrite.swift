extension Graph {
  /// A new graph made by visiting the nodes in order: `body` gets each node with its inputs
  /// already mapped into the new graph, appends whatever replaces it, and returns the value that
  /// stands for it (or nil to drop a node nothing live uses). A node that reads a dropped value is
  /// dropped with it. Outputs (with their gradient labels) and state updates are mapped; one that was dropped is an error.
  func rewritten(_ body: (Node, [ValueID], inout Graph) throws -> ValueID?) throws -> Graph {
    try rewrittenWithMap(body).graph
  }

  /// `rewritten(_:)`, also returning where each old value went (nil if dropped).
  func rewrittenWithMap(_ body: (Node, [ValueID], inout Graph) throws -> ValueID?) throws -> (graph: Graph, map: [ValueID?]) {
    var result = Graph(name: name)
    var map: [ValueID?] = []
    map.reserveCapacity(nodes.count)
    for node in nodes {
      let inputs = node.inputs.compactMap { map[$0.id] }
      map.append(inputs.count == node.inputs.count ? try body(node, inputs, &result) : nil)
    }
    func mapped(_ value: ValueID) throws -> ValueID {
      guard let new = map[value.id] else { throw KilnError.invalidGraph("a rewrite dropped \(self[value].name), which is still used") }
      return new
    }
    result.outputs = try outputs.map(mapped)
    result.gradientOutputs = gradientOutputs
    for update in stateUpdates {
      try result.addStateUpdate(state: try mapped(update.state), newValue: try mapped(update.newValue))
    }
    return (result, map)
  }

  /// Appends a copy of `node` with `inputs`.
  mutating func append(copyOf node: Node, inputs: [ValueID]) throws -> ValueID {
    try append(node.name, node.op, inputs: inputs)
  }
}
