/// A graph extended with the backward nodes of one value: a scalar loss, or any output with a
/// given cotangent (a vector-Jacobian product).
public struct Differentiated: Sendable {
  /// The forward nodes followed by the backward nodes. Its outputs are the differentiated value
  /// and then the gradients, in the order the targets were given; `graph.gradientOutputs` says
  /// which output holds which gradient, so every backend reports them by name.
  public var graph: Graph
  /// The differentiated value: the loss, or the output of a vector-Jacobian product.
  public var loss: ValueID
  /// The gradient with respect to each target, by the target's node name.
  public var gradients: [String: ValueID]
}

extension Graph {
  /// The name of the input that carries the cotangent of a vector-Jacobian product.
  public static let cotangentInput = "cotangent"

  /// Reverse-mode differentiation as a graph transformation: walks the graph backwards from
  /// `loss` (a scalar), asks each op's VJP rule for the gradients of its inputs, and sums the
  /// gradients of values used more than once. Only values that lie between a target and the loss
  /// get backward nodes, so frozen parameters (not among the targets) cost nothing. The result is
  /// an ordinary graph, cleaned by dead-code elimination and CSE.
  ///
  /// - Parameters:
  ///   - loss: a value with one element.
  ///   - targets: the parameters (or inputs, for saliency maps) to differentiate with respect to.
  ///   - scale: the loss's cotangent: the gradients are those of `scale` × the loss (a process's
  ///     share of a data-parallel batch, so that the processes' gradients add up to the batch's).
  public func differentiated(loss: ValueID, withRespectTo targets: [ValueID], scale: Double = 1) throws -> Differentiated {
    guard nodes.indices.contains(loss.id), self[loss].type.elementCount == 1, self[loss].type.dtype == .f32 else {
      let what = nodes.indices.contains(loss.id) ? "\(self[loss].name) is \(self[loss].type)" : "\(loss) is not a node"
      throw KilnError.invalidArgument("the loss must be a float scalar, but \(what); reduce it with a loss op or reduced(.sum, …), or use vjp(of:withRespectTo:)")
    }
    var backward = BackwardBuilder(graph: self)
    let seed = try backward.emit("seed", .unary(UnaryAttrs(.affine(scale: 0, shift: scale))), [loss])
    return try backpropagate(from: loss, seed: seed, targets: targets, backward: backward)
  }

  /// The vector-Jacobian product of `output` as a graph: it gains an input called `cotangent`
  /// (`Graph.cotangentInput`) of `output`'s type, and its outputs are `output` followed by
  /// cotangentᵀ·∂output/∂target for each target. This is PyTorch's `y.backward(dy)`: feed `dy` as
  /// `cotangent` and read `results.gradients["conv1.weight"]` from either backend.
  ///
  /// ```swift
  /// let vjp = try model.graph.vjp(withRespectTo: ["input", "conv1.weight"])
  /// let results = try Interpreter<Double>(vjp.graph).run(["input": x, "cotangent": dy], parameters: model.parameters)
  /// let dx = results.gradients["input"]
  /// ```
  ///
  /// - Parameters:
  ///   - output: the name of the value to differentiate; nil for the graph's first output.
  ///   - targets: names of inputs or parameters.
  public func vjp(of output: String? = nil, withRespectTo targets: [String]) throws -> Differentiated {
    guard let outputValue = output.map({ index(of: $0) }) ?? outputs.first else {
      throw KilnError.invalidArgument(output.map { "\(name) has no value called \($0)" } ?? "\(name) has no outputs to differentiate")
    }
    guard self[outputValue].type.dtype == .f32 else {
      throw KilnError.invalidArgument("cannot differentiate \(self[outputValue].name) \(self[outputValue].type): it holds integers")
    }
    guard index(of: Graph.cotangentInput) == nil else {
      throw KilnError.invalidArgument("\(name) already has a node called \(Graph.cotangentInput); rename it to take its vector-Jacobian product")
    }
    let targetValues = try targets.map { target in
      guard let value = index(of: target) else {
        let known = (inputs + parameters).map { self[$0].name }
        throw KilnError.invalidArgument(
          "\(name) has no input or parameter called \(target); it has \(known.prefix(8).joined(separator: ", "))\(known.count > 8 ? ", …" : "")")
      }
      return value
    }
    var backward = BackwardBuilder(graph: self)
    let seed = try backward.graph.append(Graph.cotangentInput, .input(InputAttrs(self[outputValue].type)))
    return try backpropagate(from: outputValue, seed: seed, targets: targetValues, backward: backward)
  }

