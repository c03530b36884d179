import Foundation

/// Runs the steps of a training graph and holds its parameters: the reference interpreter
/// (`InterpretedTraining`) or compiled code (KilnLLVM's `CompiledTraining`).
public protocol TrainingEngine: AnyObject {
  /// One step on `feeds` (the batch and `learning_rate`); replaces the parameters it holds by
  /// their updated values and returns the loss and the logits.
  func step(_ feeds: [String: Tensor<Float>], step: UInt64) throws -> (loss: Float, logits: Tensor<Float>)
  /// The current value of a parameter of the training graph.
  func parameter(_ name: String) -> Tensor<Float>?
  /// Replaces the value of a parameter of the training graph.
  func setParameter(_ name: String, _ tensor: Tensor<Float>) throws
}

/// Training steps in the reference interpreter.
public final class InterpretedTraining: TrainingEngine {
  private let training: TrainingGraph
  private let interpreter: Interpreter<Float>
  private var parameters: ParameterStore

  /// Steps of `training` starting from `parameters` (every parameter of its graph).
  public init(_ training: TrainingGraph, parameters: ParameterStore) throws {
    self.training = training
    interpreter = try Interpreter(training.graph)
    self.parameters = parameters
  }

  public func step(_ feeds: [String: Tensor<Float>], step: UInt64) throws -> (loss: Float, logits: Tensor<Float>) {
    let run = try interpreter.run(feeds, parameters: parameters, step: step)
    for (name, tensor) in run.stateUpdates { parameters[name] = tensor }
    return (run[training.loss].scalars[0], run[training.logits])
  }

  public func parameter(_ name: String) -> Tensor<Float>? { parameters[name] }

  /// Replaces the value of a parameter of the training graph.
  public func setParameter(_ name: String, _ tensor: Tensor<Float>) throws {
    guard parameters[name]?.shape == tensor.shape else {
      throw KilnError.invalidArgument("the training graph has no parameter \(name) of shape \(TensorType(tensor.shape))")
    }
    parameters[name] = tensor
  }
}

/// Trains a model with its training graph, one batch at a time, on an engine (the interpreter by
/// default), and saves and resumes checkpoints bit-exactly.
public struct Trainer {
  /// The model's inference graph.
  public let model: Graph
  /// The training graph the steps run.
  public let training: TrainingGraph
  /// Steps taken so far (numbers dropout masks; advances the learning-rate schedule).
  public private(set) var steps: Int = 0
  private let engine: any TrainingEngine

  /// A trainer starting from `model`'s weights, with fresh optimizer state. `model`'s batch size is
  /// the training batch size. `engine` makes the step runner (default: the interpreter). For one
  /// process of a data-parallel job, `share` is its batch ÷ the global batch, and
  /// `synchronizedBatchNorm` makes batch norm use the global batch's statistics, and `process` (its
  /// index) gives it its own dropout masks (see `TrainingGraph`).
  public init(
    model: Model, optimizer: Optimizer, loss: LossKind = .softmaxCrossEntropy, frozen: [String] = [], share: Double? = nil,
    synchronizedBatchNorm: Bool = false, process: Int = 0,
    engine: (TrainingGraph, ParameterStore) throws -> any TrainingEngine = { try InterpretedTraining($0, parameters: $1) }
  ) throws {
    let training = try TrainingGraph(
      model: model.graph, loss: loss, optimizer: optimizer, frozen: frozen, share: share, synchronizedBatchNorm: synchronizedBatchNorm,
      process: process)
    try self.init(model: model, training: training, engine: engine)
  }

  /// A trainer of `model` with a training graph made from it (one with a custom objective:
  /// `TrainingGraph(model:optimizer:frozen:objective:)`), starting from `model`'s weights with
  /// fresh optimizer state.
  public init(
    model: Model, training: TrainingGraph,
    engine: (TrainingGraph, ParameterStore) throws -> any TrainingEngine = { try InterpretedTraining($0, parameters: $1) }
  ) throws {
    self.training = training
    self.model = model.graph
    // The model's weights, and fresh optimizer state.
    let store = try Model.initialParameters(for: training.graph, seed: 0, given: model.parameters)
    self.engine = try engine(training, store)
  }

  /// Every parameter of the training graph: weights, running statistics, optimizer state.
  public var parameters: ParameterStore {
    var store = ParameterStore()
    for value in training.graph.parameters {
      let name = training.graph[value].name
      store[name] = engine.parameter(name)
    }
    return store
  }

