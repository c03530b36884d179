import Foundation
import Testing

@testable import Kiln

@Suite struct TrainingTests {
  let data: Dataset

  init() throws { data = try FashionMNIST.load(.test, limit: 96, padding: 2) }

  func trainer(optimizer: Optimizer = Optimizer(.momentum), frozen: [String] = []) throws -> Trainer {
    try Trainer(model: Model(graph: Zoo.lenet5(input: [16, 1, 32, 32]), seed: 1), optimizer: optimizer, frozen: frozen)
  }

  @Test func lossFallsOnAFixedSubset() throws {
    var trainer = try trainer()
    let before = try trainer.trainedModel.evaluate(on: data)
    var last = Trainer.EpochResult(samples: 0, meanLoss: 0, accuracy: 0, seconds: 0)
    for epoch in 0..<4 { last = try trainer.trainEpoch(on: data, epoch: epoch, seed: 1, schedule: .constant(0.05)) }
    let after = try trainer.trainedModel.evaluate(on: data)
    #expect(last.samples == 96)
    #expect(after.loss < before.loss * 0.8, "loss \(before.loss) → \(after.loss)")
    #expect(after.accuracy > before.accuracy)
  }

  @Test func resumingIsBitExact() throws {
    let directory = try temporaryDirectory()
    var straight = try trainer(optimizer: Optimizer(.adam))
    for epoch in 0..<2 { _ = try straight.trainEpoch(on: data, epoch: epoch, seed: 7, schedule: .cosine(0.01, epochs: 2)) }

    var first = try trainer(optimizer: Optimizer(.adam))
    _ = try first.trainEpoch(on: data, epoch: 0, seed: 7, schedule: .cosine(0.01, epochs: 2))
    try first.saveCheckpoint(to: directory + "/ckpt.safetensors", epoch: 1)
    var resumed = try trainer(optimizer: Optimizer(.adam))
    #expect(try resumed.resume(from: directory + "/ckpt.safetensors") == 1)
    _ = try resumed.trainEpoch(on: data, epoch: 1, seed: 7, schedule: .cosine(0.01, epochs: 2))
    #expect(resumed.steps == straight.steps)
    for name in straight.parameters.names {
      #expect(resumed.parameters[name]?.scalars.map(\.bitPattern) == straight.parameters[name]?.scalars.map(\.bitPattern), "\(name)")
    }
  }

  @Test func frozenLayersStayBitIdentical() throws {
    var trainer = try trainer(frozen: ["conv1", "conv2"])
    let before = trainer.parameters
    _ = try trainer.trainEpoch(on: data, epoch: 0, seed: 1, schedule: .constant(0.05))
    for name in ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"] {
      #expect(trainer.parameters[name] == before[name], "\(name) changed")
    }
    #expect(trainer.parameters["fc2.weight"] != before["fc2.weight"])
  }

  @Test func checkpointsOfOtherRunsAreRejected() throws {
    let directory = try temporaryDirectory()
    let path = directory + "/ckpt.safetensors"
    try trainer(optimizer: Optimizer(.adam)).saveCheckpoint(to: path, epoch: 1)
    var sgd = try trainer(optimizer: Optimizer(.sgd))
    expectError("ckpt.safetensors: was written with optimizer", "resume with the same optimizer settings") { _ = try sgd.resume(from: path) }
    var other = try Trainer(model: Model(name: "other", input: [16, 1, 32, 32]) { Flatten(); Dense(10) }, optimizer: Optimizer(.adam))
    expectError("is a checkpoint of model lenet5, not other") { _ = try other.resume(from: path) }
    try SafeTensors.write([("x", Tensor(shape: [1], scalars: [0]))], to: path)
    expectError("is not a Kiln checkpoint") { _ = try sgd.resume(from: path) }
  }

  @Test func mismatchedBatchesAndLabelsAreRejected() throws {
    var trainer = try trainer()
    let (images, labels) = data.batch(Array(0..<8))
    expectError("input: the input expects shape [16,1,32,32] but was given [8,1,32,32]") {
      _ = try trainer.step(["input": images, "labels": Tensor(shape: [16], repeating: 0)], learningRate: 0.1)
    }
    let (full, _) = data.batch(Array(0..<16))
    expectError("labels: the input expects shape [16] but was given [8]") {
      _ = try trainer.step(["input": full, "labels": labels], learningRate: 0.1)
    }
    expectError("loss: label 12.0 of sample 0 is outside 0..<10") {
      _ = try trainer.step(["input": full, "labels": Tensor(shape: [16], repeating: 12)], learningRate: 0.1)
    }
  }

  @Test func learningRateSchedules() {
    #expect(LearningRateSchedule.constant(0.1).rate(step: 500, stepsPerEpoch: 10) == 0.1)
    // ×0.1 every 2 epochs of 10 steps: steps 0–19 at 1, 20–39 at 0.1, 40 on at 0.01.
    let step = LearningRateSchedule.step(1, every: 2, gamma: 0.1)
    #expect(step.rate(step: 19, stepsPerEpoch: 10) == 1)
    #expect(abs(step.rate(step: 20, stepsPerEpoch: 10) - 0.1) < 1e-15)
    #expect(abs(step.rate(step: 45, stepsPerEpoch: 10) - 0.01) < 1e-15)
    // Cosine over 4 epochs of 10 steps: 1 → 0.5 at the middle → 0 at the end.
    let cosine = LearningRateSchedule.cosine(1, epochs: 4)
    #expect(cosine.rate(step: 0, stepsPerEpoch: 10) == 1)
    #expect(abs(cosine.rate(step: 20, stepsPerEpoch: 10) - 0.5) < 1e-12)
    #expect(abs(cosine.rate(step: 40, stepsPerEpoch: 10)) < 1e-12)
  }

  @Test func rebatchingKeepsTheArchitecture() throws {
    let graph = try Zoo.lenet5().rebatched(to: 8)
    #expect(graph[graph.outputs[0]].type.shape == [8, 10])
    #expect(Summary(graph).trainableParameters == 61_706)
    expectError("batch size must be at least 1") { _ = try graph.rebatched(to: 0) }
  }
}
