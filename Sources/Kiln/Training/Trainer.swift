import Foundation

/// Trains a model with its training graph in the reference interpreter, one batch at a time, and
/// saves and resumes checkpoints bit-exactly.
public struct Trainer: Sendable {
  public let model: Graph
  public let training: TrainingGraph
  /// Every parameter of the training graph: weights, running statistics, optimizer state.
  public private(set) var parameters: ParameterStore
  /// Steps taken so far (numbers dropout masks; advances the learning-rate schedule).
  public private(set) var steps: Int = 0
  private let interpreter: Interpreter<Float>

  /// A trainer starting from `model`'s weights, with fresh optimizer state. `model`'s batch size is
  /// the training batch size.
  public init(model: Model, optimizer: Optimizer, loss: LossKind = .softmaxCrossEntropy, frozen: [String] = []) throws {
    training = try TrainingGraph(model: model.graph, loss: loss, optimizer: optimizer, frozen: frozen)
    self.model = model.graph
    var store = ParameterStore()
    for value in training.graph.parameters {
      let node = training.graph[value]
      guard case .parameter(let attrs) = node.op else { continue }
      if let weight = model.parameters[node.name] {
        store[node.name] = weight
      } else {
        var generator = SplitMix64(seed: SplitMix64.stableHash(node.name))
        store[node.name] = Tensor(shape: attrs.type.shape, scalars: attrs.initializer.values(shape: attrs.type.shape, generator: &generator))
      }
    }
    parameters = store
    interpreter = try Interpreter(training.graph)
  }

  /// The batch size of the training graph.
  public var batchSize: Int { model.inputs.first.map { model[$0].type.shape[0] } ?? 1 }

  /// One step on a batch: `input` and `labels` (or `targets`), by name. Returns the loss and the
  /// logits, and replaces the parameters by their updated values.
  public mutating func step(_ batch: [String: Tensor<Float>], learningRate: Double) throws -> (loss: Float, logits: Tensor<Float>) {
    var feeds = batch
    for (name, tensor) in parameters.entries { feeds[name] = tensor }
    feeds[TrainingGraph.learningRateInput] = Tensor(shape: [], scalars: [Float(learningRate)])
    let run = try interpreter.run(feeds, step: UInt64(steps))
    for (name, tensor) in run.stateUpdates { parameters[name] = tensor }
    steps += 1
    return (run[training.loss].scalars[0], run[training.logits])
  }

  /// The trained model: the inference graph with the current weights and running statistics.
  public var trainedModel: Model {
    get throws {
      var store = ParameterStore()
      for value in model.parameters { store[model[value].name] = parameters[model[value].name] }
      return try Model(graph: model, parameters: store)
    }
  }

  // MARK: - Checkpoints

  /// Writes every parameter (weights, running statistics, optimizer state) with the step count and
  /// `epoch` to `path`, atomically.
  public func saveCheckpoint(to path: String, epoch: Int) throws {
    let optimizer = String(decoding: try JSONEncoder().encode(training.optimizer), as: UTF8.self)
    let metadata = ["format": "kiln-checkpoint", "model": model.name, "optimizer": optimizer, "steps": "\(steps)", "epoch": "\(epoch)"]
    try SafeTensors.write(parameters.entries, metadata: metadata, to: path)
  }

  /// Restores a checkpoint written by `saveCheckpoint` for the same model and optimizer; returns
  /// the number of epochs it had completed.
  public mutating func resume(from path: String) throws -> Int {
    let (tensors, metadata) = try SafeTensors.read(path)
    func fail(_ message: String) -> KilnError { .file(path: path, message: message) }
    guard metadata["format"] == "kiln-checkpoint", let steps = metadata["steps"].flatMap(Int.init), let epoch = metadata["epoch"].flatMap(Int.init) else {
      throw fail("is not a Kiln checkpoint (no step count and epoch in its metadata)")
    }
    guard metadata["model"] == model.name else {
      throw fail("is a checkpoint of model \(metadata["model"] ?? "?"), not \(model.name)")
    }
    let optimizer = String(decoding: try JSONEncoder().encode(training.optimizer), as: UTF8.self)
    guard metadata["optimizer"] == optimizer else {
      throw fail("was written with optimizer \(metadata["optimizer"] ?? "?"), not \(optimizer); resume with the same optimizer settings")
    }
    var store = parameters
    for (name, tensor) in tensors {
      guard let current = parameters[name] else { throw fail("holds \(name), which this training run does not have") }
      guard current.shape == tensor.shape else {
        throw fail("holds \(name) as \(TensorType(tensor.shape)) but the model expects \(TensorType(current.shape))")
      }
      store[name] = tensor
    }
    if let missing = parameters.names.first(where: { name in !tensors.contains { $0.name == name } }) {
      throw fail("lacks \(missing)")
    }
    parameters = store
    self.steps = steps
    return epoch
  }
}

extension Model {
  /// Classification accuracy and mean softmax cross-entropy over `data`, in batches of the
  /// model's batch size (and one smaller batch for the remainder).
  public func evaluate(on data: Dataset) throws -> (accuracy: Double, loss: Double) {
    guard let input = graph.inputs.first else { throw KilnError.invalidArgument("model \(graph.name) has no input") }
    let batch = graph[input].type.shape[0]
    var (correct, totalLoss) = (0, 0.0)
    for indices in data.batchIndices(size: batch, shuffleSeed: nil, dropLast: false) {
      let sized = indices.count == batch ? self : try Model(graph: graph.rebatched(to: indices.count), parameters: parameters)
      let (images, labels) = data.batch(indices)
      let logits = try sized.predict(images)
      let classes = logits.shape[1]
      let logProbabilities = ElementwiseKernels.softmax(logits, axis: 1, log: true)
      for (row, label) in labels.scalars.enumerated() {
        let scores = logits.scalars[(row * classes)..<((row + 1) * classes)]
        if scores.indices.max(by: { scores[$0] < scores[$1] }).map({ $0 - row * classes }) == Int(label) { correct += 1 }
        totalLoss -= Double(logProbabilities.scalars[row * classes + Int(label)])
      }
    }
    return (Double(correct) / Double(max(data.count, 1)), totalLoss / Double(max(data.count, 1)))
  }
}
