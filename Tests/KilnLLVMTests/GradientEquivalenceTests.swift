import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// Compiled backward graphs against the interpreter: every VJP, then whole training steps.
@Suite struct GradientEquivalenceTests {
  let base = EquivalenceTests()

  /// op on inputs in0…, loss Σ op·probe, gradients with respect to every float input.
  func expectGradientsEquivalent(_ op: Op, _ shapes: [[Int]], integerInputs: [Int: Tensor<Float>] = [:], positive: Set<Int> = [], scale: Float = 1, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var graph = Graph(name: "grad")
    let values = try shapes.enumerated().map {
      try graph.append("in\($0.offset)", .input(InputAttrs(TensorType($0.element, integerInputs[$0.offset] == nil ? .f32 : .i32))))
    }
    let output = try graph.append("op", op, inputs: values)
    var loss = output
    var feeds: [String: Tensor<Float>] = [:]
    if graph[output].type.elementCount > 1 {
      let probe = try graph.append("probe", .input(InputAttrs(graph[output].type)))
      let product = try graph.append("probed", .binary(BinaryAttrs(.mul)), inputs: [output, probe])
      loss = try graph.append("loss", .reduce(ReduceAttrs(.sum, axes: Array(0..<graph[output].type.rank))), inputs: [product])
      feeds["probe"] = try base.randomTensor(graph[output].type.shape, seed: 99)
    }
    let targets = values.enumerated().filter { integerInputs[$0.offset] == nil }.map(\.element)
    let differentiated = try graph.differentiated(loss: loss, withRespectTo: targets)
    for (index, shape) in shapes.enumerated() {
      var tensor = try integerInputs[index] ?? base.randomTensor(shape, seed: UInt64(index + 1), scale: scale)
      if positive.contains(index) { tensor.scalars = tensor.scalars.map { 0.5 + abs($0) } }
      feeds["in\(index)"] = tensor
    }
    try base.expectEquivalent(Model(graph: differentiated.graph, parameters: ParameterStore()), feeds, sourceLocation: sourceLocation)
  }

