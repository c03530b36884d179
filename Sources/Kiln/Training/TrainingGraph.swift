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
  public init(model: Graph, loss: LossKind = .softmaxCrossEntropy, optimizer: Optimizer, frozen: [String] = []) throws {
    var withLoss = try model.forTraining().withLoss(loss)
    withLoss.outputs.append(withLoss[withLoss.outputs[0]].inputs[0])
    try self.init(model: model, withLoss: withLoss, optimizer: optimizer, frozen: frozen)
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
    try self.init(model: model, withLoss: model.forTraining().withObjective(objective), optimizer: optimizer, frozen: frozen)
  }

  /// The training graph of `withLoss`, whose first output is the loss and whose other outputs are
  /// reported by each step.
  private init(model: Graph, withLoss: Graph, optimizer: Optimizer, frozen: [String]) throws {
    try optimizer.validate()
    for prefix in frozen where !withLoss.parameters.contains(where: { withLoss[$0].name == prefix || withLoss[$0].name.hasPrefix(prefix + ".") }) {
      throw KilnError.invalidArgument("cannot freeze \(prefix): model \(model.name) has no parameters under that name")
    }
    let targets = withLoss.trainableParameters(frozenPrefixes: frozen)
    guard !targets.isEmpty else { throw KilnError.invalidArgument("every parameter of \(model.name) is frozen: there is nothing to train") }
    let differentiated = try withLoss.differentiated(loss: withLoss.outputs[0], withRespectTo: targets)
    var graph = differentiated.graph
    let learningRate = try graph.append(TrainingGraph.learningRateInput, .input(InputAttrs(TensorType([]))))
    let names = targets.map { withLoss[$0].name }
    for name in names {
      guard let parameter = graph.index(of: name), let gradient = differentiated.gradients[name] else {
        throw KilnError.invalidGraph("the backward graph lost \(name)")
      }
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
