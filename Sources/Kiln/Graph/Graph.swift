/// A value of the graph: the output of the node at `id` (SSA: every node defines one value).
public struct ValueID: Hashable, Codable, Sendable, CustomStringConvertible {
  /// The index of the node that defines the value.
  public let id: Int
  /// The value of the node at index `id`.
  public init(_ id: Int) { self.id = id }
  public var description: String { "%\(id)" }

  public init(from decoder: Decoder) throws { id = try decoder.singleValueContainer().decode(Int.self) }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(id)
  }
}

/// One operation of a graph: a unique name, the op, its input values and its output type.
public struct Node: Codable, Hashable, Sendable {
  /// The node's unique name (`conv1`, `layer3.0.bn2`).
  public var name: String
  /// What the node computes.
  public var op: Op
  /// The values the node reads, in the op's order.
  public var inputs: [ValueID]
  /// The node's output type, which the op's shape rule gives.
  public var type: TensorType
}

/// A parameter (a weight, a batch-norm running mean, an optimizer moment) and the value that
/// replaces it after a run of a training graph.
public struct StateUpdate: Codable, Hashable, Sendable {
  /// The parameter replaced.
  public var state: ValueID
  /// The value that replaces it after a run.
  public var newValue: ValueID
}

/// A typed dataflow graph in SSA form with static shapes: what to compute, not where memory lives.
///
/// Nodes are in topological order (every input is defined earlier). Data inputs and parameters
/// are nodes of their own (`.input`, `.parameter`), found by their unique names. Build one with
/// `append(_:_:inputs:)`, which runs the op's shape rule and throws an error naming the node.
public struct Graph: Codable, Equatable, Sendable {
  /// The graph's name (the model's).
  public var name: String
  /// The nodes in topological order.
  public private(set) var nodes: [Node] = []
  /// The values a run returns, in order (the logits; the loss of a training graph). Setting them
  /// clears `gradientOutputs`, whose positions would no longer hold.
  public var outputs: [ValueID] = [] { didSet { gradientOutputs = [:] } }
  /// The parameters a run of a training graph replaces: weights (by the optimizer), running
  /// statistics and optimizer state. Empty for a model's inference graph.
  public private(set) var stateUpdates: [StateUpdate] = []
  /// For a graph made by differentiation: where in `outputs` the gradient with respect to each
  /// target is, by the target's name. Backends report these outputs as `Results.gradients`.
  public internal(set) var gradientOutputs: [String: Int] = [:]

  /// An empty graph called `name`; add nodes with `append(_:_:inputs:)`.
  public init(name: String) { self.name = name }

  /// Adds a node after shape-checking it; returns its value.
  @discardableResult
  public mutating func append(_ name: String, _ op: Op, inputs: [ValueID] = []) throws -> ValueID {
    try require(!name.isEmpty, node: "(unnamed)", op: op, inputs: inputs, "a node needs a name")
    try require(index(of: name) == nil, node: name, op: op, inputs: inputs, "the name \(name) is already used in graph \(self.name); give the layer another name")
    for input in inputs where !(0..<nodes.count).contains(input.id) {
      throw KilnError.invalidGraph("\(name) uses \(input), which is not defined before it")
    }
    let type = try inferType(name: name, op: op, inputs: inputs)
    nodes.append(Node(name: name, op: op, inputs: inputs, type: type))
    nameIndex[name] = nodes.count - 1
    return ValueID(nodes.count - 1)
  }

  /// Records that a training run replaces the parameter `state` by `newValue`.
  public mutating func addStateUpdate(state: ValueID, newValue: ValueID) throws {
    if stateUpdates.contains(where: { $0.state == state }) {
      throw KilnError.invalidGraph("\(self[state].name) is updated twice")
    }
    stateUpdates.append(StateUpdate(state: state, newValue: newValue))
    try verifyStateUpdate(stateUpdates[stateUpdates.count - 1])
  }

  /// The node that defines `value`.
  public subscript(value: ValueID) -> Node { nodes[value.id] }

  /// The value of the node called `name`, if there is one.
  public func index(of name: String) -> ValueID? { nameIndex[name].map(ValueID.init) }

