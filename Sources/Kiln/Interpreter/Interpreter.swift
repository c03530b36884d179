/// The result of running a graph: every value it computed, by `ValueID`.
public struct Execution<Scalar: KilnScalar>: Sendable {
  /// The graph that ran.
  public let graph: Graph
  /// The value of every node, by node index.
  public let values: [Tensor<Scalar>]

  public subscript(value: ValueID) -> Tensor<Scalar> { values[value.id] }

  /// The value of the node called `name`.
  public subscript(name: String) -> Tensor<Scalar>? { graph.index(of: name).map { values[$0.id] } }

  /// The graph's outputs, in order.
  public var outputs: [Tensor<Scalar>] { graph.outputs.map { values[$0.id] } }

  /// The outputs by name and the gradients by target, as compiled code reports them.
  public var results: Results<Scalar> { Results(graph: graph, outputs: outputs) }

  /// The new value of every state parameter a training graph updates, by parameter name.
  public var stateUpdates: [String: Tensor<Scalar>] {
    Dictionary(uniqueKeysWithValues: graph.stateUpdates.map { (graph[$0.state].name, values[$0.newValue.id]) })
  }
}

/// The reference interpreter: runs any graph, node by node, in `Float` or `Double`. It is the
/// oracle every compiled kernel is tested against, so it is written for clarity first.
public struct Interpreter<Scalar: KilnScalar>: Sendable {
  /// The graph this interpreter runs.
  public let graph: Graph

  /// An interpreter for `graph`, which is verified first and must fit in memory.
  public init(_ graph: Graph) throws {
    try graph.verify()
    try Self.checkMemory(for: graph)
    self.graph = graph
  }

  /// Throws when running `graph` would take more memory than the machine has: the interpreter
  /// keeps every value of a run.
  public static func checkMemory(for graph: Graph) throws {
    let bytes = Checked.sum(graph.nodes.map { $0.type.elementCount * MemoryLayout<Scalar>.size })
    try MemoryBudget.check(bytes, for: "running \(graph.name) in the interpreter", fix: "use a smaller input shape or batch")
  }

  /// Runs the graph. `feeds` holds a tensor for every input and parameter, by node name; `step`
  /// numbers the run for dropout masks.
  public func run(_ feeds: [String: Tensor<Scalar>], step: UInt64 = 0) throws -> Execution<Scalar> {
    // Generic callers (other modules, generic code) reach this entry point unspecialised; handing
    // over to the Float and Double copies of `execute` lets the optimiser specialise every kernel
    // instead of running them through generic dispatch (10× slower).
    if Scalar.self == Float.self {
      let run = try Interpreter<Float>(verified: graph).execute(unsafeBitCast(feeds, to: [String: Tensor<Float>].self), step: step)
      return unsafeBitCast(run, to: Execution<Scalar>.self)
    }
    if Scalar.self == Double.self {
      let run = try Interpreter<Double>(verified: graph).execute(unsafeBitCast(feeds, to: [String: Tensor<Double>].self), step: step)
      return unsafeBitCast(run, to: Execution<Scalar>.self)
    }
    return try execute(feeds, step: step)
  }

  /// Runs the graph on `inputs` (by input name) with the values of its parameters taken from
  /// `parameters` (tensors the graph does not use are ignored).
  public func run(_ inputs: [String: Tensor<Scalar>], parameters: ParameterStore, step: UInt64 = 0) throws -> Execution<Scalar> {
    var feeds = inputs
    for value in graph.parameters {
      let name = graph[value].name
      if let tensor = parameters[name] { feeds[name] = Tensor<Scalar>(tensor) }
    }
    return try run(feeds, step: step)
  }

  private init(verified graph: Graph) { self.graph = graph }

  private func execute(_ feeds: [String: Tensor<Scalar>], step: UInt64) throws -> Execution<Scalar> {
    var values: [Tensor<Scalar>] = []
    values.reserveCapacity(graph.nodes.count)
    for node in graph.nodes {
      let arguments = node.inputs.map { values[$0.id] }
      values.append(try evaluate(node, arguments, feeds: feeds, step: step))
    }
    return Execution(graph: graph, values: values)
  }

