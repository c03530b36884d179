/// A model: its graph (inference form) and the values of its parameters.
///
/// ```swift
/// let model = try Model(name: "tiny", input: [1, 1, 28, 28]) {
///   Conv2D(8, kernel: 3, padding: .same, activation: .relu)
///   MaxPool2D(2)
///   Flatten()
///   Dense(10)
/// }
/// let logits = try model.predict(image)      // reference interpreter
/// ```
public struct Model: Sendable {
  public let graph: Graph
  public var parameters: ParameterStore

  /// A model whose graph `body` builds with the functional API, returning the outputs.
  /// Parameters are initialised from `seed` and each parameter's name.
  public init(name: String, seed: UInt64 = 0, _ body: (GraphBuilder) throws -> [Symbol]) throws {
    try self.init(graph: Graph(name: name, seed: seed, body), seed: seed)
  }

  /// A single-input model built by `body` from its input (called `input`).
  public init(
    name: String, input shape: [Int], inputType: DType = .f32, seed: UInt64 = 0,
    _ body: (Symbol) throws -> Symbol
  ) throws {
    try self.init(graph: Graph(name: name, input: shape, inputType: inputType, seed: seed, body), seed: seed)
  }

  /// A chain of layers applied to one input (called `input`).
  public init(
    name: String, input shape: [Int], inputType: DType = .f32, seed: UInt64 = 0,
    @LayerBuilder layers: () -> [any Layer]
  ) throws {
    try self.init(graph: Graph(name: name, input: shape, inputType: inputType, seed: seed, layers: layers), seed: seed)
  }

  /// A model of `graph` with fresh parameters (see `initialParameters(for:seed:)`), which must fit
  /// in memory.
  public init(graph: Graph, seed: UInt64 = 0) throws {
    let bytes = Checked.sum(graph.parameters.map { graph[$0].type.elementCount * 4 })
    try MemoryBudget.check(bytes, for: "the parameters of \(graph.name)", fix: "use a smaller input shape or fewer features")
    try self.init(graph: graph, parameters: Model.initialParameters(for: graph, seed: seed))
  }

  /// A model from a graph and parameter values, checked against each other: every parameter of
  /// the graph needs a tensor of its shape, and there may be no other tensors. The error lists the
  /// first mismatches of all three kinds and how many there are.
  public init(graph: Graph, parameters: ParameterStore) throws {
    try graph.verify()
    let expected = graph.parameters.map { graph[$0] }
    var mismatches: [String] = []
    for node in expected {
      if let tensor = parameters[node.name] {
        if tensor.shape != node.type.shape { mismatches.append("parameter \(node.name) is \(TensorType(tensor.shape)) but model \(graph.name) expects \(node.type)") }
      } else {
        mismatches.append("parameter \(node.name) \(node.type) of model \(graph.name) has no value")
      }
    }
    let known = Set(expected.map(\.name))
    for stray in parameters.names where !known.contains(stray) {
      mismatches.append("tensor \(stray) is not a parameter of model \(graph.name)")
    }
    if !mismatches.isEmpty {
      let shown = 5
      let more = mismatches.count > shown ? "; … \(mismatches.count - shown) more" : ""
      throw KilnError.invalidArgument(
        "\(mismatches.count) mismatch\(mismatches.count == 1 ? "" : "es") between these weights and model \(graph.name): "
          + mismatches.prefix(shown).joined(separator: "; ") + more + " (are they the weights of another model or input size?)")
    }
    self.graph = graph
    var ordered = ParameterStore()
    for node in expected { ordered[node.name] = parameters[node.name] }
    self.parameters = ordered
  }

  /// Fresh parameter values for `graph` from each parameter's initializer, seeded by `seed` and the
  /// parameter's name (so adding a layer does not change the others' values).
  public static func initialParameters(for graph: Graph, seed: UInt64) -> ParameterStore {
    var store = ParameterStore()
    for value in graph.parameters {
      let node = graph[value]
      guard case .parameter(let attrs) = node.op else { continue }
      var generator = SplitMix64(seed: seed ^ SplitMix64.stableHash(node.name))
      store[node.name] = Tensor(validShape: attrs.type.shape, scalars: attrs.initializer.values(shape: attrs.type.shape, generator: &generator))
    }
    return store
  }

  /// The parameters converted to `Scalar`, as interpreter feeds.
  public func parameterFeeds<Scalar: KilnScalar>(as: Scalar.Type = Scalar.self) -> [String: Tensor<Scalar>] {
    Dictionary(uniqueKeysWithValues: parameters.entries.map { ($0.name, Tensor<Scalar>($0.tensor)) })
  }

  /// Runs the model in the reference interpreter with `inputs` by input name; returns the outputs.
  public func run<Scalar: KilnScalar>(_ inputs: [String: Tensor<Scalar>]) throws -> [Tensor<Scalar>] {
    let feeds = parameterFeeds(as: Scalar.self).merging(inputs) { _, input in input }
    return try Interpreter<Scalar>(graph).run(feeds).outputs
  }

  /// The first output for `input`, for single-input models.
  public func predict<Scalar: KilnScalar>(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
    guard let name = graph.inputs.first.map({ graph[$0].name }), graph.inputs.count == 1 else {
      throw KilnError.invalidArgument("model \(graph.name) has \(graph.inputs.count) inputs; use run(_:) with each by name")
    }
    guard let output = try run([name: input]).first else {
      throw KilnError.invalidArgument("model \(graph.name) has no outputs")
    }
    return output
  }

  /// The type of the (first) data input.
  public var inputType: TensorType? { graph.inputs.first.map { graph[$0].type } }
}