  /// The backward nodes of `root`, whose gradient is `seed` (already in `backward`'s graph), down
  /// to `targets`; outputs `root` and the gradients.
  private func backpropagate(from root: ValueID, seed: ValueID, targets: [ValueID], backward: BackwardBuilder) throws -> Differentiated {
    for target in targets where !nodes.indices.contains(target.id) || self[target].type.dtype != .f32 {
      throw KilnError.invalidArgument("cannot differentiate with respect to \(target): it must be a float value of \(name)")
    }
    // Values that depend on a target, and values the root depends on.
    var dependsOnTarget = [Bool](repeating: false, count: nodes.count)
    for target in targets { dependsOnTarget[target.id] = true }
    for (index, node) in nodes.enumerated() where node.type.dtype == .f32 && node.inputs.contains(where: { dependsOnTarget[$0.id] }) {
      dependsOnTarget[index] = true
    }
    var feedsRoot = [Bool](repeating: false, count: nodes.count)
    feedsRoot[root.id] = true
    for index in stride(from: root.id, through: 0, by: -1) where feedsRoot[index] {
      for input in nodes[index].inputs { feedsRoot[input.id] = true }
    }

    var backward = backward
    var contributions: [Int: [ValueID]] = [root.id: [seed]]
    for index in stride(from: root.id, through: 0, by: -1) {
      let node = nodes[index]
      guard let parts = contributions[index], dependsOnTarget[index], feedsRoot[index], !node.inputs.isEmpty else { continue }
      let dy = try backward.sum(parts, name: node.name)
      let needs = node.inputs.map { dependsOnTarget[$0.id] }
      let gradients = try backward.vjp(node, ValueID(index), dy: dy, needs: needs)
      for (input, gradient) in zip(node.inputs, gradients) {
        if let gradient { contributions[input.id, default: []].append(gradient) }
      }
    }
    var gradients: [String: ValueID] = [:]
    var outputs = [root]
    var positions: [String: Int] = [:]
    for target in targets {
      let name = self[target].name
      let gradient = try contributions[target.id].map { try backward.sum($0, name: name) }
        // A target the root does not depend on has a zero gradient.
        ?? backward.emit("\(name).zero", .unary(UnaryAttrs(.affine(scale: 0, shift: 0))), [target])
      gradients[name] = gradient
      positions[name] = outputs.count
      outputs.append(gradient)
    }
    backward.graph.outputs = outputs
    backward.graph.gradientOutputs = positions
    let (live, deadMap) = try backward.graph.removingDeadNodesWithMap()
    let (cleaned, mergedMap) = try live.eliminatingCommonSubexpressionsWithMap()
    func moved(_ value: ValueID) throws -> ValueID {
      guard let kept = deadMap[value.id], let merged = mergedMap[kept.id] else {
        throw KilnError.invalidGraph("autodiff lost \(backward.graph[value].name)")
      }
      return merged
    }
    return Differentiated(graph: cleaned, loss: try moved(root), gradients: try gradients.mapValues(moved))
  }
}

/// Appends backward nodes to a graph, with names `grad.<forward name>.<what>`.
struct BackwardBuilder {
  var graph: Graph
  private var used: [String: Int] = [:]

  init(graph: Graph) { self.graph = graph }

  /// Appends a node named `grad.<name>` (with a counter if that is taken).
  mutating func emit(_ name: String, _ op: Op, _ inputs: [ValueID]) throws -> ValueID {
    var unique = "grad.\(name)"
    if let count = used[unique] {
      used[unique] = count + 1
      unique += ".\(count + 1)"
    } else {
      used[unique] = 1
    }
    return try graph.append(unique, op, inputs: inputs)
  }

  /// The sum of `parts` (the fan-in of one value's gradient).
  mutating func sum(_ parts: [ValueID], name: String) throws -> ValueID {
    var total = parts[0]
    for part in parts.dropFirst() { total = try emit("\(name).sum", .binary(BinaryAttrs(.add)), [total, part]) }
    return total
  }

  func type(_ value: ValueID) -> TensorType { graph[value].type }
}
