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
  /// The inference graph.
  public let graph: Graph
  /// The value of every parameter of the graph, in its order.
  public var parameters: ParameterStore

  /// A model whose graph `body` builds with the functional API, returning the outputs.
  /// Parameters are initialised from `seed` and each parameter's name, or hold the values given
  /// to their layers.
  public init(name: String, seed: UInt64 = 0, _ body: (GraphBuilder) throws -> [Symbol]) throws {
    let builder = GraphBuilder(name: name, seed: seed)
    builder.setOutputs(try body(builder))
    try self.init(graph: builder.graph, seed: seed, given: builder.givenValues)
  }

  /// A single-input model built by `body` from its input (called `input`).
  public init(
    name: String, input shape: [Int], inputType: DType = .f32, seed: UInt64 = 0,
    _ body: (Symbol) throws -> Symbol
  ) throws {
    try self.init(name: name, seed: seed) { builder in
      [try body(try builder.input("input", shape: shape, dtype: inputType))]
    }
  }

  /// A chain of layers applied to one input (called `input`).
  ///
  /// ```swift
  /// let conv = try Model(name: "conv", input: [1, 3, 8, 8]) {
  ///   Conv2D(weight: w, bias: b, padding: 1)      // given weights: no names needed
  /// }
  /// ```
  public init(
    name: String, input shape: [Int], inputType: DType = .f32, seed: UInt64 = 0,
    @LayerBuilder layers: () -> [any Layer]
  ) throws {
    let chain = Sequential(layers)
    try self.init(name: name, input: shape, inputType: inputType, seed: seed) { try chain($0) }
  }

  /// A model of `graph` with fresh parameters (see `initialParameters(for:seed:given:)`), which
  /// must fit in memory.
  public init(graph: Graph, seed: UInt64 = 0) throws {
    try self.init(graph: graph, seed: seed, given: ParameterStore())
  }

  private init(graph: Graph, seed: UInt64, given: ParameterStore) throws {
    let bytes = Checked.sum(graph.parameters.map { graph[$0].type.elementCount * 4 })
    try MemoryBudget.check(bytes, for: "the parameters of \(graph.name)", fix: "use a smaller input shape or fewer features")
    try self.init(graph: graph, parameters: Model.initialParameters(for: graph, seed: seed, given: given))
  }

  /// A model of `graph` whose parameters are read from the safetensors file at `weightsPath`
  /// (written by `save(graph:weights:)`, `kiln train`, or PyTorch's `save_file(state_dict)`:
  /// batch-norm step counters `*.num_batches_tracked` are ignored). Every parameter must be there
  /// with its shape.
  public init(graph: Graph, weightsFrom weightsPath: String) throws {
    var store = ParameterStore()
    for (name, tensor) in try SafeTensors.read(weightsPath).tensors where !name.hasSuffix(".num_batches_tracked") { store[name] = tensor }
    do {
      try self.init(graph: graph, parameters: store)
    } catch let error as KilnError {
      throw KilnError.file(path: weightsPath, message: "\(error)")
    }
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
  /// parameter's name (so adding a layer does not change the others' values). Parameters present
  /// in `given` (by name; the shapes must match) take its values instead.
  public static func initialParameters(for graph: Graph, seed: UInt64, given: ParameterStore = ParameterStore()) throws -> ParameterStore {
    var store = ParameterStore()
    for value in graph.parameters {
      let node = graph[value]
      guard case .parameter(let attrs) = node.op else { continue }
      var generator = SplitMix64(seed: seed ^ SplitMix64.stableHash(node.name))
      if let tensor = given[node.name] {
        guard tensor.shape == attrs.type.shape else {
          throw KilnError.invalidArgument("parameter \(node.name) of \(graph.name) is \(attrs.type) but was given \(TensorType(tensor.shape))")
        }
        store[node.name] = tensor
      } else if let scalars = attrs.initializer.values(shape: attrs.type.shape, generator: &generator) {
        store[node.name] = Tensor(validShape: attrs.type.shape, scalars: scalars)
      } else {
        throw KilnError.invalidArgument(
          "parameter \(node.name) of \(graph.name) was given its values when the graph was built, but they are not here; "
            + "build the Model with the layers (Model(name:…) { … }) or load its weights (Model(graph:weightsFrom:))")
      }
    }
    return store
  }

  /// The parameters converted to `Scalar`, as interpreter feeds.
  public func parameterFeeds<Scalar: KilnScalar>(as: Scalar.Type = Scalar.self) -> [String: Tensor<Scalar>] {
    Dictionary(uniqueKeysWithValues: parameters.entries.map { ($0.name, Tensor<Scalar>($0.tensor)) })
  }

  /// Runs the model in the reference interpreter with `inputs` (and integer inputs such as labels
  /// or token ids in `integers`) by input name; returns the outputs.
  public func run<Scalar: KilnScalar>(_ inputs: [String: Tensor<Scalar>], integers: [String: Tensor<Int32>] = [:]) throws -> Results<Scalar> {
    try Interpreter<Scalar>(graph).run(graph.feeds(inputs, integers: integers), parameters: parameters).results
  }

  /// Runs a model whose inputs are all integers (token ids) in the interpreter, in `Float`.
  public func run(integers: [String: Tensor<Int32>]) throws -> Results<Float> {
    try run([String: Tensor<Float>](), integers: integers)
  }

  /// The vector-Jacobian product in the reference interpreter: the outputs for `inputs` and, in
  /// `gradients`, cotangentᵀ·∂output/∂target for each target (input or parameter names). This is
  /// PyTorch's `y.backward(cotangent)` followed by reading `.grad` (see `Graph.vjp`).
  ///
  /// - Parameters:
  ///   - inputs: the float inputs, by name.
  ///   - integers: the integer inputs (labels, token ids), by name.
  ///   - cotangent: the weights of `output`'s elements: a tensor of its shape.
  ///   - output: the name of the value to differentiate; nil for the first output.
  ///   - targets: names of inputs or parameters to differentiate with respect to.
  public func vjp<Scalar: KilnScalar>(
    _ inputs: [String: Tensor<Scalar>], integers: [String: Tensor<Int32>] = [:], cotangent: Tensor<Scalar>,
    of output: String? = nil, withRespectTo targets: [String]
  ) throws -> Results<Scalar> {
    let vjp = try graph.vjp(of: output, withRespectTo: targets)
    let feeds = try graph.feeds(inputs, integers: integers).merging([Graph.cotangentInput: cotangent]) { _, cotangent in cotangent }
    return try Interpreter<Scalar>(vjp.graph).run(feeds, parameters: parameters).results
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
