import Kiln

/// Activations folded into the convolution, dense layer, batch norm or arithmetic that produces
/// their input: the producer applies the function as it writes its output (a convolution as it
/// adds its bias), and the activation node becomes a view of the producer's (now activated)
/// output.
///
/// Every activation but affine maps and √ is fused when nothing else reads the producer. When
/// the activation's own gradient reads it too, only those whose derivative follows from the
/// activated value alone are (relu, ELU, sigmoid, tanh, clamps: the sign of x is the sign of y,
/// or f′ reads y), so a backward graph that reads the producer's output gets the right gradients.
///
/// A residual connection's sum, f(conv(x) + shortcut) or conv(x) + shortcut, is folded into the
/// convolution the same way when nothing else reads the convolution's output, the shortcut is
/// computed before it with the same shape, and `takesResidual` says the convolution's kernel can
/// add it (ResNet's blocks, MobileNet v2's): the kernel adds the shortcut to each output before
/// the activation, and the sum becomes a view of its output.
struct Fusion {
  /// Producer node → the activation it applies.
  private(set) var epilogues: [Int: UnaryFunction] = [:]
  /// Fused activation or sum node → its producer.
  private(set) var views: [Int: Int] = [:]
  /// Convolution node → the shortcut its kernel adds to its output (before the activation).
  private(set) var residuals: [Int: ValueID] = [:]

  init(_ graph: Graph, takesResidual: (Int) -> Bool = { _ in false }) {
    var consumers = [[Int]](repeating: [], count: graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
      for input in node.inputs { consumers[input.id].append(index) }
    }
    let pinned = Set(graph.outputs.map(\.id) + graph.stateUpdates.flatMap { [$0.state.id, $0.newValue.id] })
    for (index, node) in graph.nodes.enumerated() {
      guard case .unary(let attrs) = node.op, Fusion.isFusible(attrs.function) else { continue }
      let producer = node.inputs[0].id
      guard epilogues[producer] == nil, !pinned.contains(producer) else { continue }
      guard Fusion.appliesActivations(graph.nodes[producer].op) else { continue }
      // Every other reader of the producer must be this activation's own gradient.
      let others = consumers[producer].filter { $0 != index }
      let onlyGradients = others.allSatisfy { other in
        if case .unaryGrad(let grad) = graph.nodes[other].op, grad.function == attrs.function, graph.nodes[other].inputs[1].id == index {
          return true
        }
        return false
      }
      guard others.isEmpty || (onlyGradients && Fusion.hasDerivativeFromOutput(attrs.function)) else { continue }
      epilogues[producer] = attrs.function
      views[index] = producer
    }
    for (index, node) in graph.nodes.enumerated() {
      guard let activation = Fusion.sum(node), node.inputs.count == 2, node.inputs[0] != node.inputs[1] else { continue }
      // A sum node whose activation was fused into it hands that activation on.
      let function = activation ?? epilogues[index]
      for (position, input) in node.inputs.enumerated() {
        let (producer, shortcut) = (input.id, node.inputs[1 - position])
        guard case .conv = graph.nodes[producer].op, shortcut.id < producer, epilogues[producer] == nil, !pinned.contains(producer),
          consumers[producer] == [index], graph[input].type == node.type, graph[shortcut].type == node.type, takesResidual(producer)
        else { continue }
        (residuals[producer], epilogues[producer], epilogues[index], views[index]) = (shortcut, function, nil, producer)
        break
      }
    }
  }

  /// Whether `node` is a sum of two values, as an `add` or a fused chain of an add and perhaps a
  /// fusible activation of it: .some(the activation), or nil for any other node.
  static func sum(_ node: Node) -> UnaryFunction?? {
    if case .binary(let a) = node.op { return a.op == .add ? .some(nil) : nil }
    guard case .fusedElementwise(let a) = node.op, a.steps.first == .init(.binary(.add), [.input(0), .input(1)]) else { return nil }
    if a.steps.count == 1 { return .some(nil) }
    guard a.steps.count == 2, case .unary(let function) = a.steps[1].operation, a.steps[1].operands == [.step(0)], isFusible(function) else { return nil }
    return function
  }

  /// Whether `op`'s kernel applies an activation as it writes its output.
  static func appliesActivations(_ op: Op) -> Bool {
    switch op {
    case .conv, .dense, .batchNorm, .binary: return true
    case .input, .parameter, .convTranspose, .pool, .globalPool, .matmul, .embedding, .unary, .fusedElementwise, .maxout, .softmax,
      .reduce, .concat, .slice, .reshape, .transpose, .pad, .resize, .lrn, .dropout, .loss, .allReduce, .convInputGrad, .convWeightGrad,
      .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad,
      .lossGrad:
      return false
    }
  }

  static func isFusible(_ function: UnaryFunction) -> Bool {
    switch function {
    case .relu, .relu6, .leakyReLU, .elu, .sigmoid, .tanh, .clamp, .hardSigmoid, .hardSwish, .silu, .erf, .gelu: return true
    case .affine, .sqrt: return false
    }
  }

  /// Whether f′ follows from y = f(x) alone, as the gradient lowering computes it when the
  /// producer's output holds y (the sign of x is the sign of y, or the derivative reads y).
  static func hasDerivativeFromOutput(_ function: UnaryFunction) -> Bool {
    switch function {
    case .relu, .relu6, .elu, .sigmoid, .tanh, .clamp: return true
    case .leakyReLU(let slope): return slope > 0
    case .hardSigmoid, .hardSwish, .silu, .erf, .gelu, .affine, .sqrt: return false
    }
  }
}
