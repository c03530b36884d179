extension Graph {
  /// Average pooling that follows a pointwise convolution, moved before it where the pooling has
  /// fewer outputs than inputs: both are linear per position and the pooling's weights sum to
  /// one in every window, so pool(W·x + b) = W·pool(x) + b, and the convolution then runs on
  /// the pooled positions only (DenseNet's transitions: a quarter of their multiply-adds). The
  /// pooling must be unpadded and not in ceil mode (windows that sum to one), the convolution
  /// 1×1 with stride 1 and no padding, read by the pooling alone, neither of them a graph
  /// output. Results differ from the original order by rounding only.
  public func poolingBeforePointwise() throws -> Graph {
    var readers = [Int](repeating: 0, count: nodes.count)
    for node in nodes { for input in node.inputs { readers[input.id] += 1 } }
    for output in outputs { readers[output.id] += 1 }
    // Pooling → the convolution it moves before.
    var moved: [Int: Int] = [:]
    for (index, node) in nodes.enumerated() {
      guard case .pool(let pool) = node.op, pool.kind == .average, pool.padding.isNone, !pool.ceilMode
      else { continue }
      let conv = node.inputs[0]
      guard case .conv(let a) = self[conv].op, readers[conv.id] == 1, !outputs.contains(ValueID(index)),
        self[self[conv].inputs[1]].type.shape.dropFirst(2).allSatisfy({ $0 == 1 }), a.stride.allSatisfy({ $0 == 1 }), a.padding.isNone,
        node.type.elementCount / node.type.shape[1] < self[conv].type.elementCount / self[conv].type.shape[1]
      else { continue }
      moved[index] = conv.id
    }
    guard !moved.isEmpty else { return self }
    let convolutions = Set(moved.values)
    // A moved convolution's operands, mapped, until its pooling appends it.
    var operands: [Int: [ValueID]] = [:]
    return try rewritten { node, inputs, result in
      let position = index(of: node.name)!.id
      if convolutions.contains(position) {
        operands[position] = inputs
        return inputs[0]
      }
      guard let conv = moved[position], let convInputs = operands[conv] else { return try result.append(copyOf: node, inputs: inputs) }
      let pooled = try result.append(node.name, node.op, inputs: [convInputs[0]])
      return try result.append(nodes[conv].name, nodes[conv].op, inputs: [pooled] + convInputs.dropFirst())
    }
  }
}
