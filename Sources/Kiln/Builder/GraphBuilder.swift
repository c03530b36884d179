/// Builds a `Graph` for the layer and functional APIs: names nodes, scopes parameter names
/// (`layer3.conv1.weight`) and shape-checks every node as it is added.
public final class GraphBuilder {
  /// The graph built so far.
  public private(set) var graph: Graph
  /// Mixed into the seeds of dropout layers, so that two models built with different seeds differ.
  public let seed: UInt64
  /// The values given to parameters while building (`Conv2D(weight: w)`, `parameter(_:value:)`),
  /// by full name; `Model` uses them instead of initializers.
  public private(set) var givenValues = ParameterStore()
  private var scopes: [String] = []
  private var counters: [String: Int] = [:]

  /// A builder of an empty graph called `name`; `seed` is mixed into the seeds of dropout layers.
  public init(name: String, seed: UInt64 = 0) {
    graph = Graph(name: name)
    self.seed = seed
  }

  /// A builder that goes on from `graph`: new nodes are appended to it, and `symbol(_:)` hands out
  /// its existing values (a loss on a model's outputs, a head on a trained trunk).
  public init(extending graph: Graph, seed: UInt64 = 0) {
    self.graph = graph
    self.seed = seed
  }

  /// The handle of a value already in the graph.
  public func symbol(_ value: ValueID) -> Symbol { Symbol(builder: self, value: value) }

  /// Adds a data input called `name`.
  public func input(_ name: String, shape: [Int], dtype: DType = .f32) throws -> Symbol {
    try add(name, .input(InputAttrs(TensorType(shape, dtype))), [])
  }

  /// Sets the values a run of the graph returns.
  public func setOutputs(_ outputs: [Symbol]) {
    graph.outputs = outputs.map(\.value)
  }

  // MARK: - Names and scopes

  /// `name` qualified by the enclosing scopes: `layer3.conv1`.
  func qualified(_ name: String) -> String { (scopes + [name]).joined(separator: ".") }

  /// A fresh name in the current scope: `prefix1`, `prefix2`, … (counted per scope and prefix).
  func freshName(_ prefix: String) -> String {
    let key = qualified(prefix)
    var count = counters[key, default: 0]
    var name: String
    repeat {
      count += 1
      name = "\(prefix)\(count)"
    } while graph.index(of: qualified(name)) != nil
    counters[key] = count
    return name
  }

  /// Runs `body` with `name` appended to the scope, so the nodes it adds are called `name.…`.
  func scoped<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    scopes.append(name)
    defer { scopes.removeLast() }
    return try body()
  }

  /// Runs `body` in the scope of a layer called `name`, or a fresh `prefix<n>` when nil. The layer's
  /// main node takes the layer's name; `body` receives it.
  func layer<T>(_ name: String?, prefix: String, _ body: (String) throws -> T) throws -> T {
    let local = name ?? freshName(prefix)
    let full = qualified(local)
    if graph.index(of: full) != nil || graph.nodes.contains(where: { $0.name.hasPrefix(full + ".") }) {
      throw KilnError.invalidArgument("the layer name \(full) is already used in graph \(graph.name); give the layer another name")
    }
    scopes.append(local)
    defer { scopes.removeLast() }
    return try body(full)
  }

  // MARK: - Nodes

  /// Adds a node called `name` (already qualified) with `inputs`.
  func add(_ name: String, _ op: Op, _ inputs: [Symbol]) throws -> Symbol {
    Symbol(builder: self, value: try graph.append(name, op, inputs: inputs.map(\.value)))
  }

  /// Adds a node with a fresh name `prefix<n>` in the current scope.
  func add(prefix: String, _ op: Op, _ inputs: [Symbol]) throws -> Symbol {
    try add(qualified(freshName(prefix)), op, inputs)
  }

  /// Adds a parameter `name` (qualified by the current scope: `block1.scale`) whose first values
  /// `initializer` draws.
  public func parameter(
    _ name: String, shape: [Int], initializer: Initializer, role: ParameterRole = .weight
  ) throws -> Symbol {
    try parameter(name, shape: shape, initializer: initializer, given: nil, role: role)
  }

  /// Adds a parameter `name` (qualified by the current scope) holding `value`; the `Model` built
  /// by the same call holds it.
  public func parameter(_ name: String, value: Tensor<Float>, role: ParameterRole = .weight) throws -> Symbol {
    try parameter(name, shape: value.shape, initializer: .given, given: value, role: role)
  }

  /// Adds a parameter `name` (qualified by the current scope: `conv1.weight`) of `shape`, holding
  /// `given` when it is set (whose shape must then be `shape`), else drawn from `initializer`.
  func parameter(
    _ name: String, shape: [Int], initializer: Initializer, given: Tensor<Float>?, role: ParameterRole = .weight
  ) throws -> Symbol {
    let full = qualified(name)
    guard let given else {
      return try add(full, .parameter(ParameterAttrs(TensorType(shape), initializer: initializer, role: role)), [])
    }
    guard given.shape == shape else {
      throw KilnError.shape(
        node: full, op: "Parameter",
        message: "was given a tensor of shape \(TensorType(given.shape)), but the layer needs \(TensorType(shape)) for its input "
          + "(PyTorch's layout); check the tensor and the channels of the input")
    }
    let value = try add(full, .parameter(ParameterAttrs(TensorType(shape), initializer: .given, role: role)), [])
    givenValues[full] = given
    return value
  }

  func type(of value: ValueID) -> TensorType { graph[value].type }
}

/// A value under construction: the handle the layer and functional APIs pass around.
public struct Symbol {
  /// The builder this value belongs to.
  public let builder: GraphBuilder
  /// The node that computes this value.
  public let value: ValueID

  /// The value's type: shape and element type.
  public var type: TensorType { builder.type(of: value) }
  /// The value's shape.
  public var shape: [Int] { type.shape }
  /// The value's number of axes.
  public var rank: Int { type.rank }
}

extension GraphBuilder {
  /// `y` passed through `function`, as a node named after it in the current layer's scope
  /// (`conv1.relu`); `y` itself when `function` is nil.
  func activation(_ y: Symbol, _ function: UnaryFunction?) throws -> Symbol {
    guard let function else { return y }
    return try add(qualified(function.name), .unary(UnaryAttrs(function)), [y])
  }

  /// Throws unless `x` has `rank` axes, naming the layer and its expected layout.
  func requireRank(_ x: Symbol, _ rank: Int, layer: String, op: String, layout: String) throws {
    guard x.rank == rank else {
      throw KilnError.shape(node: layer, op: op, message: "input must be \(layout), got \(x.type)")
    }
  }
}

extension GraphBuilder {
  /// A layer that is one node: `op` applied to `x`, named `name` or a fresh `prefix<n>`.
  func singleNode(_ name: String?, prefix: String, _ op: Op, _ x: Symbol) throws -> Symbol {
    try layer(name, prefix: prefix) { layer in try add(layer, op, [x]) }
  }
}