  /// The batch size of the training graph.
  public var batchSize: Int { model.inputs.first.map { model[$0].type.shape[0] } ?? 1 }

  /// One step on a batch: `input` and `labels` (or `targets`), by name; integer inputs (class
  /// labels, token ids) may come as `Tensor<Int32>` in `integers`. Returns the loss and the
  /// logits, and replaces the parameters by their updated values.
  public mutating func step(
    _ batch: [String: Tensor<Float>], integers: [String: Tensor<Int32>] = [:], learningRate: Double
  ) throws -> (loss: Float, logits: Tensor<Float>) {
    var feeds = try training.graph.feeds(batch, integers: integers)
    feeds[TrainingGraph.learningRateInput] = Tensor(validShape: [], scalars: [Float(learningRate)])
    let result = try engine.step(feeds, step: UInt64(steps))
    steps += 1
    return result
  }

  /// What one epoch of training measured.
  public struct EpochResult: Sendable {
    /// The samples trained on.
    public var samples: Int
    /// The mean loss over the batches.
    public var meanLoss: Double
    /// The fraction of samples classified right, as the weights changed during the epoch.
    public var accuracy: Double
    /// Wall-clock seconds.
    public var seconds: Double
  }

  /// One epoch over `data` in batches of the training batch size, shuffled with `seed` + `epoch`
  /// (so a resumed run sees the same order), the learning rate from `schedule`, each batch
  /// changed by `augmentation` (seeded by the step number). `progress` is called after every
  /// batch with the batches done and the running result.
  /// With `share` (one process of a data-parallel job), the batches are global batches and this
  /// process trains on its part of each.
  public mutating func trainEpoch(
    on data: Dataset, epoch: Int, seed: UInt64, schedule: LearningRateSchedule, augmentation: Augmentation? = nil, share: BatchShare? = nil,
    progress: (_ done: Int, _ of: Int, _ sofar: EpochResult) -> Void = { _, _, _ in }
  ) throws -> EpochResult {
    if let share, share.count != batchSize {
      throw KilnError.invalidArgument("this process's share of the batch is \(share.count) samples, but the model's batch is \(batchSize)")
    }
    let batches = data.batchIndices(size: share?.globalBatch ?? batchSize, shuffleSeed: seed &+ UInt64(epoch)).map { global in
      share.map { Array(global[$0.offset..<($0.offset + $0.count)]) } ?? global
    }
    guard !batches.isEmpty else {
      throw KilnError.invalidArgument("\(data.count) samples do not fill one batch of \(batchSize)")
    }
    let start = Date()
    var result = EpochResult(samples: 0, meanLoss: 0, accuracy: 0, seconds: 0)
    var (lossSum, correct) = (0.0, 0)
    for (index, indices) in batches.enumerated() {
      var (images, labels) = data.batch(indices)
      if let augmentation { images = augmentation.apply(to: images, seed: seed &+ SplitMix64.stableHash("augment \(steps)")) }
      let rate = schedule.rate(step: steps, stepsPerEpoch: batches.count)
      let (loss, logits) = try step(["input": images, "labels": labels], learningRate: rate)
      guard loss.isFinite else {
        throw KilnError.runtime(
          node: "training step \(steps) (epoch \(epoch + 1), batch \(index + 1))",
          message: "the loss is \(loss); training diverged (a learning rate of \(rate) may be too high). No weights were written")
      }
      result.samples += indices.count
      lossSum += Double(loss) * Double(indices.count)
      correct += zip(logits.argmaxRows(), labels.scalars).filter { $0 == Int($1) }.count
      result.meanLoss = lossSum / Double(result.samples)
      result.accuracy = Double(correct) / Double(result.samples)
      result.seconds = Date().timeIntervalSince(start)
      progress(index + 1, batches.count, result)
    }
    return result
  }

  /// The trained model: the inference graph with the current weights and running statistics.
  public var trainedModel: Model {
    get throws {
      var store = ParameterStore()
      for value in model.parameters { store[model[value].name] = engine.parameter(model[value].name) }
      return try Model(graph: model, parameters: store)
    }
  }

  // MARK: - Checkpoints

  /// Writes every parameter (weights, running statistics, optimizer state) with the step count and
  /// `epoch` to `path`, atomically.
  public func saveCheckpoint(to path: String, epoch: Int) throws {
    let parameters = try finiteParameters(for: path)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let optimizer = String(decoding: try encoder.encode(training.optimizer), as: UTF8.self)
    let metadata = ["format": "kiln-checkpoint", "model": model.name, "optimizer": optimizer, "steps": "\(steps)", "epoch": "\(epoch)"]
    try SafeTensors.write(parameters.entries, metadata: metadata, to: path)
  }

