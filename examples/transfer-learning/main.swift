// Transfer learning: train LeNet-5 on five Fashion-MNIST classes (tops and dresses), then freeze
// its convolutional features and first dense layer and retrain only a fresh head on the other five
// classes (shoes and bags). The frozen weights stay bit-identical.
//
//   swift run -c release transfer-learning [training images per task, default 6000]
import Foundation
import Kiln

let perTask = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 6000
let (batch, epochs) = (32, 2)
let oldClasses = [0, 1, 2, 3, 4]
let newClasses = [5, 6, 7, 8, 9]

do {
  let train = try FashionMNIST.load(.train, limit: 2 * perTask, padding: 2)
  let test = try FashionMNIST.load(.test, limit: min(2000, perTask), padding: 2)
  let architecture = try Zoo.lenet5(input: [batch, 1, 32, 32], classes: 5)

  // 1. The source task.
  var source = try Trainer(model: Model(graph: architecture, seed: 1), optimizer: Optimizer(.momentum))
  for epoch in 0..<epochs {
    _ = try source.trainEpoch(on: train.selecting(classes: oldClasses), epoch: epoch, seed: 1, schedule: .constant(0.02))
  }
  let pretrained = try source.trainedModel
  let sourceAccuracy = try pretrained.evaluate(on: test.selecting(classes: oldClasses)).accuracy
  print(String(format: "source task (classes %@): test accuracy %.1f%%", "\(oldClasses)", 100 * sourceAccuracy))

  // 2. The new task: the pretrained features, a freshly initialised head, only the head trains.
  var parameters = pretrained.parameters
  let fresh = try Model(graph: architecture, seed: 2)
  for name in ["fc2.weight", "fc2.bias"] { parameters[name] = fresh.parameters[name] }
  let frozen = ["conv1", "conv2", "conv3", "fc1"]
  var target = try Trainer(model: Model(graph: architecture, parameters: parameters), optimizer: Optimizer(.momentum), frozen: frozen)
  let newTest = test.selecting(classes: newClasses)
  let before = try target.trainedModel.evaluate(on: newTest).accuracy
  for epoch in 0..<epochs {
    _ = try target.trainEpoch(on: train.selecting(classes: newClasses), epoch: epoch, seed: 2, schedule: .constant(0.02))
  }
  let tuned = try target.trainedModel
  let after = try tuned.evaluate(on: newTest).accuracy
  print(String(format: "new task (classes %@): test accuracy %.1f%% with a random head, %.1f%% after training the head", "\(newClasses)", 100 * before, 100 * after))

  let unchanged = frozen.flatMap { ["\($0).weight", "\($0).bias"] }.allSatisfy { tuned.parameters[$0] == pretrained.parameters[$0] }
  print("frozen layers bit-identical: \(unchanged)")
  if !unchanged { exit(1) }
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
