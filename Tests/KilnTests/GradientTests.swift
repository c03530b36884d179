import Testing

@testable import Kiln

/// Finite-difference checks (central differences in Double, relative error ≤ 1e-6) of the VJP of
/// every op and attribute.
@Suite struct GradientTests {
  static let convolutions: [(spatial: [Int], kernel: Int, stride: Int, pad: Int, mode: PaddingMode, dilation: Int, groups: Int, bias: Bool)] = [
    ([7], 3, 1, 0, .zero, 1, 1, true),
    ([9], 3, 2, 1, .zero, 1, 1, false),
    ([8], 3, 1, 2, .reflect, 2, 1, true),
    ([6, 5], 3, 1, 1, .zero, 1, 1, true),
    ([6, 7], 3, 2, 1, .replicate, 1, 2, true),
    ([5, 5], 3, 1, 2, .reflect, 1, 1, false),
    ([5, 6], 3, 2, 2, .circular, 2, 1, true),
    ([6, 6], 3, 1, 1, .zero, 1, 4, true),
    ([4, 4, 4], 3, 1, 1, .zero, 1, 1, true),
    ([5, 4, 5], 2, 2, 1, .replicate, 1, 2, false),
  ]

  @Test(arguments: convolutions.indices)
  func convolution(case index: Int) throws {
    let c = Self.convolutions[index]
    let rank = c.spatial.count
    let (inChannels, outChannels) = (4, 4)
    let attrs = convAttrs(rank: rank, stride: c.stride, pad: c.pad, mode: c.mode, dilation: c.dilation, groups: c.groups)
    let weight = [outChannels, inChannels / c.groups] + Array(repeating: c.kernel, count: rank)
    try GradientCheck.checkOp(.conv(attrs), shapes: [[2, inChannels] + c.spatial, weight] + (c.bias ? [[outChannels]] : []))
  }

  @Test func asymmetricPadding() throws {
    let attrs = ConvAttrs(stride: [1, 2], padding: Padding(before: [0, 2], after: [1, 1]), paddingMode: .reflect, dilation: [1, 1])
    try GradientCheck.checkOp(.conv(attrs), shapes: [[1, 2, 5, 6], [3, 2, 2, 3], [3]])
  }

  static let transposed: [(spatial: [Int], stride: Int, pad: Int, outputPad: Int, dilation: Int, groups: Int)] = [
    ([5], 2, 0, 0, 1, 1), ([4], 2, 1, 1, 1, 1), ([4], 1, 1, 0, 2, 2), ([3, 4], 2, 1, 1, 1, 1), ([4, 3], 3, 0, 2, 1, 2),
    ([3, 3, 2], 2, 1, 0, 1, 1),
    // Output padding of a stride or more (below the dilation), which PyTorch allows: without and
    // with padding to take it from.
    ([4, 3], 1, 0, 1, 2, 1), ([5], 1, 1, 1, 2, 2), ([4], 2, 0, 3, 4, 1),
  ]

  @Test(arguments: transposed.indices)
  func transposedConvolution(case index: Int) throws {
    let c = Self.transposed[index]
    let rank = c.spatial.count
    let attrs = ConvTransposeAttrs(
      stride: Array(repeating: c.stride, count: rank), padding: .symmetric(c.pad, rank: rank),
      outputPadding: Array(repeating: c.outputPad, count: rank), dilation: Array(repeating: c.dilation, count: rank), groups: c.groups)
    try GradientCheck.checkOp(.convTranspose(attrs), shapes: [[2, 4] + c.spatial, [4, 6 / c.groups] + Array(repeating: 3, count: rank), [6]])
  }

  static let pools: [(kind: PoolKind, spatial: [Int], kernel: Int, stride: Int, pad: Int, ceil: Bool, countPad: Bool)] = [
    (.max, [6], 2, 2, 0, false, true), (.max, [7], 3, 2, 1, true, true), (.average, [7], 3, 2, 1, true, false),
    (.max, [6, 5], 2, 2, 1, false, true), (.average, [6, 5], 3, 2, 1, false, true), (.average, [5, 5], 2, 2, 0, true, false),
    (.max, [4, 5, 4], 2, 2, 0, true, true), (.average, [4, 4, 4], 3, 1, 1, false, false),
  ]

  @Test func dilatedPooling() throws {
    for kind in [PoolKind.max, .average] {
      let attrs = PoolAttrs(kind: kind, kernel: [2, 3], stride: [1, 2], padding: .symmetric(1, rank: 2), ceilMode: true, dilation: [2, 2])
      try GradientCheck.checkOp(.pool(attrs), shapes: [[2, 2, 6, 7]])
    }
  }

  @Test(arguments: pools.indices)
  func pooling(case index: Int) throws {
    let c = Self.pools[index]
    let rank = c.spatial.count
    let attrs = PoolAttrs(
      kind: c.kind, kernel: Array(repeating: c.kernel, count: rank), stride: Array(repeating: c.stride, count: rank),
      padding: .symmetric(c.pad, rank: rank), ceilMode: c.ceil, countIncludePad: c.countPad)
    try GradientCheck.checkOp(.pool(attrs), shapes: [[2, 3] + c.spatial])
  }