  /// Every parameter, when all are finite; else an error naming the first that is not and
  /// `path`, which is left as it was (a diverged run never overwrites good weights).
  public func finiteParameters(for path: String) throws -> ParameterStore {
    let parameters = self.parameters
    if let name = parameters.firstNonFinite {
      throw KilnError.file(path: path, message: "not written: \(name) holds NaN or infinite values after step \(steps); training diverged")
    }
    return parameters
  }

  /// Restores a checkpoint written by `saveCheckpoint` for the same model and optimizer; returns
  /// the number of epochs it had completed.
  public mutating func resume(from path: String) throws -> Int {
    let (tensors, metadata) = try SafeTensors.read(path)
    func fail(_ message: String) -> KilnError { .file(path: path, message: message) }
    guard metadata["format"] == "kiln-checkpoint", let steps = metadata["steps"].flatMap(Int.init), let epoch = metadata["epoch"].flatMap(Int.init) else {
      throw fail("is not a Kiln checkpoint (no step count and epoch in its metadata)")
    }
    // 2^53 steps or epochs would take centuries.
    guard (0...(1 << 53)).contains(epoch), (0...(1 << 53)).contains(steps) else {
      throw fail("has impossible metadata (epoch \(epoch), step \(steps)); it is damaged or was not written by Kiln")
    }
    guard metadata["model"] == model.name else {
      throw fail("is a checkpoint of model \(metadata["model"] ?? "?"), not \(model.name)")
    }
    let saved = metadata["optimizer"].flatMap { try? JSONDecoder().decode(Optimizer.self, from: Data($0.utf8)) }
    guard saved == training.optimizer else {
      throw fail("was written with optimizer \(metadata["optimizer"] ?? "?"), not \(training.optimizer); resume with the same optimizer settings")
    }
    let current = parameters
    for (name, tensor) in tensors {
      guard let existing = current[name] else { throw fail("holds \(name), which this training run does not have") }
      guard existing.shape == tensor.shape else {
        throw fail("holds \(name) as \(TensorType(tensor.shape)) but the model expects \(TensorType(existing.shape))")
      }
    }
    if let missing = current.names.first(where: { name in !tensors.contains { $0.name == name } }) {
      throw fail("lacks \(missing)")
    }
    for (name, tensor) in tensors { try engine.setParameter(name, tensor) }
    self.steps = steps
    return epoch
  }
}

extension Model {
  /// Classification accuracy and mean softmax cross-entropy over `data`, in batches of the
  /// model's batch size (and one smaller batch for the remainder). `predict` runs a (possibly
  /// re-batched) model on a batch; the default is the interpreter.
  public func evaluate(
    on data: Dataset, predict: (Model, Tensor<Float>) throws -> Tensor<Float> = { try $0.predict($1) }
  ) throws -> (accuracy: Double, loss: Double) {
    guard let input = graph.inputs.first else { throw KilnError.invalidArgument("model \(graph.name) has no input") }
    let batch = graph[input].type.shape[0]
    var (correct, totalLoss) = (0, 0.0)
    for indices in data.batchIndices(size: batch, shuffleSeed: nil, dropLast: false) {
      let sized = indices.count == batch ? self : try Model(graph: graph.rebatched(to: indices.count), parameters: parameters)
      let (images, labels) = data.batch(indices)
      let logits = try predict(sized, images)
      let classes = logits.shape[1]
      let logProbabilities = ElementwiseKernels.softmax(logits, axis: 1, log: true)
      correct += zip(logits.argmaxRows(), labels.scalars).filter { $0 == Int($1) }.count
      for (row, label) in labels.scalars.enumerated() {
        totalLoss -= Double(logProbabilities.scalars[row * classes + Int(label)])
      }
    }
    return (Double(correct) / Double(max(data.count, 1)), totalLoss / Double(max(data.count, 1)))
  }
}

extension Tensor where Scalar: KilnScalar {
  /// The index of the largest element of each row of a `[rows, columns]` tensor (the first one
  /// on ties): the predicted class of each sample.
  public func argmaxRows() -> [Int] {
    let columns = shape[1]
    return (0..<shape[0]).map { row in
      (0..<columns).reduce(0) { best, column in scalars[row * columns + column] > scalars[row * columns + best] ? column : best }
    }
  }
}
