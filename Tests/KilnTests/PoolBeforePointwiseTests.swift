import Foundation
import Testing

@testable import Kiln

@Suite struct PoolBeforePointwiseTests {
  /// The ops of `graph`'s computing nodes, in order.
  func ops(_ graph: Graph) -> [String] {
    graph.nodes.compactMap {
      switch $0.op {
      case .input, .parameter: return nil
      default: return $0.op.mnemonic
      }
    }
  }

  @Test func averagePoolingMovesBeforeAPointwiseConvolution() throws {
    // Hand-checked: weight [2, −1], bias 0.5 on channels [1, 2, 3, 4] and [4, 3, 2, 1]: the
    // convolution gives [−1.5, 1.5, 4.5, 7.5], whose average is 3; pooled first, 2·2.5 − 2.5 + 0.5.
    var model = try Model(name: "transition", seed: 0) { b in
      [try b.input("input", shape: [1, 2, 2, 2]).apply(Conv2D(1, kernel: 1, name: "conv")).apply(AvgPool2D(2, name: "pool")).relu()]
    }
    model.parameters["conv.weight"] = try Tensor(shape: [1, 2, 1, 1], scalars: [2, -1])
    model.parameters["conv.bias"] = try Tensor(shape: [1], scalars: [0.5])
    let moved = try model.graph.poolingBeforePointwise()
    #expect(ops(model.graph) == ["conv", "avg_pool", "unary"] && ops(moved) == ["avg_pool", "conv", "unary"])
    #expect(moved[moved.index(of: "pool")!].type.shape == [1, 2, 1, 1] && moved[moved.index(of: "conv")!].type.shape == [1, 1, 1, 1])
    #expect(moved.inputs.map { moved[$0].name } == ["input"] && moved.parameters.map { moved[$0].name } == ["conv.weight", "conv.bias"])
    let input = ["input": try Tensor<Double>(shape: [1, 2, 2, 2], scalars: [1, 2, 3, 4, 4, 3, 2, 1])]
    let parameters = model.parameterFeeds(as: Double.self)
    for graph in [model.graph, moved] {
      #expect(try Interpreter<Double>(graph).run(input.merging(parameters) { $1 }).outputs[0].scalars == [3])
    }
  }

  /// Grouped and 3D pointwise convolutions, overlapping windows: the same values, pooled first.
  @Test func groupedAndVolumetricConvolutionsPoolFirstToo() throws {
    let models = [
      try Model(name: "grouped", seed: 1) { b in
        [try b.input("input", shape: [2, 4, 6, 6]).apply(Conv2D(6, kernel: 1, groups: 2)).apply(AvgPool2D(3, stride: 2)).relu()]
      },
      try Model(name: "volumetric", seed: 2) { b in
        [try b.input("input", shape: [1, 3, 4, 4, 4]).apply(Conv3D(5, kernel: 1)).apply(AvgPool3D(2)).relu()]
      },
    ]
    for model in models {
      let moved = try model.graph.poolingBeforePointwise()
      #expect(ops(moved) == ["avg_pool", "conv", "unary"], "\(model.graph.name)")
      let input = model.graph[model.graph.inputs[0]].type.shape
      let feeds = ["input": try Tensor<Double>(shape: input, scalars: (0..<input.reduce(1, *)).map { sin(0.3 * Double($0)) })]
        .merging(model.parameterFeeds(as: Double.self)) { $1 }
      let (expected, actual) = (try Interpreter<Double>(model.graph).run(feeds).outputs[0], try Interpreter<Double>(moved).run(feeds).outputs[0])
      #expect(expected.shape == actual.shape && zip(expected.scalars, actual.scalars).allSatisfy { abs($0 - $1) <= 1e-12 }, "\(model.graph.name)")
    }
  }

  @Test func poolingStaysWhereMovingItWouldChangeResultsOrGainNothing() throws {
    func graph(_ body: (Symbol) throws -> Symbol) throws -> Graph {
      try Graph(name: "g", input: [1, 4, 6, 6]) { x in try body(x).relu() }
    }
    let unchanged: [Graph] = [
      // A 3×3 convolution, a strided or padded 1×1 one.
      try graph { try $0.apply(Conv2D(4, kernel: 3, padding: 1)).apply(AvgPool2D(2)) },
      try graph { try $0.apply(Conv2D(4, kernel: 1, stride: 2)).apply(AvgPool2D(2)) },
      try graph { try $0.apply(Conv2D(4, kernel: 1, padding: 1)).apply(AvgPool2D(2)) },
      // Padded or ceil-mode windows (which need not sum to one), max pooling, no fewer outputs.
      try graph { try $0.apply(Conv2D(4, kernel: 1)).apply(AvgPool2D(2, padding: 1)) },
      try graph { try $0.apply(Conv2D(4, kernel: 1)).apply(AvgPool2D(4, stride: 4, ceilMode: true)) },
      try graph { try $0.apply(Conv2D(4, kernel: 1)).apply(MaxPool2D(2)) },
      try graph { try $0.apply(Conv2D(4, kernel: 1)).apply(AvgPool2D(3, stride: 1, padding: 1, countIncludePad: false)) },
      // The convolution's output read twice.
      try graph { x in
        let y = try x.apply(Conv2D(4, kernel: 1))
        return try y.apply(AvgPool2D(2)) + y.apply(GlobalPool(.max))
      },
    ]
    for original in unchanged { #expect(try original.poolingBeforePointwise() == original, "\(ops(original))") }
    // The pooling is an output (whose name the result keeps).
    let output = try Graph(name: "g", input: [1, 4, 6, 6]) { try $0.apply(Conv2D(4, kernel: 1)).apply(AvgPool2D(2)) }
    #expect(try output.poolingBeforePointwise() == output)
  }
}
