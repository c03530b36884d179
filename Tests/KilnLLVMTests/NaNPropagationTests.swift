import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// NaN propagates as in PyTorch and ONNX Runtime — through ReLU, max pooling, max reductions and
/// maxout, wherever it sits in a window — and the interpreter and compiled code agree on which
/// outputs are NaN.
@Suite struct NaNPropagationTests {
  static let compiler = Result { try Compiler() }

  /// Runs `model` in both backends on `input` (fed as `name`) and expects the same NaN positions
  /// (at least one) and equal values elsewhere; returns the interpreter's output.
  @discardableResult
  func expectSameNaNs(_ model: Model, _ input: Tensor<Float>, name: String = "in0", sourceLocation: SourceLocation = #_sourceLocation) throws
    -> Tensor<Float>
  {
    let expected = try model.run([name: input])[0]
    let actual = try Self.compiler.get().compile(model).run([name: input])[0]
    #expect(expected.scalars.contains { $0.isNaN }, "the interpreter dropped the NaN", sourceLocation: sourceLocation)
    #expect(actual.scalars.map(\.isNaN) == expected.scalars.map(\.isNaN), "NaN positions differ", sourceLocation: sourceLocation)
    for (a, e) in zip(actual.scalars, expected.scalars) where !e.isNaN {
      #expect(abs(a - e) <= 1e-5 * max(1, abs(e)), sourceLocation: sourceLocation)
    }
    return expected
  }

  func oneOp(_ op: Op, _ shape: [Int]) throws -> Model {
    var graph = Graph(name: "op")
    let x = try graph.append("in0", .input(InputAttrs(TensorType(shape))))
    graph.outputs = [try graph.append("op", op, inputs: [x])]
    return try Model(graph: graph, parameters: ParameterStore())
  }

  /// Values 1…n with a NaN at `position`.
  func withNaN(_ shape: [Int], at position: Int) throws -> Tensor<Float> {
    var tensor = try Tensor<Float>(shape: shape, scalars: (0..<shape.reduce(1, *)).map { Float($0 % 7) - 3 })
    tensor.scalars[position] = .nan
    return tensor
  }

  @Test func maxPoolingWindowsWithANaNAnywhereAreNaN() throws {
    let pool = try oneOp(.pool(PoolAttrs(kind: .max, kernel: [2, 2], stride: [2, 2], padding: .symmetric(0, rank: 2))), [1, 1, 4, 4])
    for position in 0..<16 {
      let output = try expectSameNaNs(pool, withNaN([1, 1, 4, 4], at: position))
      // Exactly the window holding the NaN.
      let window = (position / 4 / 2) * 2 + (position % 4) / 2
      #expect(output.scalars.enumerated().map { $0.element.isNaN } == (0..<4).map { $0 == window }, "NaN at \(position)")
    }
    let padded = try oneOp(.pool(PoolAttrs(kind: .max, kernel: [3, 3], stride: [2, 2], padding: .symmetric(1, rank: 2))), [1, 2, 5, 5])
    for position in [0, 4, 12, 24, 25, 49] { try expectSameNaNs(padded, withNaN([1, 2, 5, 5], at: position)) }
  }

  @Test func reductionsMaxoutAndActivationsPropagateNaN() throws {
    for position in [0, 5, 11] {
      try expectSameNaNs(try oneOp(.globalPool(GlobalPoolAttrs(kind: .max)), [1, 2, 2, 3]), withNaN([1, 2, 2, 3], at: position))
      try expectSameNaNs(try oneOp(.reduce(ReduceAttrs(.max, axes: [1], keepDims: false)), [3, 4]), withNaN([3, 4], at: position))
      // Rows of 70: NaN in the vector accumulators' part and in the tail.
      for row in [position, 69 - position] {
        try expectSameNaNs(try oneOp(.reduce(ReduceAttrs(.max, axes: [1], keepDims: false)), [2, 70]), withNaN([2, 70], at: 70 + row))
      }
      try expectSameNaNs(try oneOp(.maxout(MaxoutAttrs(pieces: 3)), [1, 6, 2]), withNaN([1, 6, 2], at: position))
      for function in [UnaryFunction.relu, .relu6, .leakyReLU(slope: 0.1), .elu(alpha: 1), .sigmoid, .tanh] {
        try expectSameNaNs(try oneOp(.unary(UnaryAttrs(function)), [3, 4]), withNaN([3, 4], at: position))
      }
      try expectSameNaNs(try oneOp(.softmax(SoftmaxAttrs(axis: 1)), [3, 4]), withNaN([3, 4], at: position))
    }
  }

  /// The gradients of max pooling and max reductions go to the first NaN of a window, in both
  /// backends.
  @Test func maximumGradientsGoToTheFirstNaN() throws {
    let cases: [(Op, [Int], [Int])] = [
      (.poolGrad(PoolGradAttrs(pool: PoolAttrs(kind: .max, kernel: [2, 2], stride: [2, 2], padding: .symmetric(0, rank: 2)))), [1, 1, 4, 4], [1, 1, 2, 2]),
      (.reduceGrad(ReduceGradAttrs(reduce: ReduceAttrs(.max, axes: [1], keepDims: true))), [3, 4], [3, 1]),
    ]
    for (op, xShape, dyShape) in cases {
      var graph = Graph(name: "grad")
      let x = try graph.append("x", .input(InputAttrs(TensorType(xShape))))
      let dy = try graph.append("dy", .input(InputAttrs(TensorType(dyShape))))
      graph.outputs = [try graph.append("dx", op, inputs: [x, dy])]
      let model = try Model(graph: graph, parameters: ParameterStore())
      var input = try withNaN(xShape, at: 5)
      input.scalars[4] = .nan
      let feeds = ["x": input, "dy": try Tensor<Float>(shape: dyShape, scalars: (1...dyShape.reduce(1, *)).map(Float.init))]
      let expected = try model.run(feeds)[0]
      let actual = try Self.compiler.get().compile(model).run(feeds)[0]
      #expect(actual == expected, "\(op)")
      // Elements 4 and 5 are NaN and in one window (row 1 of the reduction; 0, 1, 4, 5 of the
      // pool): 4 comes first and takes the gradient.
      #expect(expected.scalars[4] != 0 && expected.scalars[5] == 0, "\(expected.scalars)")
    }
  }

  /// The probe that found it: one NaN pixel in LeNet-5's input vanished from the compiled output
  /// at some positions (0, 1, 1023) and not at others (33, 500).
  @Test func lenet5OutputIsNaNWhereverTheNaNPixelIs() throws {
    let model = try Model(graph: Zoo.lenet5(), seed: 5)
    for pixel in [0, 1, 33, 500, 1023] {
      var image = try Tensor<Float>(shape: [1, 1, 32, 32], scalars: (0..<1024).map { Float($0 % 13) / 13 })
      image.scalars[pixel] = .nan
      let output = try expectSameNaNs(model, image, name: "input")
      #expect(output.scalars.allSatisfy { $0.isNaN }, "NaN at pixel \(pixel)")
    }
  }
}
