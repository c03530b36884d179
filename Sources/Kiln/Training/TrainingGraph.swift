/// One training step as one static graph: the forward pass in training form, the loss, the
/// backward pass and the optimizer's update of every trainable weight.
///
/// Inputs: the model's `input`, `labels` (or `targets`) and the scalar `learning_rate`. Outputs:
/// the loss and the logits. Its state updates replace the weights, the batch-norm running
/// statistics and the optimizer state.
public struct TrainingGraph: Sendable {
  /// The name of the scalar input that carries the learning rate.
  public static let learningRateInput = "learning_rate"

  /// Forward pass, loss, backward pass and update, as one graph.
  public let graph: Graph
  /// The optimizer whose update the graph holds.
  public let optimizer: Optimizer
  /// The names of the weights the optimizer updates.
  public let trainedParameters: [String]

  /// The loss (the first output).
  public var loss: ValueID { graph.outputs[0] }
  /// The model's (first) output: the second output.
  public var logits: ValueID { graph.outputs[1] }

  /// - Parameters:
  ///   - model: an inference graph (a model's graph).
  ///   - loss: the loss between the model's output and `labels` (or `targets`).
  ///   - optimizer: how the gradients update the weights.
  ///   - frozen: layer names or name prefixes whose parameters stay fixed (`conv1`, `features`).
  ///   - share: for one process of a data-parallel job, its part of the global batch (its batch
  ///     ÷ the global batch): the gradients are then summed over the processes, weighted by their
  ///     shares, before the update (an `allReduce` node), so every process applies the global
  ///     batch's mean gradient. Nil for training in one process.
  ///   - synchronizedBatchNorm: with a `share`, batch norm normalises with the statistics of the
  ///     whole global batch (exchanged between the processes) instead of this process's part.
  ///   - process: this process's index in the job, mixed into dropout seeds so that processes
  ///     drop different units.
  public init(
    model: Graph, loss: LossKind = .softmaxCrossEntropy, optimizer: Optimizer, frozen: [String] = [], share: Double? = nil,
    synchronizedBatchNorm: Bool = false, process: Int = 0
  ) throws {
    var withLoss = try model.forTraining(statisticsShare: synchronizedBatchNorm ? share : nil, process: process).withLoss(loss)
    withLoss.outputs.append(withLoss[withLoss.outputs[0]].inputs[0])
    try self.init(model: model, withLoss: withLoss, optimizer: optimizer, frozen: frozen, share: share)
  }

  /// A training graph whose loss `objective` builds from the model's outputs (see
  /// `Graph.withObjective(_:)`): two-headed models, detectors, weighted or masked losses. Its
  /// outputs are the loss and then the model's outputs; the inputs `objective` adds are fed by
  /// name to each step.
  ///
  /// - Parameters:
  ///   - model: an inference graph (a model's graph).
  ///   - optimizer: how the gradients update the weights.
  ///   - frozen: layer names or name prefixes whose parameters stay fixed.
  ///   - objective: the scalar loss, from the model's outputs in training form.
  public init(model: Graph, optimizer: Optimizer, frozen: [String] = [], objective: ([Symbol]) throws -> Symbol) throws {
    try self.init(model: model, withLoss: model.forTraining().withObjective(objective), optimizer: optimizer, frozen: frozen, share: nil)
  }

  /// The training graph of `withLoss`, whose first output is the loss and whose other outputs are
  /// reported by each step.
  private init(model: Graph, withLoss: Graph, optimizer: Optimizer, frozen: [String], share: Double?) throws {
    try optimizer.validate()
    if let share, !(share > 0 && share <= 1) {
      throw KilnError.invalidArgument("a process's share of the global batch must be in (0, 1], got \(share)")
    }
    for prefix in frozen where !withLoss.parameters.contains(where: { withLoss[$0].name == prefix || withLoss[$0].name.hasPrefix(prefix + ".") }) {
      throw KilnError.invalidArgument("cannot freeze \(prefix): model \(model.name) has no parameters under that name")
    }
    let targets = withLoss.trainableParameters(frozenPrefixes: frozen)
    guard !targets.isEmpty else { throw KilnError.invalidArgument("every parameter of \(model.name) is frozen: there is nothing to train") }
    // A process's gradients are its share of the batch's: scaled at the seed, they are summed
    // by the exchange as they are (and flow through synchronised batch norms' exchanges so).
    let differentiated = try withLoss.differentiated(loss: withLoss.outputs[0], withRespectTo: targets, scale: share ?? 1)
    var graph = differentiated.graph
    let learningRate = try graph.append(TrainingGraph.learningRateInput, .input(InputAttrs(TensorType([]))))
    let names = targets.map { withLoss[$0].name }
    var gradients = try names.map { name in
      guard let gradient = differentiated.gradients[name] else { throw KilnError.invalidGraph("the backward graph lost \(name)") }
      return gradient
    }
    if share != nil { gradients = try graph.exchanging(gradients, names: names) }
    for (name, gradient) in zip(names, gradients) {
      guard let parameter = graph.index(of: name) else { throw KilnError.invalidGraph("the backward graph lost \(name)") }
      try graph.appendUpdate(optimizer, parameter: parameter, gradient: gradient, learningRate: learningRate)
    }
    let reported = try withLoss.outputs.dropFirst().map { output in
      guard let value = graph.index(of: withLoss[output].name) else {
        throw KilnError.invalidArgument("output \(withLoss[output].name) of \(model.name) does not contribute to the loss; leave it out of the model or the loss")
      }
      return value
    }
    graph.outputs = [differentiated.loss] + reported
    self.graph = graph
    self.optimizer = optimizer
    self.trainedParameters = names
  }
}

extension Graph {
  /// `gradients` summed over the processes of a data-parallel job (each already scaled by its
  /// process's share): flattened and joined into one buffer, exchanged by one `allReduce` node
  /// (one call into the communicator per step, not one per tensor), and cut back into tensors
  /// named `exchange.<parameter>`.
  mutating func exchanging(_ gradients: [ValueID], names: [String]) throws -> [ValueID] {
    let flat = try zip(gradients, names).map { gradient, name in
      try append("exchange.\(name).flat", .reshape(ReshapeAttrs(shape: [self[gradient].type.elementCount])), inputs: [gradient])
    }
    let joined = flat.count == 1 ? flat[0] : try append("exchange.joined", .concat(ConcatAttrs(axis: 0)), inputs: flat)
    let summed = try append("exchange.all_reduce", .allReduce(AllReduceAttrs(weight: 1)), inputs: [joined])
    var offset = 0
    return try zip(gradients, names).map { gradient, name in
      let type = self[gradient].type
      defer { offset += type.elementCount }
      let part = try append("exchange.\(name).part", .slice(SliceAttrs(axis: 0, start: offset, end: offset + type.elementCount)), inputs: [summed])
      return try append("exchange.\(name)", .reshape(ReshapeAttrs(shape: type.shape)), inputs: [part])
    }
  }
}
