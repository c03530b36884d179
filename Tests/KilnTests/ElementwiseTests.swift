import Testing

@testable import Kiln

@Suite struct ElementwiseTests {
  @Test func broadcastingArithmetic() throws {
    let a = T([2, 3], [1, 2, 3, 4, 5, 6])
    expectClose(try apply(.binary(BinaryAttrs(.add)), [a, T([3], [10, 20, 30])]), [2, 3], [11, 22, 33, 14, 25, 36])
    expectClose(try apply(.binary(BinaryAttrs(.mul)), [a, T([2, 1], [100, 200])]), [2, 3], [100, 200, 300, 800, 1000, 1200])
    expectClose(try apply(.binary(BinaryAttrs(.sub)), [T([1, 3], [1, 2, 3]), T([2, 1], [1, 2])]), [2, 3], [0, 1, 2, -1, 0, 1])
    expectClose(try apply(.binary(BinaryAttrs(.div)), [a, T([1], [2])]), [2, 3], [0.5, 1, 1.5, 2, 2.5, 3])
    // SE-style scaling: [N, C, H, W] × [N, C, 1, 1].
    expectClose(try apply(.binary(BinaryAttrs(.mul)), [iota([1, 2, 1, 2]), T([1, 2, 1, 1], [10, -1])]), [1, 2, 1, 2], [0, 10, -2, -3])
  }

  @Test(arguments: [
    (UnaryFunction.relu, [0.0, 0, 0, 1.5]) as (UnaryFunction, [Double]),
    (.relu6, [0.0, 0, 0, 1.5]),
    (.leakyReLU(slope: 0.1), [-0.2, -0.05, 0, 1.5]),
    (.elu(alpha: 1), [-0.8646647167633873, -0.3934693402873666, 0, 1.5]),
    (.elu(alpha: 2), [-1.7293294335267746, -0.7869386805747332, 0, 1.5]),
    (.sigmoid, [0.11920292202211755, 0.3775406687981454, 0.5, 0.8175744761936437]),
    (.tanh, [-0.9640275800758169, -0.46211715726000974, 0, 0.9051482536448664]),
    (.affine(scale: 2, shift: 1), [-3, 0, 1, 4]),
    (.clamp(low: -1, high: 1), [-1, -0.5, 0, 1]),
    (.hardSigmoid(alpha: 0.2, beta: 0.5), [0.1, 0.4, 0.5, 0.8]),
    // x·clip(x + 3, 0, 6)/6: −2·1/6, −0.5·2.5/6, 0, 1.5·4.5/6.
    (.hardSwish, [-0.3333333333333333, -0.20833333333333334, 0, 1.125]),
    (.silu, [-0.2384058440442351, -0.1887703343990727, 0, 1.2263617142904655]),
    (.erf, [-0.9953222650189527, -0.5204998778130465, 0, 0.9661051464753108]),
    (.gelu, [-0.04550026389635842, -0.15426876936299344, 0, 1.399789198096713]),
  ])
  func activations(function: UnaryFunction, expected: [Double]) throws {
    expectClose(try apply(.unary(UnaryAttrs(function)), [T([4], [-2, -0.5, 0, 1.5])]), [4], expected, tolerance: 1e-12)
  }

  @Test func relu6ClipsAtSix() throws {
    expectClose(try apply(.unary(UnaryAttrs(.relu6)), [T([5], [-1, 3, 6, 7.5, 100])]), [5], [0, 3, 6, 6, 6])
  }

  @Test func clampsSaturate() throws {
    let x = T([5], [-9, -3, 2, 3, 9])
    expectClose(try apply(.unary(UnaryAttrs(.hardSwish)), [x]), [5], [0, 0, 5.0 / 3, 3, 9])
    expectClose(try apply(.unary(UnaryAttrs(.hardSigmoid(alpha: 1.0 / 6, beta: 0.5))), [x]), [5], [0, 0, 5.0 / 6, 1, 1])
    expectClose(try apply(.unary(UnaryAttrs(.clamp(low: -2.5, high: 2.5))), [x]), [5], [-2.5, -2.5, 2, 2.5, 2.5])
  }

