extension Graph {
  /// The graph without nodes that no output or state update depends on. Inputs and parameters
  /// always stay: they are the graph's interface.
  public func removingDeadNodes() throws -> Graph { try removingDeadNodesWithMap().graph }

  func removingDeadNodesWithMap() throws -> (graph: Graph, map: [ValueID?]) {
    var live = [Bool](repeating: false, count: nodes.count)
    var work = outputs + stateUpdates.flatMap { [$0.state, $0.newValue] }
    while let value = work.popLast() {
      guard !live[value.id] else { continue }
      live[value.id] = true
      work.append(contentsOf: self[value].inputs)
    }
    return try rewrittenWithMap { node, inputs, result in
      if node.op.isSource { return try result.append(copyOf: node, inputs: inputs) }
      let isLive = index(of: node.name).map { live[$0.id] } ?? false
      return isLive ? try result.append(copyOf: node, inputs: inputs) : nil
    }
  }

  /// The graph with repeated computations merged: a node with the same op and the same inputs as
  /// an earlier one is replaced by it (a backward graph recomputes e.g. softmax). Inputs and
  /// parameters are never merged.
  public func eliminatingCommonSubexpressions() throws -> Graph { try eliminatingCommonSubexpressionsWithMap().graph }

  func eliminatingCommonSubexpressionsWithMap() throws -> (graph: Graph, map: [ValueID?]) {
    struct Key: Hashable {
      var op: Op
      var inputs: [ValueID]
    }
    var seen: [Key: ValueID] = [:]
    return try rewrittenWithMap { node, inputs, result in
      if node.op.isSource { return try result.append(copyOf: node, inputs: inputs) }
      let key = Key(op: node.op, inputs: inputs)
      if let earlier = seen[key] { return earlier }
      let value = try result.append(copyOf: node, inputs: inputs)
      seen[key] = value
      return value
    }
  }
}
