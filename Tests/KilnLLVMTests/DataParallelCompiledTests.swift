import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// The gradient exchange in compiled training steps, with communicators standing in for MPI.
@Suite struct DataParallelCompiledTests {
  /// N processes that all hold the same samples: the all-reduce sums N equal copies.
  final class Copies: Communicator, @unchecked Sendable {
    let rank = 0
    let size: Int
    private(set) var calls = 0
    init(_ size: Int) { self.size = size }
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
      calls += 1
      for i in values.indices { values[i] *= Float(size) }
    }
    func allReduceSum(_ values: [Double]) throws -> [Double] { values.map { $0 * Double(size) } }
  }

  /// A peer that has gone away.
  final class Broken: Communicator, @unchecked Sendable {
    let (rank, size) = (0, 2)
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws { throw KilnError.invalidArgument("peer gone") }
    func allReduceSum(_ values: [Double]) throws -> [Double] { throw KilnError.invalidArgument("peer gone") }
  }

  func batch() throws -> ([String: Tensor<Float>], [String: Tensor<Int32>]) {
    let images = (0..<(4 * 1024)).map { Float(($0 * 37) % 101) / 101 }
    return (["input": try Tensor(shape: [4, 1, 32, 32], scalars: images)], ["labels": try Tensor<Int32>(shape: [4], scalars: [2, 0, 9, 4])])
  }

  /// Three "processes" with a third of the weight each and the same batch step exactly as one
  /// process does (to rounding), calling the communicator once per step; the compiled exchange
  /// equals the interpreter's.
  @Test func compiledExchangeCallsTheCommunicatorOncePerStep() throws {
    let model = try Model(graph: Zoo.lenet5(input: [4, 1, 32, 32]), seed: 9)
    let (images, labels) = try batch()
    let compiler = try Compiler()
    let copies = Copies(3)
    func train(share: Double?, communicator: (any Communicator)?) throws -> ParameterStore {
      var trainer = try Trainer(model: model, optimizer: Optimizer(.momentum), share: share) {
        try CompiledTraining($0, parameters: $1, compiler: compiler, communicator: communicator)
      }
      for _ in 0..<3 { _ = try trainer.step(images, integers: labels, learningRate: 0.05) }
      return try trainer.trainedModel.parameters
    }
    let alone = try train(share: nil, communicator: nil)
    let shared = try train(share: 1.0 / 3, communicator: copies)
    #expect(copies.calls == 3)
    for (name, tensor) in alone {
      let other = try #require(shared[name])
      // Only the rounding of ⅓ × 3 differs.
      let relative = relativeDifference(tensor, other)
      #expect(relative <= 1e-5, "\(name): relative difference \(relative)")
    }
    // The interpreter runs the exchange as one process: share 1 is the plain step.
    var interpreted = try Trainer(model: model, optimizer: Optimizer(.momentum), share: 1)
    for _ in 0..<3 { _ = try interpreted.step(images, integers: labels, learningRate: 0.05) }
    let reference = try interpreted.trainedModel.parameters
    for (name, tensor) in alone {
      #expect(zip(tensor.scalars, reference[name]!.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) }, "\(name)")
    }
  }

  /// A failed exchange fails the step with an error, and leaves nothing half-applied to report.
  @Test func aFailedExchangeFailsTheStep() throws {
    let model = try Model(graph: Zoo.lenet5(input: [4, 1, 32, 32]), seed: 9)
    let (images, labels) = try batch()
    let compiler = try Compiler()
    var trainer = try Trainer(model: model, optimizer: Optimizer(.sgd), share: 0.5) {
      try CompiledTraining($0, parameters: $1, compiler: compiler, communicator: Broken())
    }
    #expect(throws: KilnError.self) { _ = try trainer.step(images, integers: labels, learningRate: 0.05) }
    do {
      _ = try trainer.step(images, integers: labels, learningRate: 0.05)
    } catch {
      #expect("\(error)".contains("status 8"), "\(error)")
    }
  }
}