  /// The data inputs, in order.
  public var inputs: [ValueID] { values { if case .input = $0 { true } else { false } } }

  /// The parameters (weights and state), in order.
  public var parameters: [ValueID] { values { if case .parameter = $0 { true } else { false } } }

  private func values(where predicate: (Op) -> Bool) -> [ValueID] {
    nodes.indices.filter { predicate(nodes[$0].op) }.map(ValueID.init)
  }

  // MARK: - Checking

  /// Checks every invariant of the IR: topological order, unique names, every stored type equal
  /// to what its op's shape rule infers, valid outputs and state updates.
  public func verify() throws {
    var seen = Set<String>()
    for (index, node) in nodes.enumerated() {
      guard seen.insert(node.name).inserted else {
        throw KilnError.invalidGraph("the name \(node.name) is used twice")
      }
      for input in node.inputs where !(0..<index).contains(input.id) {
        throw KilnError.invalidGraph("\(node.name) uses \(input), which is not defined before it")
      }
      let inferred = try inferType(name: node.name, op: node.op, inputs: node.inputs)
      guard inferred == node.type else {
        throw KilnError.invalidGraph("\(node.name) is typed \(node.type) but its op gives \(inferred)")
      }
    }
    for output in outputs where !nodes.indices.contains(output.id) {
      throw KilnError.invalidGraph("output \(output) is not a node of \(name)")
    }
    for (target, position) in gradientOutputs where !outputs.indices.contains(position) {
      throw KilnError.invalidGraph("the gradient of \(target) is output \(position), but \(name) has \(outputs.count) outputs")
    }
    for update in stateUpdates { try verifyStateUpdate(update) }
    if Set(stateUpdates.map(\.state)).count != stateUpdates.count {
      throw KilnError.invalidGraph("a parameter is updated twice")
    }
  }

  private func verifyStateUpdate(_ update: StateUpdate) throws {
    guard nodes.indices.contains(update.state.id), nodes.indices.contains(update.newValue.id),
      case .parameter(let attrs) = self[update.state].op, self[update.newValue].type == attrs.type
    else {
      throw KilnError.invalidGraph("update \(update.state) ← \(update.newValue) needs a parameter and a value of its type")
    }
  }

  private func inferType(name: String, op: Op, inputs: [ValueID]) throws -> TensorType {
    let types = inputs.map { nodes[$0.id].type }
    do {
      let type = try op.attributes.outputType(types)
      // Every later size computation (bytes, offsets, strides) relies on this bound.
      guard Checked.elementCount(type.shape) != nil else {
        throw ShapeError("shape \(type.shape) is negative or has more than 2^48 elements; use a smaller input or batch")
      }
      return type
    } catch let error as ShapeError {
      throw KilnError.shape(
        node: name, op: op.displayName(inputRank: types.first?.rank ?? 0), message: error.message)
    }
  }

  private func require(
    _ condition: Bool, node: String, op: Op, inputs: [ValueID], _ message: String
  ) throws {
    if !condition {
      let rank = inputs.first.map { nodes[$0.id].type.rank } ?? 0
      throw KilnError.shape(node: node, op: op.displayName(inputRank: rank), message: message)
    }
  }

  // MARK: - Lookup table (rebuilt after decoding)

  private var nameIndex: [String: Int] = [:]

  private enum CodingKeys: String, CodingKey { case name, nodes, outputs, stateUpdates, gradientOutputs }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    nodes = try container.decode([Node].self, forKey: .nodes)
    outputs = try container.decode([ValueID].self, forKey: .outputs)
    stateUpdates = try container.decode([StateUpdate].self, forKey: .stateUpdates)
    gradientOutputs = try container.decodeIfPresent([String: Int].self, forKey: .gradientOutputs) ?? [:]
    for (index, node) in nodes.enumerated() { nameIndex[node.name] = index }
    try verify()
  }

  public static func == (a: Graph, b: Graph) -> Bool {
    a.name == b.name && a.nodes == b.nodes && a.outputs == b.outputs && a.stateUpdates == b.stateUpdates
      && a.gradientOutputs == b.gradientOutputs
  }
}
