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
  /// The model's output (the second output).
  public var logits: ValueID { graph.outputs[1] }

  /// - Parameters:
  ///   - model: an inference graph (a model's graph).
  ///   - loss: the loss between the model's output and `labels` (or `targets`).
  ///   - optimizer: how the gradients update the weights.
  ///   - frozen: layer names or name prefixes whose parameters stay fixed (`conv1`, `features`).
  public init(model: Graph, loss: LossKind = .softmaxCrossEntropy, optimizer: Optimizer, frozen: [String] = []) throws {
    try optimizer.validate()
    let withLoss = try model.forTraining().withLoss(loss)
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
    graph.outputs = [differentiated.loss, graph[differentiated.loss].inputs[0]]
    self.graph = graph
    self.optimizer = optimizer
    self.trainedParameters = names
  }
}
