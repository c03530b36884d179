// LeNet-5 on Fashion-MNIST, end to end: train with JIT-compiled training steps, evaluate the test
// set with compiled inference, save the weights, and compile the model ahead of time into a
// shared object with a C header.
//
//   swift run -c release lenet-fashion-mnist --epochs 2 --out out/lenet-fashion-mnist
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct LeNetFashionMNIST: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lenet-fashion-mnist",
    abstract: "Train LeNet-5 on Fashion-MNIST, evaluate it, save its weights and compile it to a .so.")

  @Option(help: "Training images to use (the first N of 60,000).")
  var limit = 60_000
  @Option(help: "Test images to evaluate (the first N of 10,000).")
  var testLimit = 10_000
  @Option(help: "Epochs.")
  var epochs = 2
  @Option(help: "Directory for lenet5.safetensors, lenet5.so and lenet5.h.")
  var out = "out/lenet-fashion-mnist"

  func run() throws {
    let compiler = try Compiler()
    let train = try FashionMNIST.load(.train, limit: limit, padding: 2)
    let test = try FashionMNIST.load(.test, limit: testLimit, padding: 2)

    // Training: batch 64, SGD with momentum; every step runs as one native function.
    let architecture = try Zoo.lenet5(input: [64, 1, 32, 32])
    var trainer = try Trainer(model: Model(graph: architecture, seed: 1), optimizer: Optimizer(.momentum)) { training, parameters in
      try CompiledTraining(training, parameters: parameters, compiler: compiler)
    }
    for epoch in 0..<epochs {
      let result = try trainer.trainEpoch(on: train, epoch: epoch, seed: 1, schedule: .cosine(0.03, epochs: epochs))
      print(String(format: "epoch %d: loss %.4f, training accuracy %.2f%%, %.1f s", epoch + 1, result.meanLoss, 100 * result.accuracy, result.seconds))
    }

    // Evaluation: the trained weights in a batch-1 model, compiled once.
    let trained = try trainer.trainedModel
    let single = try Model(graph: architecture.rebatched(to: 1), parameters: trained.parameters)
    let compiled = try compiler.compile(single)
    var correct = 0
    for index in 0..<test.count {
      let (image, label) = test.batch([index])
      if try compiled.predict(image).argmaxRows()[0] == Int(label.scalars[0]) { correct += 1 }
    }
    print(String(format: "test accuracy %.2f%% (%d of %d)", 100 * Double(correct) / Double(test.count), correct, test.count))

    // Saving: weights as safetensors, the model as a shared object plus its C header.
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try SafeTensors.write(single.parameters.entries, to: "\(out)/lenet5.safetensors")
    let header = try compiler.emitSharedObject(single, to: "\(out)/lenet5.so")
    print("wrote \(out)/lenet5.safetensors, \(out)/lenet5.so and \(header)")
  }
}