  @Test func squareRoot() throws {
    expectClose(try apply(.unary(UnaryAttrs(.sqrt)), [T([3], [0, 2.25, 16])]), [3], [0, 1.5, 4])
  }

  @Test func sigmoidDoesNotOverflow() throws {
    expectClose(try apply(.unary(UnaryAttrs(.sigmoid)), [T([2], [-1000, 1000])]), [2], [0, 1])
  }

  @Test func maxout() throws {
    expectClose(try apply(.maxout(MaxoutAttrs(pieces: 2)), [T([1, 4, 1, 1], [1, 5, 3, 2])]), [1, 2, 1, 1], [5, 3])
    // Channels c0 [1, 9], c1 [5, 0], c2 [3, 3], c3 [2, 4]: max(c0, c1), max(c2, c3) per position.
    expectClose(try apply(.maxout(MaxoutAttrs(pieces: 2)), [T([1, 4, 2], [1, 9, 5, 0, 3, 3, 2, 4])]), [1, 2, 2], [5, 9, 3, 4])
    // Along the last axis: rows [1, 5, 3, 2] and [0, −1, 7, 7] in pairs.
    expectClose(try apply(.maxout(MaxoutAttrs(pieces: 2, axis: 2)), [T([1, 2, 4], [1, 5, 3, 2, 0, -1, 7, 7])]), [1, 2, 2], [5, 3, 0, 7])
    // The layer takes a negative axis; a run that does not divide is an error naming the layer.
    let layer = try Graph(name: "m", input: [2, 3, 6]) { Maxout(pieces: 3, axis: -1, name: "mo") }
    #expect(layer.nodes.last?.type.shape == [2, 3, 2])
    expectError("mo", "4 elements along axis 2", "3 pieces") { _ = try Graph(name: "m", input: [2, 3, 4]) { Maxout(pieces: 3, axis: -1, name: "mo") } }
  }

  @Test func softmaxAndLogSoftmax() throws {
    let ln = { (x: Double) in Double.log(x) }
    let logits = T([1, 3], [0, ln(2), ln(5)])
    expectClose(try apply(.softmax(SoftmaxAttrs(axis: 1)), [logits]), [1, 3], [0.125, 0.25, 0.625], tolerance: 1e-12)
    expectClose(
      try apply(.softmax(SoftmaxAttrs(axis: 1, log: true)), [logits]), [1, 3],
      [-2.0794415416798357, -1.3862943611198906, -0.4700036292457356], tolerance: 1e-12)
    // Along axis 0: columns [0, ln 3] → [1/4, 3/4] and [0, 0] → [1/2, 1/2].
    expectClose(try apply(.softmax(SoftmaxAttrs(axis: 0)), [T([2, 2], [0, 0, ln(3), 0])]), [2, 2], [0.25, 0.5, 0.75, 0.5], tolerance: 1e-12)
    // Large logits are shifted, not overflowed.
    expectClose(try apply(.softmax(SoftmaxAttrs(axis: 1)), [T([1, 2], [1000, 1000])]), [1, 2], [0.5, 0.5])
  }

  @Test func reductions() throws {
    let x = iota([2, 3])
    expectClose(try apply(.reduce(ReduceAttrs(.sum, axes: [1])), [x]), [2], [3, 12])
    expectClose(try apply(.reduce(ReduceAttrs(.mean, axes: [0], keepDims: true)), [x]), [1, 3], [1.5, 2.5, 3.5])
    expectClose(try apply(.reduce(ReduceAttrs(.max, axes: [0, 1])), [x]), [], [5])
    // Rows [0, 1, 2] and [3, 4, 5]: mean 1 and 4, squared deviations 1, 0, 1.
    expectClose(try apply(.reduce(ReduceAttrs(.variance, axes: [1])), [x]), [2], [2.0 / 3, 2.0 / 3])
  }
}
