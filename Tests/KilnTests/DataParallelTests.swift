import Foundation
import Testing

@testable import Kiln

/// The pieces of data-parallel training that run in one process: batch shares, the all-reduce op
/// and the gradient exchange in training graphs. (`MPITrainingTests` runs real jobs.)
@Suite struct DataParallelTests {
  /// 64 over 3 processes: 22, 21, 21 samples at offsets 0, 22, 43; weights 22/64, 21/64.
  @Test func batchSharesCoverTheBatchOnce() throws {
    let shares = try (0..<3).map { try BatchShare(globalBatch: 64, rank: $0, size: 3) }
    #expect(shares.map(\.count) == [22, 21, 21] && shares.map(\.offset) == [0, 22, 43])
    let weights: [Double] = [22.0 / 64, 21.0 / 64, 21.0 / 64]
    #expect(shares.map(\.weight) == weights)
    #expect(try BatchShare(globalBatch: 64, rank: 1, size: 2).offset == 32)
    expectError("a global batch of 2 cannot be shared by 3 processes") { _ = try BatchShare(globalBatch: 2, rank: 0, size: 3) }
    let data = try Dataset(images: (0..<7).map(Float.init), shape: [1, 1, 1], labels: Array(repeating: 0, count: 7), classCount: 1)
    #expect((0..<3).map { data.part($0, of: 3).pixels } == [[0, 1, 2], [3, 4], [5, 6]])
  }

  /// Each process drops different units, reproducibly; process 0 keeps the model's masks.
  @Test func dropoutMasksDifferPerProcess() throws {
    let graph = try Graph(name: "dropped", input: [2, 8]) {
      Dense(8, name: "fc1")
      Dropout(0.5, name: "drop")
      Dense(3, name: "fc2")
    }
    func seed(_ process: Int) throws -> UInt64 {
      let training = try TrainingGraph(model: graph, optimizer: Optimizer(.sgd), share: 0.5, process: process)
      for node in training.graph.nodes { if case .dropout(let a) = node.op { return a.seed } }
      throw KilnError.invalidGraph("no dropout")
    }
    let plain = try TrainingGraph(model: graph, optimizer: Optimizer(.sgd))
    let modelSeed = plain.graph.nodes.compactMap { if case .dropout(let a) = $0.op { a.seed } else { nil } }.first
    #expect(try seed(0) == modelSeed && seed(1) != seed(0) && seed(2) != seed(1) && seed(1) == seed(1))
  }

  /// In one process the all-reduce is its weighted input; its gradient is the same exchange.
  @Test func allReduceInOneProcess() throws {
    expectClose(try apply(.allReduce(AllReduceAttrs(weight: 0.25)), [T([2, 2], [1, -2, 4, 8])]), [2, 2], [0.25, -0.5, 1, 2], tolerance: 0)
    try GradientCheck.checkOp(.allReduce(AllReduceAttrs(weight: 0.3)), shapes: [[3, 4]])
  }

  /// A training graph with a share sums its gradients through one all-reduce node of the joined
  /// gradients; with share 1 it trains exactly as without, with share ½ (alone) SGD moves half
  /// as far.
  @Test func exchangeInTrainingGraphs() throws {
    let model = try Model(graph: Zoo.lenet5(input: [4, 1, 32, 32]), seed: 5)
    let shared = try TrainingGraph(model: model.graph, optimizer: Optimizer(.sgd), share: 1)
    let exchanges = shared.graph.nodes.filter { if case .allReduce = $0.op { return true } else { return false } }
    let weights = model.graph.parameters.map { model.graph[$0].type.elementCount }.reduce(0, +)
    #expect(exchanges.count == 1 && exchanges[0].type.shape == [weights], "one exchange of all \(weights) gradient values")
    let plain = try TrainingGraph(model: model.graph, optimizer: Optimizer(.sgd))
    #expect(plain.graph.nodes.allSatisfy { $0.op.mnemonic != "all_reduce" })

    let images = random([4, 1, 32, 32], seed: 2).scalars.map(Float.init)
    let batch = ["input": try Tensor(shape: [4, 1, 32, 32], scalars: images)]
    let labels = ["labels": try Tensor<Int32>(shape: [4], scalars: [1, 7, 3, 3])]
    func train(share: Double?, rate: Double) throws -> Tensor<Float> {
      var trainer = try Trainer(model: model, optimizer: Optimizer(.sgd), share: share)
      for _ in 0..<2 { _ = try trainer.step(batch, integers: labels, learningRate: rate) }
      return try #require(try trainer.trainedModel.parameters["conv1.weight"])
    }
    let alone = try train(share: nil, rate: 0.1)
    #expect(try train(share: 1, rate: 0.1) == alone)
    let half = try train(share: 0.5, rate: 0.2)
    #expect(zip(half.scalars, alone.scalars).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
    expectError("share of the global batch must be in (0, 1]") { _ = try TrainingGraph(model: model.graph, optimizer: Optimizer(.sgd), share: 1.5) }
  }
}
