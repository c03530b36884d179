import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a model on Fashion-MNIST and save its weights.",
    discussion: """
      Each epoch shuffles the training set with --seed, trains with the chosen optimizer, evaluates
      on the test set and writes a checkpoint (weights, running statistics, optimizer state) to
      --checkpoint atomically; --resume continues from one bit-exactly. The final weights go to
      --out. Images are zero-padded to the model's input (28×28 → 32×32 for lenet5).

      Examples:
        kiln train lenet5 --epochs 10 --optimizer momentum --lr 0.02 --out lenet5.safetensors
        kiln train lenet5 --optimizer adam --lr 0.001 --schedule cosine --epochs 5
        kiln train lenet5 --weights lenet5.safetensors --freeze conv1,conv2,conv3 --epochs 1
        kiln train lenet5 --resume lenet5.ckpt.safetensors --epochs 10
      """)

  @OptionGroup var options: ModelOptions
  @OptionGroup var optimization: OptimizerOptions

  @Option(help: "The data set (only fashion-mnist for now).")
  var dataset = "fashion-mnist"

  @OptionGroup var data: DataOptions

  @Option(help: "Epochs to train (in total, counting resumed ones).")
  var epochs = 10

  @Option(help: "Batch size.")
  var batch = 64

  @Option(help: "Learning rate.")
  var lr = 0.02

  @Option(help: "Learning-rate schedule: constant, step (×0.1 every --step-epochs) or cosine.")
  var schedule = "constant"

  @Option(name: .customLong("step-epochs"), help: "Epochs between decays of the step schedule.")
  var stepEpochs = 5

  @Option(help: "Initial weights (safetensors), e.g. to fine-tune.")
  var weights: String?

  @Option(help: "Where to write the trained weights.")
  var out = "weights.safetensors"

  @Option(help: "Where to write the checkpoint after each epoch (default: <out> with .ckpt).")
  var checkpoint: String?

  @Option(help: "A checkpoint to continue from.")
  var resume: String?

  @Option(help: "Use only the first N training and test images (quick runs).")
  var limit: Int?

  @Option(help: "jit (the training step compiled with LLVM) or interp (the reference interpreter).")
  var backend = Backend.jit

  @Option(help: "Augment training images: comma-separated cropN (shift up to N pixels, background padding), translateN (edge padding), flip; e.g. crop4,flip.")
  var augment: String?

  @Option(help: "Threads for the compiled training step's loops and for BLAS (results are the same for any count).")
  var threads = 1

  @Flag(name: .customLong("sync-bn"), help: "Under mpirun: batch norm uses the statistics of the whole global batch, not each process's part.")
  var syncBN = false

  func validate() throws {
    guard dataset == "fashion-mnist" else { throw ValidationError("--dataset \(dataset) is not known; use fashion-mnist") }
    guard ["constant", "step", "cosine"].contains(schedule) else { throw ValidationError("--schedule must be constant, step or cosine") }
    guard epochs >= 1, batch >= 1, stepEpochs >= 1 else { throw ValidationError("--epochs, --batch and --step-epochs must be positive") }
    guard lr.isFinite, lr > 0 else { throw ValidationError("--lr must be a positive finite number, got \(lr)") }
    try optimization.settings.validate()
    if let limit, limit < batch { throw ValidationError("--limit \(limit) is smaller than the batch \(batch)") }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
  }

  func run() throws {
    // Under mpirun: one process of a data-parallel job, training on its share of each batch.
    let communicator = try MPICommunicator.fromEnvironment()
    let (rank, processes) = (communicator?.rank ?? 0, communicator?.size ?? 1)
    let share = processes > 1 ? try BatchShare(globalBatch: batch, rank: rank, size: processes) : nil
    if share != nil && backend != .jit {
      throw ValidationError("data-parallel training (mpirun) runs compiled steps; leave out --backend \(backend.rawValue)")
    }
    let lead = rank == 0
    let model = try options.model(weights: weights, batch: share?.count ?? batch)
    guard let shape = model.inputType?.shape, shape.count == 4, [1, 3].contains(shape[1]), shape[2] == shape[3], shape[2] >= 28, (shape[2] - 28) % 2 == 0 else {
      throw ValidationError("Fashion-MNIST images (1×28×28, zero-padded, repeated over 3 channels for RGB models) need a model input [N,1,S,S] or [N,3,S,S] with even S ≥ 28")
    }
    let padding = (shape[2] - 28) / 2
    let train = try FashionMNIST.load(.train, directory: data.directory, limit: limit, padding: padding).repeatingChannels(shape[1])
    let test = try FashionMNIST.load(.test, directory: data.directory, limit: limit, padding: padding).repeatingChannels(shape[1])
    let settings = optimization.settings
    let frozen = optimization.frozen
    var trainer: Trainer
    switch backend {
    case .jit:
      let compiler = try Compiler()
      trainer = try Trainer(model: model, optimizer: settings, frozen: frozen, share: share?.weight, synchronizedBatchNorm: syncBN, process: rank) {
        try CompiledTraining($0, parameters: $1, compiler: compiler, threads: threads, communicator: share == nil ? nil : communicator)
      }
    case .interp:
      trainer = try Trainer(model: model, optimizer: settings, frozen: frozen)
    }
    let checkpointPath = checkpoint ?? (out.hasSuffix(".safetensors") ? String(out.dropLast(12)) + ".ckpt.safetensors" : out + ".ckpt")
    // Both files are written (by the first process) after training: find out now whether they can be.
    if lead { for file in [out, checkpointPath] { try AtomicFile.checkWritable(file) } }
    var firstEpoch = 0
    if let resume {
      firstEpoch = try trainer.resume(from: resume)
      if lead { say("resumed \(resume) after epoch \(firstEpoch) (step \(trainer.steps))") }
    }
    if lead, share != nil { say("data-parallel training on \(processes) processes, each taking its part of every batch of \(batch)") }
    let augmentation = try augment.map { try Augmentation($0) }
    guard firstEpoch < epochs else {
      guard lead else { communicator?.finish(); return }
      try writeWeights(trainer, to: out)
      communicator?.finish()
      say("wrote \(out): \(resume ?? "the checkpoint") had already completed \(firstEpoch) of --epochs \(epochs); nothing trained")
      return
    }
    let rates: LearningRateSchedule =
      schedule == "step" ? .step(lr, every: stepEpochs, gamma: 0.1) : schedule == "cosine" ? .cosine(lr, epochs: epochs) : .constant(lr)
    // Images per second of the whole job: this process's rate × the global batch over its share.
    let scale = Double(batch) / Double(share?.count ?? batch)
    for epoch in firstEpoch..<epochs {
      let result = try trainer.trainEpoch(on: train, epoch: epoch, seed: options.seed, schedule: rates, augmentation: augmentation, share: share) {
        done, total, sofar in
        if lead { Progress.show(epoch: epoch + 1, of: epochs, done: done, total: total, sofar, samplesScale: scale) }
      }
      // Each process evaluates its part of the test set; sums over the processes give the whole
      // set's figures, and the whole batch's training figures.
      let part = test.part(rank, of: processes)
      let (partAccuracy, partLoss) = try evaluate(try trainer.trainedModel, on: part)
      let testSums = [partAccuracy, partLoss, 1].map { $0 * Double(part.count) }
      let trainingSums = [result.accuracy, result.meanLoss, 1].map { $0 * Double(result.samples) }
      let sums = try communicator.map { try $0.allReduceSum(testSums + trainingSums) }
      let (accuracy, testLoss) = sums.map { ($0[0] / $0[2], $0[1] / $0[2]) } ?? (partAccuracy, partLoss)
      let (trainAccuracy, trainLoss) = sums.map { ($0[3] / $0[5], $0[4] / $0[5]) } ?? (result.accuracy, result.meanLoss)
      guard lead else { continue }
      try trainer.saveCheckpoint(to: checkpointPath, epoch: epoch + 1)
      Progress.finish("epoch \(epoch + 1): " + String(format: "train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%, %.0f img/s",
        trainLoss, 100 * trainAccuracy, testLoss, 100 * accuracy, scale * Double(result.samples) / result.seconds))
    }
    if lead { try writeWeights(trainer, to: out) }
    communicator?.finish()
    if lead { say("wrote \(out) and \(checkpointPath)") }
  }

  /// Writes the trained weights to `path`, unless one is not finite (the file is then untouched).
  private func writeWeights(_ trainer: Trainer, to path: String) throws {
    _ = try trainer.finiteParameters(for: path)
    try SafeTensors.write(try trainer.trainedModel.parameters.entries, metadata: ["format": "kiln", "model": trainer.model.name], to: path)
  }

  /// Test accuracy and loss with the chosen backend (compiled per test batch size).
  private func evaluate(_ model: Model, on data: Dataset) throws -> (accuracy: Double, loss: Double) {
    guard backend == .jit else { return try model.evaluate(on: data) }
    let compiler = try Compiler()
    var compiled: [Int: CompiledModel] = [:]
    return try model.evaluate(on: data) { sized, images in
      let batch = images.shape[0]
      let engine = try compiled[batch] ?? compiler.compile(sized)
      compiled[batch] = engine
      return try engine.predict(images)
    }
  }
}

/// A one-line progress bar on a terminal; a plain line every quarter epoch otherwise (logs, tests).
enum Progress {
  static let isTerminal = isatty(STDERR_FILENO) != 0

  /// `samplesScale` turns this process's samples into the whole job's (data-parallel training).
  static func show(epoch: Int, of epochs: Int, done: Int, total: Int, _ sofar: Trainer.EpochResult, samplesScale: Double = 1) {
    let width = 30
    let filled = width * done / max(total, 1)
    let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
    let rate = samplesScale * Double(sofar.samples) / max(sofar.seconds, 1e-9)
    let line = "epoch \(epoch)/\(epochs) [\(bar)] \(done)/\(total) " + String(format: "loss %.4f acc %.2f%% %.0f img/s", sofar.meanLoss, 100 * sofar.accuracy, rate)
    if isTerminal {
      FileHandle.standardError.write(Data("\r\(line)".utf8))
    } else if done % max(total / 4, 1) == 0 {
      FileHandle.standardError.write(Data("\(line)\n".utf8))
    }
  }

  static func finish(_ summary: String) {
    if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    say(summary)
  }
}