  @Test func convolutionGradients() throws {
    for (spatial, stride, pad, mode, dilation, groups) in [
      ([9], 2, 1, PaddingMode.reflect, 1, 2), ([7, 6], 1, 1, .zero, 1, 1), ([9, 8], 2, 0, .zero, 2, 2), ([8, 7], 2, 2, .circular, 2, 1), ([6, 6], 1, 0, .zero, 1, 4), ([4, 5, 4], 1, 1, .replicate, 1, 1),
    ] {
      let rank = spatial.count
      let attrs = ConvAttrs(
        stride: Array(repeating: stride, count: rank), padding: .symmetric(pad, rank: rank), paddingMode: mode,
        dilation: Array(repeating: dilation, count: rank), groups: groups)
      try expectGradientsEquivalent(.conv(attrs), [[2, 4] + spatial, [4, 4 / groups] + Array(repeating: 3, count: rank), [4]])
    }
    try expectGradientsEquivalent(.conv(ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1])), [[2, 3, 4, 4], [5, 3, 1, 1]])
    // Several samples per product (`SampleBlocks`), with a partial last block: 5 samples of 144
    // positions in blocks of 2, 2, 1; pointwise ones of 100 positions in blocks of 3, 2; 67 of 4
    // in blocks of 64, 3.
    let grouped = ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), paddingMode: .reflect, dilation: [1, 1], groups: 2)
    try expectGradientsEquivalent(.conv(grouped), [[5, 4, 12, 12], [6, 2, 3, 3], [6]])
    try expectGradientsEquivalent(.conv(ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1])), [[5, 3, 10, 10], [4, 3, 1, 1]])
    try expectGradientsEquivalent(.conv(ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), dilation: [1, 1])), [[67, 3, 2, 2], [4, 3, 3, 3]])
    let transposed = ConvTransposeAttrs(stride: [2, 2], padding: .symmetric(1, rank: 2), outputPadding: [1, 0], dilation: [1, 1], groups: 2)
    try expectGradientsEquivalent(.convTranspose(transposed), [[2, 4, 4, 3], [4, 3, 3, 3], [6]])
    let paddedByDilation = ConvTransposeAttrs(stride: [1, 2], padding: .symmetric(0, rank: 2), outputPadding: [1, 1], dilation: [2, 1], groups: 1)
    try expectGradientsEquivalent(.convTranspose(paddedByDilation), [[2, 4, 4, 3], [4, 3, 3, 3], [3]])
  }

  /// Input gradients of stride-1 convolutions run as forward convolutions of the output gradient
  /// by the flipped, transposed filter (`InputGradientConvolution`), by each forward algorithm:
  /// Winograd (16 channels on 28×28, within its 1e-5 bound), direct (unpadded 3×3 on 28×28; a
  /// dilated one with uneven padding; grouped; LeNet-5's second 5×5 layer, within twice the work;
  /// 1D and 3D), depthwise. LeNet-5's 5×5 → 1×1 layer (whose gradient would multiply 25 times as
  /// many padding zeros as values), padding past the filter's
  /// reach, and strided or reflect-padded convolutions keep GEMM + col2im. A 7×7 map, whose rows
  /// the direct kernel leaves to GEMM on AVX-512, runs by Winograd instead on a half-width vector
  /// unit only; so does a 2×2 map at batch 40, by F(2×2, 3×3).
  @Test(arguments: [VectorUnit(lanes: 8), VectorUnit(lanes: 16), VectorUnit(lanes: 16, halfWidth: true)])
  func inputGradientsAsConvolutions(vectors: VectorUnit) throws {
    let lanes = vectors.lanes
    func attrs(_ rank: Int, pad: Padding, dilation: Int = 1, groups: Int = 1, stride: Int = 1, mode: PaddingMode = .zero) -> ConvAttrs {
      ConvAttrs(stride: Array(repeating: stride, count: rank), padding: pad, paddingMode: mode, dilation: Array(repeating: dilation, count: rank), groups: groups)
    }
    let cases: [(ConvAttrs, x: [Int], weight: [Int], algorithm: String?)] = [
      (attrs(2, pad: .symmetric(1, rank: 2)), [3, 16, 28, 28], [16, 16, 3, 3], "winograd"),
      (attrs(2, pad: .symmetric(1, rank: 2)), [8, 16, 7, 7], [16, 16, 3, 3], lanes == 8 ? "direct" : vectors.halfWidth ? "winograd" : nil),
      (attrs(2, pad: .symmetric(1, rank: 2)), [40, 16, 2, 2], [24, 16, 3, 3], vectors.halfWidth ? "winograd" : nil),
      (attrs(2, pad: .symmetric(0, rank: 2)), [2, 4, 28, 28], [6, 4, 3, 3], "direct"),
      (attrs(2, pad: .symmetric(0, rank: 2)), [3, 6, 14, 14], [16, 6, 5, 5], "direct"),
      (attrs(2, pad: .symmetric(0, rank: 2)), [3, 16, 5, 5], [120, 16, 5, 5], nil),
      (attrs(2, pad: Padding(before: [2, 0], after: [1, 3]), dilation: 2), [2, 4, 13, 15], [5, 4, 3, 3], "direct"),
      (attrs(2, pad: .symmetric(1, rank: 2), groups: 2), [2, 6, 12, 11], [4, 3, 3, 3], "direct"),
      (attrs(1, pad: .symmetric(2, rank: 1)), [2, 3, 40], [4, 3, 5], "direct"),
      (attrs(3, pad: .symmetric(1, rank: 3)), [1, 3, 5, 6, 12], [4, 3, 3, 3, 3], "direct"),
      (attrs(2, pad: .symmetric(1, rank: 2), groups: 8), [2, 8, 20, 21], [8, 1, 3, 3], "depthwise"),
      (attrs(2, pad: .symmetric(3, rank: 2)), [1, 3, 10, 10], [4, 3, 3, 3], nil),
      (attrs(2, pad: .symmetric(1, rank: 2), stride: 2), [1, 3, 10, 10], [4, 3, 3, 3], nil),
      (attrs(2, pad: .symmetric(1, rank: 2), mode: .reflect), [1, 3, 10, 10], [4, 3, 3, 3], nil),
    ]
    for (a, x, weight, algorithm) in cases {
      let dy = try a.outputType([TensorType(x), TensorType(weight)]).shape
      let plan = InputGradientConvolution(ConvInputGradAttrs(conv: a, inputShape: x), dy: dy, weight: weight, vectors: vectors)
      let chosen = plan.map { plan -> String in
        switch plan.algorithm {
        case .winograd: "winograd"
        case .direct: "direct"
        case .depthwise: "depthwise"
        case .channelVectors: "channel vectors"
        case .columns: "columns"
        }
      }
      #expect(chosen == algorithm, "\(x) by \(weight)")
      var graph = Graph(name: "dx")
      let cotangent = try graph.append("dy", .input(InputAttrs(TensorType(dy))))
      let w = try graph.append("w", .input(InputAttrs(TensorType(weight))))
      graph.outputs = [try graph.append("dx", .convInputGrad(ConvInputGradAttrs(conv: a, inputShape: x)), inputs: [cotangent, w])]
      let model = try Model(graph: graph, parameters: ParameterStore())
      let feeds = ["dy": try base.randomTensor(dy, seed: 1), "w": try base.randomTensor(weight, seed: 2, scale: 0.3)]
      let expected = try model.run(feeds)[0]
      let actual = try Compiler(vectorLanes: lanes, halfWidth: vectors.halfWidth).compile(model).run(feeds)[0]
      let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(actual.shape == expected.shape && worst <= 1e-5 * max(1, expected.scalars.map(abs).max() ?? 0), "\(x) by \(weight): \(worst)")
    }
  }

  /// Weight gradients on Kiln's own register-blocked loops (`WeightGradientConvolution`) where
  /// input channels per group are a multiple of 8: padding modes, strides (phases), dilation,
  /// groups, 1D and 3D, pointwise, partial output-channel tiles and several tiles per thread;
  /// the whole batch in one pass, or in chunks of rows across samples and blocks of samples (5
  /// samples of 12×11 in blocks of 4 and 1, two chunks each; 20×23 outputs in two chunks; 67
  /// samples of 4×4 in blocks of 32, 32 and 3). Three channels and maps of one position keep
  /// im2col + GEMM. Two threads give the same bits as one.
  @Test(arguments: [8, 16])
  func weightGradientsOnRegisters(lanes: Int) throws {
    func attrs(_ rank: Int, pad: Int, dilation: Int = 1, groups: Int = 1, stride: Int = 1, mode: PaddingMode = .zero) -> ConvAttrs {
      ConvAttrs(
        stride: Array(repeating: stride, count: rank), padding: .symmetric(pad, rank: rank), paddingMode: mode,
        dilation: Array(repeating: dilation, count: rank), groups: groups)
    }
    let cases: [(ConvAttrs, x: [Int], weight: [Int], passes: String?)] = [
      (attrs(2, pad: 1), [5, 16, 12, 11], [13, 16, 3, 3], "chunks"),
      (attrs(2, pad: 1, stride: 2), [2, 8, 40, 45], [5, 8, 3, 3], "chunks"),
      (ConvAttrs(stride: [1, 1], padding: Padding(before: [2, 0], after: [1, 3]), paddingMode: .reflect, dilation: [2, 2]), [2, 8, 13, 15], [6, 8, 3, 3], "one"),
      (attrs(2, pad: 2, dilation: 2, stride: 2, mode: .circular), [2, 16, 8, 7], [4, 16, 3, 3], "one"),
      (attrs(2, pad: 1, groups: 2), [2, 16, 10, 9], [6, 8, 3, 3], "one"),
      (attrs(1, pad: 2, stride: 2), [2, 24, 40], [4, 24, 5], "one"),
      (attrs(3, pad: 1, mode: .replicate), [1, 8, 5, 6, 7], [4, 8, 3, 3, 3], "one"),
      (attrs(2, pad: 0), [5, 8, 10, 10], [4, 8, 1, 1], "one"),
      (attrs(2, pad: 1), [67, 8, 4, 4], [4, 8, 3, 3], "chunks"),
      (attrs(2, pad: 1), [2, 16, 9, 9], [70, 16, 3, 3], "one"),
      (attrs(2, pad: 0), [64, 16, 5, 5], [120, 16, 5, 5], nil),
      (attrs(2, pad: 1), [2, 3, 10, 10], [4, 3, 3, 3], nil),
    ]
    for (a, x, weight, passes) in cases {
      let dy = try a.outputType([TensorType(x), TensorType(weight)]).shape
      let gradient = ConvWeightGradAttrs(conv: a, kernel: Array(weight[2...]))
      let plan = WeightGradientConvolution(gradient, x: x, dy: dy, weight: weight, lanes: lanes)
      #expect(plan.map { $0.onePass ? "one" : "chunks" } == passes, "\(x) by \(weight)")
      let (model, feeds) = try weightGradient(gradient, x: x, dy: dy)
      let expected = try model.run(feeds)[0]
      let actual = try Compiler(vectorLanes: lanes).compile(model).run(feeds)[0]
      let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(actual.shape == expected.shape && worst <= 1e-5 * max(1, expected.scalars.map(abs).max() ?? 0), "\(x) by \(weight): \(worst)")
    }
    // Large enough to be split across threads: 64 output channels in 8 parallel iterations.
    try expectSameBitsOnTwoThreads(attrs(2, pad: 1, stride: 2), x: [2, 32, 28, 28], outputs: 64, lanes: lanes)
  }

  /// Weight gradients of 3×3 stride-1 convolutions by Winograd (`WinogradWeightGradient`):
  /// maps that are not whole tiles, partial channel blocks, padding modes, the batch in one block
  /// of samples or in several (13, 13 and 4 samples; 64-tile maps one sample a block), 2×2 and
  /// 3×2 maps by F(2×2, 3×3) (one tile covers them), and ResNet-18's 56×56 layer at batch 8. Within 2e-5 of the largest gradient of the exact (Double)
  /// result: the worst measured is 7.2e-6, on the 56×56 layer (its 512-channel 7×7 layers: 2.7e-6);
  /// two threads give the same bits as one.
  @Test(arguments: [8, 16])
  func weightGradientsByWinograd(lanes: Int) throws {
    let cases: [(pad: Int, mode: PaddingMode, x: [Int], outputs: Int, transforms: WinogradTransforms)] = [
      (1, .zero, [2, 16, 12, 11], 20, .f4), (0, .zero, [4, 24, 9, 9], 16, .f4), (1, .replicate, [30, 16, 7, 7], 17, .f4), (1, .zero, [3, 16, 30, 29], 32, .f4),
      (1, .zero, [8, 64, 56, 56], 64, .f4), (1, .zero, [40, 16, 2, 2], 24, .f2), (1, .reflect, [20, 17, 3, 2], 16, .f2),
    ]
    for (pad, mode, x, outputs, transforms) in cases {
      let a = ConvAttrs(stride: [1, 1], padding: .symmetric(pad, rank: 2), paddingMode: mode, dilation: [1, 1], groups: 1)
      let weight = [outputs, x[1], 3, 3]
      let dy = try a.outputType([TensorType(x), TensorType(weight)]).shape
      let gradient = ConvWeightGradAttrs(conv: a, kernel: [3, 3])
      guard case .winograd(let plan) = GradientLowering.WeightGradient(gradient, x: x, dy: dy, weight: weight, lanes: lanes) else {
        Issue.record("\(x) by \(weight) is not computed by Winograd")
        continue
      }
      #expect(plan.forward.transforms == transforms, "\(x)")
      let (model, feeds) = try weightGradient(gradient, x: x, dy: dy)
      // The interpreter in Double: in Float, its own rounding is a good part of the difference.
      let expected = try model.run(feeds.mapValues { try Tensor<Double>(shape: $0.shape, scalars: $0.scalars.map(Double.init)) })[0]
      let actual = try Compiler(vectorLanes: lanes).compile(model).run(feeds)[0]
      let worst = zip(actual.scalars, expected.scalars).map { abs(Double($0) - $1) }.max() ?? 0
      let largest = expected.scalars.map(abs).max() ?? 0
      #expect(actual.shape == expected.shape && worst <= 2e-5 * largest, "\(x) by \(weight): \(worst) of \(largest)")
    }
    try expectSameBitsOnTwoThreads(ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), dilation: [1, 1], groups: 1), x: [2, 32, 28, 28], outputs: 64, lanes: lanes)
  }

  /// Weight gradients of convolutions with few input channels and many taps along output
  /// columns (`ColumnWeightGradient`): ResNet's first layer in small (stride 2, 7×7, rows of
  /// whole vectors and a masked tail, partial tiles of output channels and of pairs), LeNet-5's
  /// first layer (25 pairs), 1D, 3D with replicate padding, stride 3 and dilation 2 along rows.
  /// Two threads give the same bits as one.
  @Test(arguments: [8, 16])
  func weightGradientsAlongColumns(lanes: Int) throws {
    let cases: [(ConvAttrs, x: [Int], weight: [Int])] = [
      (ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1], groups: 1), [3, 1, 32, 32], [6, 1, 5, 5]),
      (ConvAttrs(stride: [2, 2], padding: .symmetric(3, rank: 2), dilation: [1, 1], groups: 1), [2, 3, 40, 37], [22, 3, 7, 7]),
      (ConvAttrs(stride: [1], padding: .symmetric(0, rank: 1), dilation: [1], groups: 1), [3, 2, 50], [5, 2, 33]),
      (ConvAttrs(stride: [1, 1, 1], padding: .symmetric(1, rank: 3), paddingMode: .replicate, dilation: [1, 1, 1], groups: 1), [1, 1, 6, 9, 18], [4, 1, 3, 5, 5]),
      (ConvAttrs(stride: [1, 3], padding: .symmetric(2, rank: 2), dilation: [2, 2], groups: 1), [2, 3, 12, 60], [6, 3, 5, 5]),
    ]
    for (a, x, weight) in cases {
      let dy = try a.outputType([TensorType(x), TensorType(weight)]).shape
      let gradient = ConvWeightGradAttrs(conv: a, kernel: Array(weight[2...]))
      guard case .alongColumns = GradientLowering.WeightGradient(gradient, x: x, dy: dy, weight: weight, lanes: lanes) else {
        Issue.record("\(x) by \(weight) is not computed along columns")
        continue
      }
      let (model, feeds) = try weightGradient(gradient, x: x, dy: dy)
      let expected = try model.run(feeds.mapValues { try Tensor<Double>(shape: $0.shape, scalars: $0.scalars.map(Double.init)) })[0]
      let (one, two) = try (Compiler(vectorLanes: lanes).compile(model, threads: 1).run(feeds)[0], Compiler(vectorLanes: lanes).compile(model, threads: 2).run(feeds)[0])
      let worst = zip(one.scalars, expected.scalars).map { abs(Double($0) - $1) }.max() ?? 0
      let largest = expected.scalars.map(abs).max() ?? 0
      #expect(one.shape == expected.shape && worst <= 1e-5 * largest, "\(x) by \(weight): \(worst) of \(largest)")
      #expect(one.scalars.map(\.bitPattern) == two.scalars.map(\.bitPattern), "\(x) by \(weight)")
    }
  }

  /// A model computing the weight gradient `gradient` from x and dy, and random feeds for it.
  func weightGradient(_ gradient: ConvWeightGradAttrs, x: [Int], dy: [Int], seeds: (UInt64, UInt64) = (1, 2)) throws -> (Model, [String: Tensor<Float>]) {
    var graph = Graph(name: "dw")
    let input = try graph.append("x", .input(InputAttrs(TensorType(x))))
    let cotangent = try graph.append("dy", .input(InputAttrs(TensorType(dy))))
    graph.outputs = [try graph.append("dw", .convWeightGrad(gradient), inputs: [input, cotangent])]
    return (try Model(graph: graph, parameters: ParameterStore()), ["x": try base.randomTensor(x, seed: seeds.0), "dy": try base.randomTensor(dy, seed: seeds.1)])
  }

  /// The weight gradient of `a` with `outputs` output channels and a 3×3 filter, on one thread
  /// and on two.
  func expectSameBitsOnTwoThreads(_ a: ConvAttrs, x: [Int], outputs: Int, lanes: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let dy = try a.outputType([TensorType(x), TensorType([outputs, x[1], 3, 3])]).shape
    let (model, feeds) = try weightGradient(ConvWeightGradAttrs(conv: a, kernel: [3, 3]), x: x, dy: dy, seeds: (3, 4))
    let (one, two) = try (Compiler(vectorLanes: lanes).compile(model, threads: 1).run(feeds), Compiler(vectorLanes: lanes).compile(model, threads: 2).run(feeds))
    #expect(one[0].scalars.map(\.bitPattern) == two[0].scalars.map(\.bitPattern), sourceLocation: sourceLocation)
  }

  @Test func poolingAndReductionGradients() throws {
    for kind in [PoolKind.max, .average] {
      let attrs = PoolAttrs(kind: kind, kernel: [3, 3], stride: [2, 2], padding: .symmetric(1, rank: 2), ceilMode: true, countIncludePad: false)
      try expectGradientsEquivalent(.pool(attrs), [[2, 3, 7, 6]])
      var dilated = attrs
      dilated.dilation = [2, 1]
      try expectGradientsEquivalent(.pool(dilated), [[2, 3, 7, 6]])
      // Rows longer than a vector, dilated along them; stride 1 (windows overlap more).
      dilated.dilation = [1, 2]
      try expectGradientsEquivalent(.pool(dilated), [[2, 3, 5, 41]])
      try expectGradientsEquivalent(.pool(PoolAttrs(kind: kind, kernel: [3, 3], stride: [1, 1], padding: .symmetric(1, rank: 2))), [[1, 2, 6, 35]])
      // Rows longer than PoolLowering.bufferedColumns: max pooling's gradient adds each maximum's
      // gradient as it finds it.
      let long = PoolAttrs(kind: kind, kernel: [1, 3], stride: [1, 1], padding: Padding(before: [0, 1], after: [0, 1]))
      try expectGradientsEquivalent(.pool(long), [[1, 1, 2, PoolLowering.bufferedColumns + 5]])
      try expectGradientsEquivalent(.globalPool(GlobalPoolAttrs(kind: kind)), [[2, 3, 5, 4]])
      // Windows that tile the input (2×2, stride 2): max pooling's gradient writes each input once.
      let tiling = PoolAttrs(kind: kind, kernel: [2, 2], stride: [2, 2], padding: .symmetric(0, rank: 2))
      #expect(PoolLowering(tiling, x: [2, 3, 8, 6], y: [2, 3, 4, 3]).tilesInput && !PoolLowering(tiling, x: [2, 3, 9, 6], y: [2, 3, 4, 3]).tilesInput)
      try expectGradientsEquivalent(.pool(tiling), [[2, 3, 8, 6]])
      try expectGradientsEquivalent(.pool(tiling), [[2, 3, 9, 6]])
    }
    for kind in [ReduceKind.sum, .mean, .max, .variance] { try expectGradientsEquivalent(.reduce(ReduceAttrs(kind, axes: [1])), [[3, 5, 4]]) }
    // Batch norm's statistics: every axis but the channels, rows of 100 in vectors.
    try expectGradientsEquivalent(.reduce(ReduceAttrs(.variance, axes: [0, 2, 3], keepDims: true)), [[2, 3, 10, 10]])
    try expectGradientsEquivalent(.maxout(MaxoutAttrs(pieces: 2)), [[2, 6, 5]])
    try expectGradientsEquivalent(.maxout(MaxoutAttrs(pieces: 3, axis: 2)), [[2, 4, 6]])
  }

  /// Pools whose windows tile the input run as `TiledPool`'s vector code: forward and gradient
  /// equal the interpreter bit for bit, for window columns 1-4, rows shorter than a vector (4, 2
  /// and 1 outputs a vector), rows ending in an overlapping vector, both vector widths, and one
  /// and two threads; inputs with ties (first maxima) and NaNs.
  @Test func tiledPoolsEqualTheInterpreterExactly() throws {
    let cases: [(x: [Int], kernel: [Int])] = [
      ([2, 3, 12], [3]), ([2, 3, 8, 6], [2, 2]), ([1, 2, 4, 80], [2, 2]), ([2, 2, 6, 16], [3, 4]), ([1, 3, 2, 2], [2, 2]), ([2, 3, 4, 7], [2, 1]),
      ([1, 2, 2, 4, 8], [1, 2, 2]), ([8, 16, 32, 32], [2, 2]),
    ]
    var generator = SplitMix64(seed: 7)
    func bits(_ value: Float) -> UInt32 { value.isNaN ? Float.nan.bitPattern : value.bitPattern }
    for (x, kernel) in cases {
      // Few distinct values (many ties), and a NaN.
      var input = try Tensor(shape: x, scalars: (0..<x.reduce(1, *)).map { _ in Float(generator.next() % 4) - 1 })
      input.scalars[x.reduce(1, *) / 3] = .nan
      for kind in [PoolKind.max, .average] {
        let attrs = PoolAttrs(kind: kind, kernel: kernel, stride: kernel, padding: .symmetric(0, rank: kernel.count))
        let y = try attrs.outputType([TensorType(x)]).shape
        #expect(TiledPool(PoolLowering(attrs, x: x, y: y), outputs: y.reduce(1, *)) != nil)
        var graph = Graph(name: "tiled")
        let (xValue, dyValue) = try (graph.append("x", .input(InputAttrs(TensorType(x)))), graph.append("dy", .input(InputAttrs(TensorType(y)))))
        graph.outputs = [
          try graph.append("y", .pool(attrs), inputs: [xValue]), try graph.append("dx", .poolGrad(PoolGradAttrs(pool: attrs)), inputs: [xValue, dyValue]),
        ]
        let model = try Model(graph: graph, parameters: ParameterStore())
        let feeds = ["x": input, "dy": try base.randomTensor(y, seed: 5)]
        let expected = try model.run(feeds)
        for (lanes, threads) in [(16, 1), (8, 1), (16, 2)] {
          let actual = try Compiler(vectorLanes: lanes).compile(model, threads: threads).run(feeds)
          for (a, e) in zip(actual, expected) {
            let differing = zip(a.scalars, e.scalars).filter { bits($0) != bits($1) }.count
            #expect(a.shape == e.shape && differing == 0, "\(differing) elements differ: \(kind) \(kernel) over \(x), \(lanes) lanes, \(threads) threads")
          }
        }
      }
    }
  }

  @Test func elementwiseLayoutAndLinearGradients() throws {
    for function in [
      UnaryFunction.relu, .relu6, .leakyReLU(slope: 0.1), .elu(alpha: 1), .sigmoid, .tanh, .affine(scale: 3, shift: 1), .silu, .erf, .gelu,
    ] {
      try expectGradientsEquivalent(.unary(UnaryAttrs(function)), [[4, 9]])
    }
    for function in [UnaryFunction.clamp(low: -1, high: 2), .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .gelu] {
      try expectGradientsEquivalent(.unary(UnaryAttrs(function)), [[4, 9]], scale: 5)
    }
    try expectGradientsEquivalent(.unary(UnaryAttrs(.relu6)), [[4, 9]], scale: 5)
    try expectGradientsEquivalent(.unary(UnaryAttrs(.sqrt)), [[4, 9]], positive: [0])
    for op in BinaryOperator.allCases { try expectGradientsEquivalent(.binary(BinaryAttrs(op)), [[2, 3, 5], [3, 1]], positive: op == .div ? [1] : []) }
    try expectGradientsEquivalent(.softmax(SoftmaxAttrs(axis: 1)), [[3, 7]])
    try expectGradientsEquivalent(.softmax(SoftmaxAttrs(axis: 0, log: true)), [[3, 7]])
    try expectGradientsEquivalent(.dense(DenseAttrs()), [[4, 9], [5, 9], [5]])
    try expectGradientsEquivalent(.matmul(MatMulAttrs()), [[2, 3, 4], [4, 5]])
    try expectGradientsEquivalent(.concat(ConcatAttrs(axis: 2)), [[2, 3, 2], [2, 3, 5]])
    try expectGradientsEquivalent(.slice(SliceAttrs(axis: 1, start: 1, end: 7, step: 2)), [[2, 8, 3]])
    try expectGradientsEquivalent(.transpose(TransposeAttrs(permutation: [2, 0, 1])), [[2, 3, 4]])
    for mode in PaddingMode.allCases { try expectGradientsEquivalent(.pad(PadAttrs(before: [0, 2, 1], after: [1, 1, 2], mode: mode)), [[2, 3, 4]]) }
    for mode in [ResizeMode.linear, .nearest] {
      try expectGradientsEquivalent(.resize(ResizeAttrs(size: [7, 4], mode: mode)), [[2, 3, 3, 5]])
      try expectGradientsEquivalent(.resize(ResizeAttrs(size: [2, 3, 5], mode: mode, coordinates: .alignCorners)), [[1, 2, 3, 2, 2]])
    }
    try expectGradientsEquivalent(.batchNorm(BatchNormAttrs()), [[3, 2, 4], [2], [2], [2], [2]], positive: [4])
    // Rows of 100: whole vectors of accumulators and a tail, for either vector width.
    try expectGradientsEquivalent(.batchNorm(BatchNormAttrs()), [[2, 3, 10, 10], [3], [3], [3], [3]], positive: [4])
    // With batch statistics the input's gradient is one op (its statistics get none).
    try expectGradientsEquivalent(.batchNorm(BatchNormAttrs(batchStatistics: true)), [[2, 3, 10, 10], [3], [3], [3], [3]], positive: [4])
    for size in [2, 5] { try expectGradientsEquivalent(.lrn(LRNAttrs(size: size, alpha: 0.3, beta: 0.75, bias: 2)), [[2, 6, 3, 4]]) }
    try expectGradientsEquivalent(.embedding(EmbeddingAttrs()), [[2, 3], [5, 4]], integerInputs: [0: Tensor(shape: [2, 3], scalars: [4, 0, 4, 1, 2, 4])])
    try expectGradientsEquivalent(.dropout(DropoutAttrs(rate: 0.3, seed: 5, training: true)), [[4, 33]])
  }

  @Test func lossGradients() throws {
    try expectGradientsEquivalent(.loss(LossAttrs(.softmaxCrossEntropy)), [[4, 5], [4]], integerInputs: [1: Tensor(shape: [4], scalars: [1, 0, 4, 2])])
    try expectGradientsEquivalent(.loss(LossAttrs(.binaryCrossEntropy, reduction: .sum)), [[3, 5], [3, 5]])
    try expectGradientsEquivalent(.loss(LossAttrs(.meanSquaredError)), [[3, 5], [3, 5]])
    try expectGradientsEquivalent(.loss(LossAttrs(.smoothL1, reduction: .sum)), [[3, 5], [3, 5]])
  }

  /// Batch norm and dropout in training mode; activations fused into the convolution and dense
  /// layers that produce them (their gradients then read the activated values).
  static let trainingNets: [(Optimizer.Kind, @Sendable () throws -> Model)] = [
    (.momentum, {
      try Model(name: "bn", input: [4, 1, 12, 12], seed: 3) {
        Conv2D(4, kernel: 3, padding: 1, bias: false)
        BatchNorm()
        Activation(.relu)
        MaxPool2D(2)
        Dropout(0.2)
        Flatten()
        Dense(5)
      }
    }),
    (.adam, {
      try Model(name: "fused", input: [4, 1, 12, 12], seed: 4) {
        Conv2D(4, kernel: 3, activation: .tanh)
        Conv2D(6, kernel: 3, stride: 2, padding: 1, activation: .leakyReLU(slope: 0.1))
        AvgPool2D(2)
        Flatten()
        Dense(7, activation: .sigmoid)
        Dense(5, activation: .elu(alpha: 1))
      }
    }),
    // Activations whose derivative needs x stay unfused in training: the gradient reads x.
    (.sgd, {
      try Model(name: "unfused", input: [4, 1, 12, 12], seed: 5) {
        Conv2D(4, kernel: 3, activation: .hardSwish)
        Conv2D(6, kernel: 3, stride: 2, padding: 1, activation: .gelu)
        Conv2D(6, kernel: 1, activation: .clamp(low: -0.5, high: 0.5))
        Flatten()
        Dense(7, activation: .silu)
        Dense(5, activation: .hardSigmoid(alpha: 0.2, beta: 0.5))
      }
    }),
    // A DenseNet transition: the average pooling runs before the pointwise convolution
    // (`Graph.poolingBeforePointwise`), the gradients through the graph as it was.
    (.nesterov, {
      try Model(name: "transition", input: [4, 1, 12, 12], seed: 8) {
        Conv2D(8, kernel: 3, padding: 1)
        BatchNorm()
        Activation(.relu)
        Conv2D(4, kernel: 1, bias: false)
        AvgPool2D(2)
        Flatten()
        Dense(5)
      }
    }),
    // Winograd with trained weights (4 samples of 36 tiles), whose U must follow every update.
    (.momentum, {
      try Model(name: "winograd", input: [4, 16, 24, 24], seed: 6) {
        Conv2D(16, kernel: 3, padding: 1, activation: .relu)
        GlobalPool(.average)
        Flatten()
        Dense(5)
      }
    }),
    // A residual block: batch norm and the sum apply their relus (ProgramTests checks that last
    // entry's program).
    (.momentum, {
      try Model(name: "residual", seed: 7) { b in
        let x = try b.input("input", shape: [4, 1, 12, 12]).apply(Conv2D(4, kernel: 3, padding: 1))
        let branch = try x.apply(Conv2D(4, kernel: 3, padding: 1, bias: false)).apply(BatchNorm()).relu()
        return [try (branch.apply(Conv2D(4, kernel: 3, padding: 1)) + x).relu().apply(GlobalPool(.average)).flattened().apply(Dense(5))]
      }
    }),
  ]

  /// Also as one process of a data-parallel job (a share of the batch: the gradient exchange,
  /// computed in place, scales by it when there is no other process).
  @Test(arguments: trainingNets.indices, [nil, 0.5])
  func trainingStepsMatchTheInterpreter(case index: Int, share: Double?) throws {
    let (kind, build) = Self.trainingNets[index]
    let model = try build()
    let training = try TrainingGraph(model: model.graph, optimizer: Optimizer(kind), share: share)
    let store = try Model.initialParameters(for: training.graph, seed: 0, given: model.parameters)
    let compiled = try Compiler().compile(training.graph, parameters: store)
    let interpreter = try Interpreter<Float>(training.graph)
    var feeds = store.entries.reduce(into: [String: Tensor<Float>]()) { $0[$1.name] = $1.tensor }
    let batch = ["input": try base.randomTensor(model.graph[model.graph.inputs[0]].type.shape, seed: 8), "labels": try Tensor(shape: [4], scalars: [0, 4, 2, 1]),
                 TrainingGraph.learningRateInput: try Tensor(shape: [], scalars: [0.05])]
    for step in 0..<3 {
      let expected = try interpreter.run(feeds.merging(batch) { $1 }, step: UInt64(step))
      let actual = try compiled.run(batch, step: UInt64(step))
      #expect(abs(actual[0].scalars[0] - expected[training.loss].scalars[0]) <= 1e-5 * max(1, abs(actual[0].scalars[0])), "loss at step \(step)")
      feeds.merge(expected.stateUpdates) { $1 }
      for (name, value) in expected.stateUpdates {
        let mine = try #require(compiled.parameter(name))
        let worst = zip(mine.scalars, value.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * max(1, value.scalars.map(abs).max() ?? 0), "\(name) after step \(step): \(worst)")
      }
    }
  }
}