  @Test func globalPools() throws {
    try GradientCheck.checkOp(.globalPool(GlobalPoolAttrs(kind: .average)), shapes: [[2, 3, 4, 5]])
    try GradientCheck.checkOp(.globalPool(GlobalPoolAttrs(kind: .max)), shapes: [[2, 3, 4, 5]])
    try GradientCheck.checkOp(.globalPool(GlobalPoolAttrs(kind: .max)), shapes: [[2, 3, 7]])
  }

  @Test func denseAndMatmul() throws {
    try GradientCheck.checkOp(.dense(DenseAttrs()), shapes: [[3, 5], [4, 5], [4]])
    try GradientCheck.checkOp(.dense(DenseAttrs()), shapes: [[2, 3, 5], [4, 5]])
    try GradientCheck.checkOp(.matmul(MatMulAttrs()), shapes: [[2, 3, 4], [4, 5]])
    try GradientCheck.checkOp(.matmul(MatMulAttrs()), shapes: [[2, 1, 3, 4], [3, 4, 2]])
  }

  @Test(arguments: BinaryOperator.allCases)
  func broadcastingArithmetic(op: BinaryOperator) throws {
    // Divisors kept away from zero, where 1/b² would swamp the finite differences.
    func divisor(_ shape: [Int]) -> [Int: Tensor<Double>] {
      op == .div ? [1: T(shape, random(shape, seed: 3).scalars.map { 1 + abs($0) })] : [:]
    }
    for shapes in [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [3, 1]], [[1, 3, 1], [2, 1, 4]]] {
      try GradientCheck.checkOp(.binary(BinaryAttrs(op)), shapes: shapes, values: divisor(shapes[1]))
    }
  }

  @Test(arguments: [
    UnaryFunction.relu, .leakyReLU(slope: 0.1), .elu(alpha: 1.5), .sigmoid, .tanh, .affine(scale: -2, shift: 0.5), .silu, .erf, .gelu,
  ])
  func activations(function: UnaryFunction) throws {
    try GradientCheck.checkOp(.unary(UnaryAttrs(function)), shapes: [[3, 4, 5]])
  }

  @Test func relu6OnBothSidesOfItsKinks() throws {
    let spread = T([3, 4], random([3, 4], seed: 5).scalars.map { 8 * $0 })
    try GradientCheck.checkOp(.unary(UnaryAttrs(.relu6)), shapes: [[3, 4]], values: [0: spread])
  }

  /// The piecewise activations on values spread over all of their pieces (to ±4).
  @Test(arguments: [UnaryFunction.clamp(low: -1, high: 2), .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish])
  func piecewiseActivations(function: UnaryFunction) throws {
    let spread = T([3, 4], random([3, 4], seed: 7).scalars.map { 4 * $0 })
    try GradientCheck.checkOp(.unary(UnaryAttrs(function)), shapes: [[3, 4]], values: [0: spread])
  }

  @Test func squareRoot() throws {
    let positive = T([3, 4], random([3, 4], seed: 2).scalars.map { 0.5 + abs($0) })
    try GradientCheck.checkOp(.unary(UnaryAttrs(.sqrt)), shapes: [[3, 4]], values: [0: positive])
  }

  @Test func maxoutSoftmaxAndReductions() throws {
    try GradientCheck.checkOp(.maxout(MaxoutAttrs(pieces: 3)), shapes: [[2, 6, 4]])
    try GradientCheck.checkOp(.maxout(MaxoutAttrs(pieces: 2, axis: 2)), shapes: [[2, 3, 4]])
    for axis in 0..<3 {
      try GradientCheck.checkOp(.softmax(SoftmaxAttrs(axis: axis)), shapes: [[2, 3, 4]])
      try GradientCheck.checkOp(.softmax(SoftmaxAttrs(axis: axis, log: true)), shapes: [[2, 3, 4]])
    }
    for kind in [ReduceKind.sum, .mean, .max, .variance] {
      try GradientCheck.checkOp(.reduce(ReduceAttrs(kind, axes: [0, 2])), shapes: [[3, 4, 5]])
      try GradientCheck.checkOp(.reduce(ReduceAttrs(kind, axes: [1], keepDims: true)), shapes: [[3, 4, 5]])
    }
  }

  @Test func layout() throws {
    try GradientCheck.checkOp(.concat(ConcatAttrs(axis: 1)), shapes: [[2, 3, 4], [2, 1, 4], [2, 2, 4]])
    try GradientCheck.checkOp(.slice(SliceAttrs(axis: 2, start: 1, end: 6, step: 2)), shapes: [[2, 3, 7]])
    try GradientCheck.checkOp(.reshape(ReshapeAttrs(shape: [6, 4])), shapes: [[2, 3, 4]])
    try GradientCheck.checkOp(.transpose(TransposeAttrs(permutation: [2, 0, 1])), shapes: [[2, 3, 4]])
    for mode in PaddingMode.allCases {
      try GradientCheck.checkOp(.pad(PadAttrs(before: [0, 2, 1], after: [1, 1, 2], mode: mode)), shapes: [[2, 3, 4]])
    }
  }
  @Test(arguments: [ResizeMode.linear, .nearest])
  func resize(mode: ResizeMode) throws {
    try GradientCheck.checkOp(.resize(ResizeAttrs(size: [5, 7], mode: mode)), shapes: [[2, 2, 3, 3]])
    try GradientCheck.checkOp(.resize(ResizeAttrs(size: [2], mode: mode, coordinates: .alignCorners)), shapes: [[1, 3, 5]])
    try GradientCheck.checkOp(.resize(ResizeAttrs(size: [3, 2, 4], mode: mode, coordinates: .asymmetric)), shapes: [[1, 2, 2, 3, 2]])
  }


  @Test func batchNormWithGivenStatistics() throws {
    // Running statistics must be positive variances: feed them, differentiate the rest.
    let graph = try singleOpGraph(.batchNorm(BatchNormAttrs()), [TensorType([3, 2, 4]), TensorType([2]), TensorType([2]), TensorType([2]), TensorType([2])])
    let feeds = ["in0": random([3, 2, 4], seed: 1), "in1": random([2], seed: 2), "in2": random([2], seed: 3), "in3": random([2], seed: 4), "in4": T([2], [0.5, 2])]
    try GradientCheck.check(graph, feeds: feeds, targets: ["in0", "in1", "in2", "in3", "in4"])
  }

  @Test func localResponseNormalization() throws {
    for size in [1, 2, 3, 5] {
      try GradientCheck.checkOp(.lrn(LRNAttrs(size: size, alpha: 0.5, beta: 0.75, bias: 2)), shapes: [[2, 5, 3]])
    }
    try GradientCheck.checkOp(.lrn(LRNAttrs(size: 3, alpha: 2, beta: -0.5, bias: 1)), shapes: [[1, 4, 2, 2]])
  }

  @Test func batchNormTrainingBackpropagatesThroughTheBatchStatistics() throws {
    let model = try Model(name: "bn", input: [4, 3, 2, 2], seed: 2) { BatchNorm(name: "bn") }
    let graph = try model.graph.forTraining()
    var feeds = model.parameterFeeds(as: Double.self)
    feeds["input"] = random([4, 3, 2, 2], seed: 5)
    feeds["bn.weight"] = random([3], seed: 6)
    feeds["bn.bias"] = random([3], seed: 7)
    try GradientCheck.check(graph, feeds: feeds, targets: ["input", "bn.weight", "bn.bias"])
    // γ and β frozen: x's gradient still takes its sums from their gradients.
    try GradientCheck.check(graph, feeds: feeds, targets: ["input"])
  }

  @Test func dropoutUsesTheForwardMask() throws {
    let graph = try singleOpGraph(.dropout(DropoutAttrs(rate: 0.4, seed: 3, training: true)), [TensorType([4, 25])])
    try GradientCheck.check(graph, feeds: ["in0": random([4, 25], seed: 1)], targets: ["in0"], step: 1e-5, step: 7)
  }

  @Test func embedding() throws {
    try GradientCheck.checkOp(.embedding(EmbeddingAttrs()), shapes: [[2, 3], [5, 4]], fixed: [0: T([2, 3], [4, 0, 4, 1, 2, 4])])
  }

  @Test func losses() throws {
    try GradientCheck.checkOp(.loss(LossAttrs(.softmaxCrossEntropy)), shapes: [[4, 5], [4]], fixed: [1: T([4], [0, 4, 2, 2])])
    try GradientCheck.checkOp(.loss(LossAttrs(.softmaxCrossEntropy, reduction: .sum)), shapes: [[3, 2], [3]], fixed: [1: T([3], [1, 0, 1])])
    try GradientCheck.checkOp(.loss(LossAttrs(.binaryCrossEntropy)), shapes: [[3, 4], [3, 4]])
    try GradientCheck.checkOp(.loss(LossAttrs(.meanSquaredError, reduction: .sum)), shapes: [[3, 4], [3, 4]])
    try GradientCheck.checkOp(.loss(LossAttrs(.meanSquaredError)), shapes: [[6], [6]])
    // Both branches of smooth L1, away from the kink at |p − t| = 1.
    try GradientCheck.checkOp(
      .loss(LossAttrs(.smoothL1)), shapes: [[2, 3], [2, 3]],
      values: [0: T([2, 3], [0.2, -0.3, 2.5, -1.7, 0.9, -3]), 1: T([2, 3], [0, 0.1, 0, 0.5, -0.5, 0])])
  }
}
