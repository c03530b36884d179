import ArgumentParser
import Foundation
import Kiln

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

  @Option(help: "The data set (only fashion-mnist for now).")
  var dataset = "fashion-mnist"

  @Option(name: .customLong("data-dir"), help: "Where the Fashion-MNIST IDX files are.")
  var dataDirectory = FashionMNIST.defaultDirectory

  @Option(help: "Epochs to train (in total, counting resumed ones).")
  var epochs = 10

  @Option(help: "Batch size.")
  var batch = 64

  @Option(help: "sgd, momentum, nesterov, adagrad, rmsprop or adam.")
  var optimizer = "momentum"

  @Option(help: "Learning rate.")
  var lr = 0.02

  @Option(help: "Momentum (momentum, nesterov).")
  var momentum = 0.9

  @Option(name: .customLong("weight-decay"), help: "L2 weight decay.")
  var weightDecay = 0.0

  @Option(help: "Learning-rate schedule: constant, step (×0.1 every --step-epochs) or cosine.")
  var schedule = "constant"

  @Option(name: .customLong("step-epochs"), help: "Epochs between decays of the step schedule.")
  var stepEpochs = 5

  @Option(help: "Comma-separated layer names whose parameters stay fixed.")
  var freeze: String?

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

  func validate() throws {
    guard dataset == "fashion-mnist" else { throw ValidationError("--dataset \(dataset) is not known; use fashion-mnist") }
    guard Optimizer.Kind(rawValue: optimizer) != nil else {
      throw ValidationError("--optimizer \(optimizer) is not one of \(Optimizer.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard ["constant", "step", "cosine"].contains(schedule) else { throw ValidationError("--schedule must be constant, step or cosine") }
    guard epochs >= 1, batch >= 1, lr > 0, stepEpochs >= 1 else { throw ValidationError("--epochs, --batch, --lr and --step-epochs must be positive") }
    if let limit, limit < batch { throw ValidationError("--limit \(limit) is smaller than the batch \(batch)") }
  }

  func run() throws {
    let single = try options.model(weights: weights)
    let model = try Model(graph: single.graph.rebatched(to: batch), parameters: single.parameters)
    guard let shape = model.inputType?.shape, shape.count == 4, shape[1] == 1, shape[2] == shape[3], shape[2] >= 28, (shape[2] - 28) % 2 == 0 else {
      throw ValidationError("Fashion-MNIST images (1×28×28, zero-padded) need a model input [N,1,S,S] with even S ≥ 28")
    }
    let padding = (shape[2] - 28) / 2
    let train = try FashionMNIST.load(.train, directory: dataDirectory, limit: limit, padding: padding)
    let test = try FashionMNIST.load(.test, directory: dataDirectory, limit: limit, padding: padding)
    let settings = Optimizer(Optimizer.Kind(rawValue: optimizer) ?? .sgd, momentum: momentum, weightDecay: weightDecay)
    var trainer = try Trainer(model: model, optimizer: settings, frozen: freeze.map { $0.split(separator: ",").map(String.init) } ?? [])
    let checkpointPath = checkpoint ?? (out.hasSuffix(".safetensors") ? String(out.dropLast(12)) + ".ckpt.safetensors" : out + ".ckpt")
    var firstEpoch = 0
    if let resume {
      firstEpoch = try trainer.resume(from: resume)
      print("resumed \(resume) after epoch \(firstEpoch) (step \(trainer.steps))")
    }
    let rates: LearningRateSchedule =
      schedule == "step" ? .step(lr, every: stepEpochs, gamma: 0.1) : schedule == "cosine" ? .cosine(lr, epochs: epochs) : .constant(lr)
    let progress = Progress(total: train.count / batch)
    for epoch in firstEpoch..<epochs {
      let batches = train.batchIndices(size: batch, shuffleSeed: options.seed &+ UInt64(epoch))
      var (seen, correct, lossSum) = (0, 0, 0.0)
      let start = Date()
      for (index, indices) in batches.enumerated() {
        let (images, labels) = train.batch(indices)
        let rate = rates.rate(step: trainer.steps, stepsPerEpoch: batches.count)
        let (loss, logits) = try trainer.step(["input": images, "labels": labels], learningRate: rate)
        seen += indices.count
        lossSum += Double(loss) * Double(indices.count)
        correct += zip(argmaxRows(logits), labels.scalars).filter { $0 == Int($1) }.count
        progress.show(
          epoch: epoch + 1, of: epochs, done: index + 1, loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
          rate: Double(seen) / Date().timeIntervalSince(start))
      }
      let trained = try trainer.trainedModel
      let (accuracy, testLoss) = try trained.evaluate(on: test)
      try trainer.saveCheckpoint(to: checkpointPath, epoch: epoch + 1)
      progress.finish(String(format: "epoch %d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%, %.0f img/s",
        epoch + 1, lossSum / Double(max(seen, 1)), 100 * Double(correct) / Double(max(seen, 1)), testLoss, 100 * accuracy,
        Double(seen) / Date().timeIntervalSince(start)))
    }
    try SafeTensors.write(try trainer.trainedModel.parameters.entries, metadata: ["format": "kiln", "model": model.graph.name], to: out)
    print("wrote \(out) and \(checkpointPath)")
  }

  private func argmaxRows(_ logits: Tensor<Float>) -> [Int] {
    let classes = logits.shape[1]
    return (0..<logits.shape[0]).map { row in
      (0..<classes).max { logits.scalars[row * classes + $0] < logits.scalars[row * classes + $1] } ?? 0
    }
  }
}

/// A one-line progress bar on a terminal; occasional plain lines otherwise (logs, tests).
struct Progress {
  let total: Int
  let isTerminal = isatty(STDERR_FILENO) != 0

  func show(epoch: Int, of epochs: Int, done: Int, loss: Double, accuracy: Double, rate: Double) {
    let width = 30
    let filled = width * done / max(total, 1)
    let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
    let line = String(format: "epoch %d/%d [%@] %d/%d loss %.4f acc %.2f%% %.0f img/s", epoch, epochs, bar, done, total, loss, 100 * accuracy, rate)
    if isTerminal {
      FileHandle.standardError.write(Data("\r\(line)".utf8))
    } else if done % max(total / 4, 1) == 0 {
      FileHandle.standardError.write(Data("\(line)\n".utf8))
    }
  }

  func finish(_ summary: String) {
    if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    print(summary)
  }
}
