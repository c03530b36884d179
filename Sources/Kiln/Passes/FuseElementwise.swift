extension Graph {
  /// The graph with chains of elementwise ops merged into `fusedElementwise` nodes, for compiled
  /// code. An op joins the op that reads it when both are `unary`, or `binary` on operands with
  /// the output's elements or a single one, when that reader is its only one, and when its value
  /// is neither an output nor a state or its update. The merged node keeps the name of the chain's
  /// last op; an op that nothing joins stays as it is.
  public func fusingElementwise() throws -> Graph {
    var readers = [Set<Int>](repeating: [], count: nodes.count)
    for (index, node) in nodes.enumerated() {
      for input in node.inputs { readers[input.id].insert(index) }
    }
    let pinned = Set((outputs + stateUpdates.flatMap { [$0.state, $0.newValue] }).map(\.id))
    let fusible = nodes.map(isFusible)
    // The reader each joining op is computed in.
    var host = [Int?](repeating: nil, count: nodes.count)
    for index in nodes.indices where fusible[index] && !pinned.contains(index) && readers[index].count == 1 {
      if let reader = readers[index].first, fusible[reader] { host[index] = reader }
    }
    // The joining ops of each chain in graph order, then its last op, by that op's index.
    var chains: [Int: [Int]] = [:]
    for index in nodes.indices {
      guard var last = host[index] else {
        chains[index]?.append(index)
        continue
      }
      while let next = host[last] { last = next }
      chains[last, default: []].append(index)
    }
    // A joining op's value is never read (its reader is fused with it): it stands for itself by
    // its first input, and keeps its mapped inputs for the chain's last op.
    var joinedInputs: [Int: [ValueID]] = [:]
    return try rewritten { node, inputs, result in
      guard let index = index(of: node.name)?.id else { return nil }
      if host[index] != nil {
        joinedInputs[index] = inputs
        return inputs[0]
      }
      guard let chain = chains[index] else { return try result.append(copyOf: node, inputs: inputs) }
      joinedInputs[index] = inputs
      var leaves: [ValueID] = []
      let steps = chain.map { member in
        let operands = nodes[member].inputs.enumerated().map { position, input -> FusedElementwiseAttrs.Operand in
          if let step = chain.firstIndex(of: input.id) { return .step(step) }
          let leaf = joinedInputs[member]![position]
          if let known = leaves.firstIndex(of: leaf) { return .input(known) }
          leaves.append(leaf)
          return .input(leaves.count - 1)
        }
        return FusedElementwiseAttrs.Step(Self.fusedOperation(nodes[member].op)!, operands)
      }
      return try result.append(node.name, .fusedElementwise(FusedElementwiseAttrs(steps: steps)), inputs: leaves)
    }
  }

  /// Whether `node` can be part of a fused elementwise chain: a `unary`, or a `binary` whose
  /// operands have its elements or one (no other broadcasting).
  private func isFusible(_ node: Node) -> Bool {
    guard Self.fusedOperation(node.op) != nil else { return false }
    return node.inputs.allSatisfy { [node.type.elementCount, 1].contains(self[$0].type.elementCount) }
  }

  /// The step a `unary` or `binary` op becomes; nil for every other op.
  private static func fusedOperation(_ op: Op) -> FusedElementwiseAttrs.Operation? {
    switch op {
    case .unary(let a): return .unary(a.function)
    case .binary(let a): return .binary(a.op)
    case .input, .parameter, .conv, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .fusedElementwise, .maxout,
      .softmax, .reduce, .concat, .slice, .reshape, .transpose, .pad, .resize, .batchNorm, .lrn, .dropout, .loss, .allReduce,
      .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad,
      .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      return nil
    }
  }
}