  private func evaluate(
    _ node: Node, _ x: [Tensor<Scalar>], feeds: [String: Tensor<Scalar>], step: UInt64
  ) throws -> Tensor<Scalar> {
    let shape = node.type.shape
    let bias = x.count > 2 ? x[2] : nil
    switch node.op {
    case .input, .parameter:
      return try feed(for: node, feeds)
    case .conv(let a): return WindowKernels.conv(x[0], x[1], bias, a, shape: shape)
    case .convTranspose(let a): return WindowKernels.convTranspose(x[0], x[1], bias, a, shape: shape)
    case .pool(let a): return WindowKernels.pool(x[0], a, shape: shape)
    case .globalPool(let a): return ElementwiseKernels.globalPool(x[0], kind: a.kind, shape: shape)
    case .dense: return LinearKernels.dense(x[0], x[1], bias, shape: shape)
    case .matmul: return LinearKernels.matmul(x[0], x[1], shape: shape)
    case .embedding: return try LinearKernels.embedding(x[0], x[1], node: node.name, shape: shape)
    case .binary(let a): return ElementwiseKernels.binary(x[0], x[1], a.op, shape: shape)
    case .unary(let a): return ElementwiseKernels.unary(x[0], a.function)
    case .fusedElementwise(let a): return ElementwiseKernels.fused(x, a, shape: shape)
    case .maxout(let a): return ElementwiseKernels.maxout(x[0], a, shape: shape)
    case .softmax(let a): return ElementwiseKernels.softmax(x[0], axis: a.axis, log: a.log)
    case .reduce(let a): return ElementwiseKernels.reduce(x[0], a, shape: shape)
    case .concat(let a): return LayoutKernels.concat(x, axis: a.axis, shape: shape)
    case .slice(let a): return LayoutKernels.slice(x[0], a, shape: shape)
    case .reshape: return try x[0].reshaped(shape)
    case .transpose(let a): return LayoutKernels.transpose(x[0], a)
    case .pad(let a): return LayoutKernels.pad(x[0], a, shape: shape)
    case .resize(let a): return LayoutKernels.resize(x[0], a, shape: shape)
    case .batchNorm(let a):
      return ElementwiseKernels.batchNorm(x[0], gamma: x[1], beta: x[2], mean: x[3], variance: x[4], epsilon: a.epsilon)
    case .lrn(let a): return LRNKernels.lrn(x[0], a)
    case .dropout(let a): return ElementwiseKernels.dropout(x[0], a, step: step)
    case .loss(let a): return try LossKernels.loss(x[0], x[1], a, node: node.name)
    // The interpreter runs one process: the sum over processes is this process's weighted values.
    case .allReduce(let a): return ElementwiseKernels.unary(x[0], .affine(scale: a.weight, shift: 0))
    case .convInputGrad(let a): return GradientKernels.convInputGrad(x[0], x[1], a)
    case .convWeightGrad(let a): return GradientKernels.convWeightGrad(x[0], x[1], a, shape: shape)
    case .poolGrad(let a): return WindowKernels.poolGrad(x[0], x[1], a.pool)
    case .reduceGrad(let a): return GradientKernels.reduceGrad(x[0], x[1], a.reduce)
    case .unaryGrad(let a): return GradientKernels.unaryGrad(x[0], x[1], x[2], a.function)
    case .maxoutGrad(let a): return GradientKernels.maxoutGrad(x[0], x[1], a.maxout)
    case .embeddingGrad: return try GradientKernels.embeddingGrad(x[0], x[1], shape: shape, node: node.name)
    case .sliceGrad(let a):
      return GradientKernels.scatterAdd(x[0], offsets: LayoutKernels.sliceOffsets(a.slice, input: shape, output: x[0].shape), shape: shape)
    case .padGrad(let a):
      return GradientKernels.scatterAdd(x[0], offsets: LayoutKernels.padOffsets(a.pad, input: shape, output: x[0].shape), shape: shape)
    case .resizeGrad(let a): return LayoutKernels.resizeGrad(x[0], a.resize, shape: shape)
    case .batchNormGrad(let a):
      return GradientKernels.batchNormGrad(x[0], gamma: x[1], mean: x[2], variance: x[3], dy: x[4], sums: x.count > 6 ? (x[5], x[6]) : nil, a)
    case .lrnGrad(let a): return LRNKernels.lrnGrad(x[0], x[1], a.lrn)
    case .lossGrad(let a): return GradientKernels.lossGrad(x[0], x[1], x[2], a)
    }
  }

  private func feed(for node: Node, _ feeds: [String: Tensor<Scalar>]) throws -> Tensor<Scalar> {
    let what = node.op.mnemonic
    guard let tensor = feeds[node.name] else {
      throw KilnError.runtime(node: node.name, message: "no value was given for this \(what) \(node.type)")
    }
    guard tensor.shape == node.type.shape else {
      throw KilnError.runtime(
        node: node.name,
        message: "the \(what) expects shape \(TensorType(node.type.shape)) but was given \(TensorType(tensor.shape))")
    }
    if node.type.dtype == .i32, let bad = tensor.scalars.first(where: { $0.rounded() != $0 }) {
      throw KilnError.runtime(node: node.name, message: "the \(what) holds integers, but was given \(bad)")
    }
    return tensor
  }
}
