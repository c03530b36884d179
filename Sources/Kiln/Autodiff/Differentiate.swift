/// A graph extended with the backward nodes of one scalar loss.
public struct Differentiated: Sendable {
  /// The forward nodes followed by the backward nodes. Its outputs are the loss and then the
  /// gradients, in the order the targets were given.
  public var graph: Graph
  public var loss: ValueID
  /// The gradient of the loss with respect to each target, by the target's node name.
  public var gradients: [String: ValueID]
}

extension Graph {
  /// Reverse-mode differentiation as a graph transformation: walks the graph backwards from
  /// `loss` (a scalar), asks each op's VJP rule for the gradients of its inputs, and sums the
  /// gradients of values used more than once. Only values that lie between a target and the loss
  /// get backward nodes, so frozen parameters (not among the targets) cost nothing. The result is
  /// an ordinary graph, cleaned by dead-code elimination and CSE.
  ///
  /// - Parameters:
  ///   - loss: a value with one element.
  ///   - targets: the parameters (or inputs, for saliency maps) to differentiate with respect to.
  public func differentiated(loss: ValueID, withRespectTo targets: [ValueID]) throws -> Differentiated {
    guard nodes.indices.contains(loss.id), self[loss].type.elementCount == 1, self[loss].type.dtype == .f32 else {
      let what = nodes.indices.contains(loss.id) ? "\(self[loss].name) is \(self[loss].type)" : "\(loss) is not a node"
      throw KilnError.invalidArgument("the loss must be a float scalar, but \(what); reduce it with a loss op or reduced(.sum, …)")
    }
    for target in targets where !nodes.indices.contains(target.id) || self[target].type.dtype != .f32 {
      throw KilnError.invalidArgument("cannot differentiate with respect to \(target): it must be a float value of \(name)")
    }
    // Values that depend on a target, and values the loss depends on.
    var dependsOnTarget = [Bool](repeating: false, count: nodes.count)
    for target in targets { dependsOnTarget[target.id] = true }
    for (index, node) in nodes.enumerated() where node.type.dtype == .f32 && node.inputs.contains(where: { dependsOnTarget[$0.id] }) {
      dependsOnTarget[index] = true
    }
    var feedsLoss = [Bool](repeating: false, count: nodes.count)
    feedsLoss[loss.id] = true
    for index in stride(from: loss.id, through: 0, by: -1) where feedsLoss[index] {
      for input in nodes[index].inputs { feedsLoss[input.id] = true }
    }

    var backward = BackwardBuilder(graph: self)
    var contributions: [Int: [ValueID]] = [loss.id: [try backward.emit("seed", .unary(UnaryAttrs(.affine(scale: 0, shift: 1))), [loss])]]
    for index in stride(from: loss.id, through: 0, by: -1) {
      let node = nodes[index]
      guard let parts = contributions[index], dependsOnTarget[index], feedsLoss[index], !node.inputs.isEmpty else { continue }
      let dy = try backward.sum(parts, name: node.name)
      let needs = node.inputs.map { dependsOnTarget[$0.id] }
      let gradients = try backward.vjp(node, ValueID(index), dy: dy, needs: needs)
      for (input, gradient) in zip(node.inputs, gradients) {
        if let gradient { contributions[input.id, default: []].append(gradient) }
      }
    }
    var gradients: [String: ValueID] = [:]
    var outputs = [loss]
    for target in targets {
      let name = self[target].name
      let gradient = try contributions[target.id].map { try backward.sum($0, name: name) }
        // A target the loss does not depend on has a zero gradient.
        ?? backward.emit("\(name).zero", .unary(UnaryAttrs(.affine(scale: 0, shift: 0))), [target])
      gradients[name] = gradient
      outputs.append(gradient)
    }
    backward.graph.outputs = outputs
    let (live, deadMap) = try backward.graph.removingDeadNodesWithMap()
    let (cleaned, mergedMap) = try live.eliminatingCommonSubexpressionsWithMap()
    func moved(_ value: ValueID) throws -> ValueID {
      guard let kept = deadMap[value.id], let merged = mergedMap[kept.id] else {
        throw KilnError.invalidGraph("autodiff lost \(backward.graph[value].name)")
      }
      return merged
    }
    return Differentiated(graph: cleaned, loss: try moved(loss), gradients: try gradients.mapValues(moved))
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
