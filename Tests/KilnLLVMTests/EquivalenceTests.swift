import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// Compiled code against the reference interpreter: equal within 1e-5 relative (f32).
@Suite struct EquivalenceTests {
  static let compiler = Result { try Compiler() }

  /// Standard normal values times `scale`.
  func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) throws -> Tensor<Float> {
    var generator = SplitMix64(seed: seed)
    return try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in scale * Float(generator.nextNormal()) })
  }

  /// Compiles `model`, runs it and the interpreter on `inputs`, and compares every output.
  func expectEquivalent(
    _ model: Model, _ inputs: [String: Tensor<Float>], compiler: Compiler? = nil, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let compiled = try (compiler ?? Self.compiler.get()).compile(model)
    let expected = try model.run(inputs)
    let actual = try compiled.run(inputs)
    for (a, e) in zip(actual, expected) {
      #expect(a.shape == e.shape, sourceLocation: sourceLocation)
      let scale = max(1, e.scalars.map(abs).max() ?? 0)
      let worst = zip(a.scalars, e.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(worst <= 1e-5 * scale, "largest difference \(worst) (scale \(scale))", sourceLocation: sourceLocation)
    }
  }

  /// A one-op model on random inputs `in0`, `in1`, … (standard normal times `scale`; integer
  /// inputs given).
  func expectOpEquivalent(_ op: Op, _ shapes: [[Int]], integerInputs: [Int: Tensor<Float>] = [:], scale: Float = 1, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var graph = Graph(name: "op")
    let values = try shapes.enumerated().map {
      try graph.append("in\($0.offset)", .input(InputAttrs(TensorType($0.element, integerInputs[$0.offset] == nil ? .f32 : .i32))))
    }
    graph.outputs = [try graph.append("op", op, inputs: values)]
    var feeds: [String: Tensor<Float>] = [:]
    for (index, shape) in shapes.enumerated() { feeds["in\(index)"] = try integerInputs[index] ?? randomTensor(shape, seed: UInt64(index + 1), scale: scale) }
    try expectEquivalent(Model(graph: graph, parameters: ParameterStore()), feeds, sourceLocation: sourceLocation)
  }

  static let convolutions: [(spatial: [Int], kernel: Int, stride: Int, pad: Int, mode: PaddingMode, dilation: Int, groups: Int)] = [
    ([17], 3, 1, 1, .zero, 1, 1), ([19], 5, 2, 2, .reflect, 1, 2), ([13, 11], 3, 1, 1, .zero, 1, 1), ([12, 13], 3, 2, 1, .replicate, 2, 1),
    ([9, 9], 3, 1, 2, .circular, 1, 4), ([8, 7], 1, 1, 0, .zero, 1, 1), ([8, 8], 1, 2, 0, .zero, 1, 2), ([5, 6, 7], 3, 1, 1, .zero, 1, 1),
    // Unpadded windows take the affine im2col path.
    ([11, 12], 3, 2, 0, .zero, 2, 1), ([13], 5, 3, 0, .zero, 1, 2), ([5, 6, 7], 2, 1, 0, .zero, 1, 1),
    // Depthwise (one input channel per group, two filters each) takes the direct loops, with
    // border and interior regions; the last has no interior at all.
    ([13, 11], 3, 1, 1, .zero, 1, 4), ([12, 13], 3, 2, 1, .zero, 2, 4), ([17], 5, 2, 2, .zero, 1, 4), ([5, 6, 7], 3, 1, 1, .zero, 1, 4),
    ([3, 4], 5, 1, 2, .zero, 1, 4), ([9, 10], 3, 2, 0, .zero, 1, 4),
  ]

  @Test(arguments: convolutions.indices)
  func convolution(case index: Int) throws {
    let c = Self.convolutions[index]
    let rank = c.spatial.count
    let attrs = ConvAttrs(
      stride: Array(repeating: c.stride, count: rank), padding: .symmetric(c.pad, rank: rank), paddingMode: c.mode,
      dilation: Array(repeating: c.dilation, count: rank), groups: c.groups)
    try expectOpEquivalent(.conv(attrs), [[2, 4] + c.spatial, [8, 4 / c.groups] + Array(repeating: c.kernel, count: rank), [8]])
  }

  /// The direct convolution at both vector widths (8 floats as on AVX2, 16 as on AVX-512, on any
  /// machine): wide rows with whole tiles and a partial last vector, narrow maps tiled over several
  /// rows, partial channel and row blocks, strides and dilations that split rows into phases,
  /// every padding mode, groups, 1D and 3D, pointwise read in place or gathered (strided), and
  /// the depthwise kernel;
  /// with fused bias and ReLU. On a half-width unit (as Zen 4's AVX-512), rows whose last 16-lane
  /// vector would be at most half full run in 8 lanes: 56-wide rows, a 14×14 pointwise plane, and
  /// the 49 columns of a 7×7 pointwise layer's product on the weights as they are.
  @Test(arguments: [VectorUnit(lanes: 8), VectorUnit(lanes: 16), VectorUnit(lanes: 16, halfWidth: true)])
  func directConvolution(vectors: VectorUnit) throws {
    let compiler = try Compiler(vectorLanes: vectors.lanes, halfWidth: vectors.halfWidth)
    let cases: [(x: [Int], weight: [Int], stride: Int, pad: Int, mode: PaddingMode, dilation: Int, groups: Int)] = [
      ([1, 3, 9, 61], [13, 3, 3, 3], 1, 1, .zero, 1, 1), ([1, 4, 9, 8], [10, 4, 3, 3], 1, 1, .zero, 1, 1),
      ([1, 5, 23, 37], [7, 5, 5, 5], 2, 2, .reflect, 1, 1), ([1, 4, 19, 40], [6, 2, 3, 3], 3, 2, .replicate, 2, 2),
      ([1, 2, 16, 33], [9, 2, 7, 7], 2, 3, .circular, 1, 1), ([2, 3, 50], [5, 3, 4], 1, 0, .zero, 3, 1),
      ([1, 2, 5, 9, 20], [4, 2, 3, 3, 3], 1, 1, .zero, 1, 1), ([1, 3, 19, 19], [17, 3, 2, 2], 2, 0, .zero, 1, 1),
      // Pointwise, read in place: planes of 49 and 45 floats end in a masked partial vector;
      // 512 channels of 1,517 floats in chunks of a few tiles, the last one with the rest; 1,000
      // channels (up to `pointwiseChannels` run direct).
      ([2, 24, 7, 7], [40, 24, 1, 1], 1, 0, .zero, 1, 1), ([2, 6, 5, 9], [9, 2, 1, 1], 1, 0, .zero, 1, 3),
      ([1, 512, 37, 41], [10, 512, 1, 1], 1, 0, .zero, 1, 1), ([1, 20, 14, 14], [12, 20, 1, 1], 1, 0, .zero, 1, 1),
      ([1, 40, 7, 7], [24, 40, 1, 1], 1, 0, .zero, 1, 1), ([1, 3, 5, 56], [10, 3, 3, 3], 1, 1, .zero, 1, 1),
      ([1, 1000, 9, 11], [8, 1000, 1, 1], 1, 0, .zero, 1, 1),
      // Strided 1×1, its picked positions gathered first: 2D (odd sizes), grouped at batch 2,
      // 3D, and 1D with stride 3.
      ([1, 24, 29, 31], [16, 24, 1, 1], 2, 0, .zero, 1, 1), ([2, 8, 21, 21], [12, 4, 1, 1], 2, 0, .zero, 1, 2),
      ([1, 4, 6, 17, 19], [5, 4, 1, 1, 1], 2, 0, .zero, 1, 1), ([2, 6, 200], [7, 6, 1], 3, 0, .zero, 1, 1),
      // Planes flattened into one run of positions (rows of 10-12 leave lanes idle): LeNet-5's
      // second layer, dilated with reflected padding, replicated and circular padding, 3D.
      ([2, 6, 14, 14], [16, 6, 5, 5], 1, 0, .zero, 1, 1), ([1, 3, 12, 13], [5, 3, 3, 3], 1, 1, .reflect, 2, 1),
      ([1, 2, 9, 10], [7, 2, 3, 3], 1, 2, .replicate, 1, 1), ([1, 4, 8, 8], [6, 2, 3, 3], 1, 2, .circular, 1, 2),
      ([1, 2, 4, 6, 10], [3, 2, 3, 3, 3], 1, 1, .zero, 1, 1),
      // Flattened with height strides, the rows split by them: ResNet's stride-2 3×3 (28×28
      // out), odd padded heights, stride 3 with dilation and reflected padding, 3D.
      ([1, 8, 56, 56], [6, 8, 3, 3], 2, 1, .zero, 1, 1), ([1, 3, 23, 21], [5, 3, 3, 3], 2, 1, .replicate, 1, 1),
      ([1, 2, 31, 30], [4, 2, 3, 3], 3, 2, .reflect, 2, 1), ([1, 2, 5, 21, 23], [3, 2, 3, 3, 3], 2, 1, .zero, 1, 1),
      // Depthwise: rows of whole and masked vectors, two filters per channel, dilation, strides
      // 2 and 3 in vectors (whole and masked, padded and in place, two filters per channel) and
      // 5 (scalar), 1D and 3D, unpadded.
      ([1, 6, 9, 40], [6, 1, 3, 3], 1, 1, .zero, 1, 6), ([1, 4, 14, 14], [8, 1, 5, 5], 1, 2, .zero, 1, 4),
      ([1, 3, 11, 19], [3, 1, 3, 3], 1, 2, .zero, 2, 3), ([1, 4, 15, 15], [4, 1, 3, 3], 2, 1, .zero, 1, 4),
      ([1, 4, 40, 75], [4, 1, 3, 3], 2, 1, .zero, 1, 4), ([1, 3, 9, 40], [3, 1, 3, 3], 2, 0, .zero, 1, 3),
      ([1, 3, 20, 61], [6, 1, 3, 3], 3, 1, .zero, 1, 3), ([1, 2, 12, 30], [2, 1, 3, 3], 5, 1, .zero, 1, 2),
      ([2, 3, 30], [3, 1, 5], 1, 2, .zero, 1, 3), ([1, 2, 4, 5, 21], [2, 1, 3, 3, 3], 1, 1, .zero, 1, 2),
      ([1, 5, 7, 12], [5, 1, 3, 3], 1, 0, .zero, 1, 5),
    ]
    for c in cases {
      let rank = c.x.count - 2
      let attrs = ConvAttrs(
        stride: Array(repeating: c.stride, count: rank), padding: .symmetric(c.pad, rank: rank), paddingMode: c.mode,
        dilation: Array(repeating: c.dilation, count: rank), groups: c.groups)
      var graph = Graph(name: "direct")
      let x = try graph.append("x", .input(InputAttrs(TensorType(c.x))))
      let w = try graph.append("w", .parameter(ParameterAttrs(TensorType(c.weight), initializer: .zeros)))
      let b = try graph.append("b", .parameter(ParameterAttrs(TensorType([c.weight[0]]), initializer: .zeros)))
      let y = try graph.append("y", .conv(attrs), inputs: [x, w, b])
      graph.outputs = [try graph.append("relu", .unary(UnaryAttrs(.relu)), inputs: [y])]
      let shape = (outputShape: graph[y].type.shape, ())
      let positions = c.x[0] * shape.outputShape[2...].reduce(1, *)
      switch ConvolutionLowering.Algorithm(attrs, x: c.x, weight: c.weight, output: shape.outputShape, vectors: vectors, weightsChange: false) {
      case .direct, .depthwise: break
      case .columns where positions <= ConvolutionLowering.Algorithm.unpackedProductColumns: break
      case .channelVectors where positions <= ConvolutionLowering.Algorithm.unpackedProductColumns: break
      case let other: Issue.record("\(c): \(other)")
      }
      var parameters = ParameterStore()
      parameters["w"] = try randomTensor(c.weight, seed: 2)
      parameters["b"] = try randomTensor([c.weight[0]], seed: 3)
      let model = try Model(graph: graph, parameters: parameters)
      let input = ["x": try randomTensor(c.x, seed: 1)]
      let expected = try model.run(input)[0]
      let actual = try compiler.compile(model).run(input)[0]
      let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(actual.shape == expected.shape && worst <= 1e-5 * max(1, expected.scalars.map(abs).max() ?? 0), "\(c): \(worst)")
    }
    // The 512-channel pointwise plane is covered in several chunks of columns.
    let (x, weight, y) = ([1, 512, 37, 41], [10, 512, 1, 1], [1, 10, 37, 41])
    let pointwise = DirectConvolution(
      ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1]), ConvolutionShape(x: x, weight: weight, output: y, groups: 1), x: x,
      weight: weight, output: y, vectors: vectors)
    #expect(pointwise.tilesPerChunk * pointwise.vectors * pointwise.lanes * 2 < 37 * 41, "\(pointwise.tilesPerChunk)")
    // LeNet-5's layers are flattened on every unit (rows of 10 and 28 fill 10 of 16 and 28 of
    // 32 lanes), a 56×56 plane nowhere.
    func flattened(_ x: [Int], _ weight: [Int], _ y: [Int]) -> Bool {
      DirectConvolution(
        ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1]), ConvolutionShape(x: x, weight: weight, output: y, groups: 1), x: x,
        weight: weight, output: y, vectors: vectors
      ).flattened
    }
    #expect(flattened([64, 6, 14, 14], [16, 6, 5, 5], [64, 16, 10, 10]))
    #expect(flattened([64, 1, 32, 32], [6, 1, 5, 5], [64, 6, 28, 28]))
    #expect(!flattened([1, 64, 58, 58], [64, 64, 3, 3], [1, 64, 56, 56]))
    // ResNet's stride-2 3×3 layer with 28×28 outputs (rows fill 28 of 32 lanes) is flattened.
    #expect(DirectConvolution(
      ConvAttrs(stride: [2, 2], padding: .symmetric(1, rank: 2), dilation: [1, 1]), ConvolutionShape(x: [1, 128, 56, 56], weight: [128, 128, 3, 3], output: [1, 128, 28, 28], groups: 1),
      x: [1, 128, 56, 56], weight: [128, 128, 3, 3], output: [1, 128, 28, 28], vectors: vectors
    ).flattened)
  }

  /// Rows go to 8-float vectors where 16-float ones would leave more lanes idle: rows of at most
  /// 8 on any AVX-512 unit, and on a half-width one rows whose last 16-float vector is at most
  /// half full; AVX2 keeps its 8.
  @Test func vectorsForRows() {
    let (full, half, avx2) = (VectorUnit(lanes: 16), VectorUnit(lanes: 16, halfWidth: true), VectorUnit(lanes: 8))
    #expect([7, 8, 9, 49, 196].map(full.lanes(forRow:)) == [8, 8, 16, 16, 16])
    #expect([7, 9, 28, 49, 56, 64, 196, 3136].map(half.lanes(forRow:)) == [8, 16, 16, 8, 8, 16, 8, 16])
    #expect([7, 49, 64].map(avx2.lanes(forRow:)) == [8, 8, 8])
    #expect((full.registers, half.registers, avx2.registers) == (32, 32, 16))
  }

  /// Winograd F(4×4, 3×3) and F(2×2, 3×3) at both vector widths: maps whose last tile row and
  /// column hang over the edge, runs of tiles shorter than a vector, every padding mode, blocks of
  /// several samples (7 samples of 9 tiles: a block of 6 and a partial one of 1; 3 samples of 16
  /// tiles: one block; F(2×2): 2 samples of 15 tiles in one block), bias and ReLU; then new weights (the kernel must notice and transform them again). Within 1e-5 of the
  /// largest output (Winograd rounds differently from the direct sum; measured at most 3.5e-6).
  @Test(arguments: [8, 16])
  func winogradConvolution(lanes: Int) throws {
    let compiler = try Compiler(vectorLanes: lanes)
    for (x, outputs, pad, mode, transforms) in [
      ([1, 16, 28, 28], 16, 1, PaddingMode.zero, WinogradTransforms.f4), ([2, 17, 30, 29], 19, 1, .reflect, .f4), ([1, 16, 37, 26], 24, 0, .zero, .f4),
      ([1, 20, 27, 45], 16, 2, .circular, .f4), ([7, 18, 9, 9], 20, 1, .replicate, .f4), ([3, 16, 14, 14], 16, 1, .zero, .f4),
      ([1, 16, 7, 7], 16, 1, .zero, .f2), ([2, 24, 9, 5], 17, 1, .reflect, .f2), ([1, 32, 11, 9], 16, 0, .zero, .f2),
    ] {
      let attrs = ConvAttrs(stride: [1, 1], padding: .symmetric(pad, rank: 2), paddingMode: mode, dilation: [1, 1])
      var graph = Graph(name: "winograd")
      let input = try graph.append("x", .input(InputAttrs(TensorType(x))))
      let w = try graph.append("w", .parameter(ParameterAttrs(TensorType([outputs, x[1], 3, 3]), initializer: .zeros)))
      let b = try graph.append("b", .parameter(ParameterAttrs(TensorType([outputs]), initializer: .zeros)))
      let y = try graph.append("y", .conv(attrs), inputs: [input, w, b])
      graph.outputs = [try graph.append("relu", .unary(UnaryAttrs(.relu)), inputs: [y])]
      let plan = WinogradConvolution(attrs, x: x, weight: [outputs, x[1], 3, 3], output: graph[y].type.shape, lanes: lanes, weightsChange: false)
      #expect(plan?.transforms == transforms, "\(x)")
      var parameters = ParameterStore()
      parameters["w"] = try randomTensor([outputs, x[1], 3, 3], seed: 2, scale: 0.2)
      parameters["b"] = try randomTensor([outputs], seed: 3)
      var model = try Model(graph: graph, parameters: parameters)
      let feeds = ["x": try randomTensor(x, seed: 1)]
      let compiled = try compiler.compile(model)
      for round in 0..<2 {
        let expected = try model.run(feeds)[0]
        let actual = try compiled.run(feeds)[0]
        let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * (expected.scalars.map(abs).max() ?? 0), "\(x) round \(round): \(worst)")
        let weights = try randomTensor([outputs, x[1], 3, 3], seed: 9, scale: 0.3)
        model.parameters["w"] = weights
        try compiled.setParameter("w", weights)
      }
    }
    // The rules: a block must reach 16 tiles (one 12×12 sample has 9 of 4×4 and 36 of 2×2, one
    // 14×14 sample 16 of 4×4; four 7×7 samples have 16 of 4×4, one has 16 of 2×2; one 4×4 sample
    // only 4 of 2×2), and the tiles cover at most twice the map (2×2 maps: not by one 4×4 tile).
    let same = ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), paddingMode: .zero, dilation: [1, 1])
    func plan(_ x: [Int], weightsChange: Bool = false) -> WinogradTransforms? {
      WinogradConvolution(same, x: x, weight: [64, 64, 3, 3], output: x, lanes: lanes, weightsChange: weightsChange)?.transforms
    }
    #expect([[1, 64, 12, 12], [1, 64, 14, 14], [4, 64, 7, 7], [1, 64, 7, 7], [1, 64, 4, 4], [64, 64, 2, 2]].map { plan($0) } == [.f2, .f4, .f4, .f2, nil, .f2])
    // Weights that change on every run (training) need 128 tiles in all against the direct kernel,
    // of 4×4 (8 samples of 7×7 have 32, 8 of 14×14 have 128); against im2col + GEMM any count,
    // F(2×2) only where F(4×4) does not apply.
    #expect(plan([8, 64, 7, 7], weightsChange: true) == nil)
    #expect(plan([8, 64, 14, 14], weightsChange: true) == .f4)
    #expect(plan([64, 64, 2, 2], weightsChange: true) == nil)
    func againstColumns(_ x: [Int]) -> WinogradTransforms? {
      WinogradConvolution(same, x: x, weight: [64, 64, 3, 3], output: x, lanes: lanes, weightsChange: true, againstColumns: true)?.transforms
    }
    #expect([[8, 64, 7, 7], [64, 64, 4, 4], [64, 64, 2, 2]].map(againstColumns) == [.f4, .f4, .f2])
  }

  /// Tiles fit the registers (accumulators, input vectors and the broadcast weight) and the map,
  /// with at most half the registers' broadcast weights (channels) a step.
  @Test func directConvolutionTiles() {
    for registers in [16, 32] {
      for (channels, rows, vectors) in [(64, 56, 7), (128, 28, 4), (512, 7, 1), (256, 14, 2), (6, 28, 4), (1, 1, 1), (3, 100, 13)] {
        let t = DirectConvolution.tiling(channels: channels, rows: rows, vectors: vectors, registers: registers)
        #expect(t.channels * t.rows * t.vectors + t.rows * t.vectors + 1 <= registers, "\(t)")
        #expect(t.channels <= channels && t.rows <= rows && t.vectors <= vectors, "\(t)")
        #expect(t.channels <= registers / 2, "\(t)")
      }
    }
    // A large map keeps most registers busy accumulating (enough independent FMAs to hide their
    // latency): 12 of 16 with AVX2, at least 21 of 32 with AVX-512.
    let (avx2, avx512) = (
      DirectConvolution.tiling(channels: 64, rows: 56, vectors: 7, registers: 16),
      DirectConvolution.tiling(channels: 64, rows: 56, vectors: 4, registers: 32))
    #expect(avx2.channels * avx2.rows * avx2.vectors == 12, "\(avx2)")
    #expect(avx512.channels * avx512.rows * avx512.vectors >= 21, "\(avx512)")
  }

  /// Convolutions with at most 64 outputs per channel (samples × positions) whose weights may
  /// change on every run (here an input) read them as they are: a skinny product up to 8 columns (tiles of rows and columns with partial ones,
  /// a depth with a masked tail, pointwise), a register-blocked product up to 64 (a partial tile
  /// of rows — 3×3 from fewer than 16 channels, which Winograd leaves alone —, pointwise read in
  /// place, strided and grouped, two samples in one product); at both
  /// vector widths, with the same bits on one thread and on two.
  @Test(arguments: [8, 16])
  func smallMapProducts(lanes: Int) throws {
    let cases: [(x: [Int], weight: [Int], stride: Int, pad: Int, groups: Int, skinny: Bool)] = [
      ([1, 70, 2, 2], [111, 70, 3, 3], 1, 1, 1, true), ([2, 64, 2, 2], [128, 64, 3, 3], 1, 1, 1, true), ([1, 70, 1, 3], [1000, 70, 1, 1], 1, 0, 1, true),
      ([1, 12, 7, 7], [45, 12, 3, 3], 1, 1, 1, false), ([1, 24, 7, 7], [40, 24, 1, 1], 1, 0, 1, false), ([1, 16, 9, 9], [20, 8, 3, 3], 2, 1, 2, false),
      ([2, 12, 4, 4], [50, 12, 3, 3], 1, 1, 1, false),
    ]
    let compiler = try Compiler(vectorLanes: lanes)
    for c in cases {
      let attrs = ConvAttrs(stride: [c.stride, c.stride], padding: .symmetric(c.pad, rank: 2), dilation: [1, 1], groups: c.groups)
      let output = try attrs.outputType([TensorType(c.x), TensorType(c.weight)]).shape
      let shape = ConvolutionShape(x: c.x, weight: c.weight, output: output, groups: c.groups)
      // The weights are an input, computed for all the kernel knows.
      let algorithm = ConvolutionLowering.Algorithm(attrs, x: c.x, weight: c.weight, output: output, vectors: VectorUnit(lanes: lanes), weightsChange: true)
      guard case .columns = algorithm else {
        Issue.record("\(c.x) by \(c.weight): \(algorithm)")
        continue
      }
      #expect(SkinnyProduct.applies(m: shape.outPerGroup, n: c.x[0] * shape.outPlane, k: shape.depth) == c.skinny, "\(c.x) by \(c.weight)")
      var graph = Graph(name: "conv")
      let inputs = try [("x", c.x), ("w", c.weight), ("b", [c.weight[0]])].map { try graph.append($0.0, .input(InputAttrs(TensorType($0.1)))) }
      graph.outputs = [try graph.append("y", .conv(attrs), inputs: inputs)]
      let model = try Model(graph: graph, parameters: ParameterStore())
      let feeds = try ["x": randomTensor(c.x, seed: 1), "w": randomTensor(c.weight, seed: 2), "b": randomTensor([c.weight[0]], seed: 3)]
      let expected = try model.run(feeds)[0]
      let (one, two) = try (compiler.compile(model, threads: 1).run(feeds)[0], compiler.compile(model, threads: 2).run(feeds)[0])
      #expect(relativeDifference(expected, one) <= 1e-5, "\(c.x) by \(c.weight): \(relativeDifference(expected, one))")
      #expect(one.scalars.map(\.bitPattern) == two.scalars.map(\.bitPattern), "\(c.x) by \(c.weight)")
    }
  }

  /// Convolutions with at most 64 outputs per channel and fixed weights, whose output channels
  /// fill more lanes than their positions, and strided ones with up to 1,024, run transposed
  /// (vectors along output channels, the weights packed once): pointwise at 7×7 (read in place),
  /// 3×3 with strides 2 and 4 (im2col rows as every stride-th float of vector loads) and
  /// padding, a strided 1×1 (positions gathered), two samples of 5×5, 3×3 outputs with channels
  /// ending in a partial vector, 1D, a stride-2 3×3 to 14×14 and a stride-2 5×5 to two samples of
  /// 13×13 (the strided rule); each with bias and ReLU, or a fused shortcut before it; the same
  /// bits on one thread and on two; and new weights packed again.
  @Test(arguments: [VectorUnit(lanes: 8), VectorUnit(lanes: 16), VectorUnit(lanes: 16, halfWidth: true)])
  func channelVectorProducts(vectors: VectorUnit) throws {
    let compiler = try Compiler(vectorLanes: vectors.lanes, halfWidth: vectors.halfWidth)
    let cases: [(x: [Int], weight: [Int], stride: Int, pad: Int, shortcut: Bool)] = [
      ([1, 64, 7, 7], [48, 64, 1, 1], 1, 0, false), ([1, 64, 7, 7], [64, 64, 1, 1], 1, 0, true), ([1, 16, 13, 13], [32, 16, 3, 3], 2, 1, false),
      ([1, 40, 14, 14], [80, 40, 1, 1], 2, 0, true), ([2, 8, 5, 5], [48, 8, 3, 3], 1, 1, false), ([1, 24, 3, 3], [20, 24, 3, 3], 1, 1, false),
      ([1, 16, 49], [32, 16, 3], 1, 1, false), ([1, 8, 27, 27], [32, 8, 3, 3], 4, 1, false),
      ([1, 32, 28, 28], [64, 32, 3, 3], 2, 1, true), ([2, 12, 29, 29], [48, 12, 5, 5], 2, 1, false),
    ]
    for c in cases {
      let rank = c.x.count - 2
      let attrs = ConvAttrs(stride: Array(repeating: c.stride, count: rank), padding: .symmetric(c.pad, rank: rank), dilation: Array(repeating: 1, count: rank))
      let output = try attrs.outputType([TensorType(c.x), TensorType(c.weight)]).shape
      let algorithm = ConvolutionLowering.Algorithm(attrs, x: c.x, weight: c.weight, output: output, vectors: vectors, weightsChange: false)
      guard case .channelVectors = algorithm else {
        Issue.record("\(c.x) by \(c.weight): \(algorithm)")
        continue
      }
      var graph = Graph(name: "transposed")
      let x = try graph.append("x", .input(InputAttrs(TensorType(c.x))))
      // A fused shortcut is computed before the convolution.
      let shortcut = c.shortcut ? try graph.append("shortcut", .input(InputAttrs(TensorType(output)))) : nil
      let w = try graph.append("w", .parameter(ParameterAttrs(TensorType(c.weight), initializer: .zeros)))
      let b = try graph.append("b", .parameter(ParameterAttrs(TensorType([c.weight[0]]), initializer: .zeros)))
      var y = try graph.append("y", .conv(attrs), inputs: [x, w, b])
      var feeds = ["x": try randomTensor(c.x, seed: 1)]
      if let shortcut {
        feeds["shortcut"] = try randomTensor(output, seed: 4)
        y = try graph.append("sum", .binary(BinaryAttrs(.add)), inputs: [y, shortcut])
      }
      graph.outputs = [try graph.append("relu", .unary(UnaryAttrs(.relu)), inputs: [y])]
      if c.shortcut {
        let fusion = Fusion(graph) { Lowering.takesResidual(graph.nodes[$0], graph, vectors: vectors) }
        #expect(fusion.residuals.count == 1, "\(c.x) by \(c.weight)")
      }
      var parameters = ParameterStore()
      parameters["w"] = try randomTensor(c.weight, seed: 2)
      parameters["b"] = try randomTensor([c.weight[0]], seed: 3)
      var model = try Model(graph: graph, parameters: parameters)
      let (one, two) = try (compiler.compile(model, threads: 1), compiler.compile(model, threads: 2))
      let (first, second) = try (one.run(feeds)[0], two.run(feeds)[0])
      let expected = try model.run(feeds)[0]
      #expect(relativeDifference(expected, first) <= 1e-5, "\(c.x) by \(c.weight): \(relativeDifference(expected, first))")
      #expect(first.scalars.map(\.bitPattern) == second.scalars.map(\.bitPattern), "\(c.x) by \(c.weight)")
      // New weights: packed again before the next run.
      model.parameters["w"] = try randomTensor(c.weight, seed: 5)
      try one.setParameter("w", model.parameters["w"]!)
      #expect(relativeDifference(try model.run(feeds)[0], try one.run(feeds)[0]) <= 1e-5, "\(c.x) by \(c.weight), new weights")
    }
  }

  /// The skinny product's tile fits the registers (accumulators and a vector of A and of Bᵀ per
  /// row and column) and the product.
  @Test func skinnyProductTiles() {
    for lanes in [8, 16] {
      for (m, n) in [(512, 4), (1000, 3), (128, 8), (7, 1), (1, 8)] {
        let product = SkinnyProduct(m: m, n: n, k: 4608, lanes: lanes)
        #expect(product.rows * product.columns + product.rows + product.columns < (lanes > 8 ? 32 : 16), "\(product)")
        #expect(product.rows <= m && product.columns <= n, "\(product)")
      }
    }
  }

  /// Rows that leave half the vector lanes or more empty go to im2col + GEMM when several samples
  /// share a product: 4×4 maps at batch 64 on either width, 7×7 at batch 8 on 16 lanes only; one
  /// 7×7 sample stays direct.
  @Test func narrowRowsInLargeBatchesTakeGEMMs() {
    func direct(_ x: [Int], lanes: Int) -> Bool {
      let attrs = ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), dilation: [1, 1])
      let output = [x[0], 64] + Array(x[2...])
      return DirectConvolution.applies(attrs, ConvolutionShape(x: x, weight: [64, x[1], 3, 3], output: output, groups: 1), x: x, output: output, lanes: lanes)
    }
    #expect(!direct([64, 32, 4, 4], lanes: 8) && !direct([64, 32, 4, 4], lanes: 16))
    #expect(direct([64, 32, 8, 8], lanes: 8) && direct([8, 32, 7, 7], lanes: 8) && !direct([8, 32, 7, 7], lanes: 16) && direct([1, 32, 7, 7], lanes: 16))
  }

  /// Convolutions through columns take several samples per product (`SampleBlocks`): 67 samples
  /// on 2×2 maps make a full block of 64 and a partial one of 3 (grouped, with replicate padding),
  /// and a pointwise convolution too deep for the direct kernel takes all 5 samples at once.
  @Test func samplesShareProductsOnSmallMaps() throws {
    #expect(SampleBlocks(batch: 67, positions: 4).counts == [64, 3])
    #expect(SampleBlocks(batch: 5, positions: 144).counts == [2, 1])
    #expect(SampleBlocks(batch: 8, positions: 784).counts == [1])
    let padded = ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), paddingMode: .replicate, dilation: [1, 1], groups: 2)
    try expectOpEquivalent(.conv(padded), [[67, 8, 2, 2], [6, 4, 3, 3], [6]])
    let pointwise = ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1])
    try expectOpEquivalent(.conv(pointwise), [[5, 520, 3, 3], [4, 520, 1, 1], [4]])
  }

  @Test func transposedConvolution() throws {
    for (spatial, stride, pad, outputPad, dilation, groups) in [([5], 2, 0, 0, 1, 1), ([6, 5], 2, 1, 1, 1, 2), ([4, 4], 3, 0, 2, 1, 1), ([3, 4, 3], 2, 1, 0, 2, 1)] {
      let rank = spatial.count
      let attrs = ConvTransposeAttrs(
        stride: Array(repeating: stride, count: rank), padding: .symmetric(pad, rank: rank), outputPadding: Array(repeating: outputPad, count: rank),
        dilation: Array(repeating: dilation, count: rank), groups: groups)
      try expectOpEquivalent(.convTranspose(attrs), [[2, 4] + spatial, [4, 6 / groups] + Array(repeating: 3, count: rank), [6]])
    }
  }

  @Test func losses() throws {
    let labels = try Tensor<Float>(shape: [4], scalars: [0, 3, 2, 4])
    try expectOpEquivalent(.loss(LossAttrs(.softmaxCrossEntropy)), [[4, 5], [4]], integerInputs: [1: labels])
    try expectOpEquivalent(.loss(LossAttrs(.softmaxCrossEntropy, reduction: .sum)), [[4, 5], [4]], integerInputs: [1: labels])
    try expectOpEquivalent(.loss(LossAttrs(.binaryCrossEntropy)), [[3, 7], [3, 7]])
    try expectOpEquivalent(.loss(LossAttrs(.meanSquaredError, reduction: .sum)), [[3, 7], [3, 7]])
    try expectOpEquivalent(.loss(LossAttrs(.smoothL1)), [[3, 7], [3, 7]])
  }

  @Test(arguments: [PoolKind.max, .average])
  func pooling(kind: PoolKind) throws {
    // Planar windows combine rows into padded lines (1D and 2D, ceil mode past the input's
    // end); 3D windows and lines too long for the stack (2,101 columns) check taps one by one:
    // rows of 37-40 columns have interiors longer than a vector (loads without checks), 5×3
    // windows over 4 columns have none.
    for (spatial, kernel, stride, pad, ceil) in [
      ([9], 3, 2, 1, true), ([11, 10], 2, 2, 0, false), ([7, 9], 3, 2, 1, true), ([4, 5, 6], 2, 2, 1, false), ([6, 40], 3, 2, 1, true),
      ([5, 37], 3, 1, 1, false), ([3, 4], 5, 1, 2, false), ([3, 2101], 3, 1, 1, false),
    ] {
      let rank = spatial.count
      let attrs = PoolAttrs(
        kind: kind, kernel: Array(repeating: kernel, count: rank), stride: Array(repeating: stride, count: rank),
        padding: .symmetric(pad, rank: rank), ceilMode: ceil, countIncludePad: spatial.count != 2)
      try expectOpEquivalent(.pool(attrs), [[2, 3] + spatial])
    }
    let dilated = PoolAttrs(kind: kind, kernel: [2, 3], stride: [1, 2], padding: .symmetric(1, rank: 2), ceilMode: true, dilation: [2, 2])
    try expectOpEquivalent(.pool(dilated), [[2, 3, 7, 9]])
    try expectOpEquivalent(.globalPool(GlobalPoolAttrs(kind: kind)), [[2, 3, 5, 7]])
  }

  /// Planar max pooling in vectors covering each row (the last overlapping): rows of 14 (two
  /// vectors of 8, or 16 lanes reduced to 8), strides 2 and 3 (wide loads split), dilation, ceil
  /// mode, rows shorter than a vector (2 and 1 lanes); NaNs propagate.
  @Test(arguments: [VectorUnit(lanes: 8), VectorUnit(lanes: 16), VectorUnit(lanes: 16, halfWidth: true)])
  func maxPoolingRowsInVectors(vectors: VectorUnit) throws {
    let compiler = try Compiler(vectorLanes: vectors.lanes, halfWidth: vectors.halfWidth)
    let cases: [(x: [Int], kernel: [Int], stride: [Int], pad: Int, dilation: [Int], ceil: Bool)] = [
      ([2, 3, 14, 14], [3, 3], [1, 1], 1, [1, 1], false), ([1, 2, 9, 13], [3, 3], [2, 2], 1, [1, 1], true),
      ([1, 2, 11, 40], [2, 3], [1, 3], 1, [2, 2], true), ([1, 2, 5, 3], [3, 3], [1, 1], 1, [1, 1], false), ([2, 2, 19], [3], [2], 0, [1], true),
    ]
    for c in cases {
      let attrs = PoolAttrs(kind: .max, kernel: c.kernel, stride: c.stride, padding: .symmetric(c.pad, rank: c.kernel.count), ceilMode: c.ceil, dilation: c.dilation)
      var graph = Graph(name: "pool")
      let x = try graph.append("x", .input(InputAttrs(TensorType(c.x))))
      graph.outputs = [try graph.append("y", .pool(attrs), inputs: [x])]
      var input = try randomTensor(c.x, seed: 4)
      input.scalars[5] = .nan
      let model = try Model(graph: graph, parameters: ParameterStore())
      let (expected, actual) = (try model.run(["x": input])[0], try compiler.compile(model).run(["x": input])[0])
      let differing = zip(actual.scalars, expected.scalars).filter { $0.isNaN != $1.isNaN || (!$0.isNaN && $0 != $1) }.count
      #expect(actual.shape == expected.shape && differing == 0, "\(c): \(differing) differ")
    }
  }

  /// Compiled code computes eˣ inline (so loops vectorise): sigmoid far left is eˣ itself, so its
  /// relative error there is the exponential's; and the limits hold at ±89, ±1000 and NaN.
  @Test func inlineExponentialIsAccurateToItsLimits() throws {
    let lefts = stride(from: -87.0, through: -5, by: 0.173).map { Float($0) }
    let limits: [Float] = [-1000, -89, -88.5, 88.5, 89, 1000, .nan, 0, -0.0]
    for function in [UnaryFunction.sigmoid, .tanh, .silu, .elu(alpha: 1), .gelu] {
      let x = try Tensor(shape: [lefts.count + limits.count], scalars: lefts + limits)
      var graph = Graph(name: "exp")
      graph.outputs = [try graph.append("y", .unary(UnaryAttrs(function)), inputs: [try graph.append("x", .input(InputAttrs(TensorType(x.shape))))])]
      let model = try Model(graph: graph, parameters: ParameterStore())
      let (compiled, expected) = (try Self.compiler.get().compile(model).run(["x": x])[0], try model.run(["x": x])[0])
      for (index, (a, e)) in zip(compiled.scalars, expected.scalars).enumerated() {
        let close = a == e || (a.isNaN && e.isNaN) || abs(a - e) <= 2e-6 * abs(e) + 1e-30
        #expect(close, "\(function) at \(x.scalars[index]): \(a), interpreter \(e)")
      }
    }
  }

  @Test func elementwiseAndActivations() throws {
    for function in [
      UnaryFunction.relu, .relu6, .leakyReLU(slope: 0.2), .elu(alpha: 1.3), .sigmoid, .tanh, .affine(scale: 2, shift: -1), .silu, .erf, .gelu,
    ] {
      try expectOpEquivalent(.unary(UnaryAttrs(function)), [[3, 37]])
    }
    for function in [UnaryFunction.clamp(low: -1, high: 2), .hardSigmoid(alpha: 1.0 / 6, beta: 0.5), .hardSwish, .erf, .gelu] {
      try expectOpEquivalent(.unary(UnaryAttrs(function)), [[3, 37]], scale: 5)
    }
    try expectOpEquivalent(.unary(UnaryAttrs(.relu6)), [[3, 37]], scale: 5)
    for op in BinaryOperator.allCases {
      try expectOpEquivalent(.binary(BinaryAttrs(op)), [[2, 3, 17], [2, 3, 17]])
      try expectOpEquivalent(.binary(BinaryAttrs(op)), [[2, 3, 17], [3, 1]])
    }
    try expectOpEquivalent(.maxout(MaxoutAttrs(pieces: 3)), [[2, 9, 5]])
    try expectOpEquivalent(.maxout(MaxoutAttrs(pieces: 2, axis: 0)), [[4, 3, 5]])
    for axis in 0..<3 {
      try expectOpEquivalent(.softmax(SoftmaxAttrs(axis: axis)), [[2, 7, 3]])
      try expectOpEquivalent(.softmax(SoftmaxAttrs(axis: axis, log: true)), [[2, 7, 3]])
    }
  }

  @Test func linearAlgebraAndLayout() throws {
    try expectOpEquivalent(.dense(DenseAttrs()), [[5, 33], [7, 33], [7]])
    try expectOpEquivalent(.matmul(MatMulAttrs()), [[2, 3, 5, 4], [3, 4, 6]])
    for kind in [ReduceKind.sum, .mean, .max, .variance] { try expectOpEquivalent(.reduce(ReduceAttrs(kind, axes: [0, 2], keepDims: true)), [[3, 4, 5]]) }
  }

  /// Broadcasting and reductions walk affine offsets (`StridedWalk`): operands broadcast on either
  /// side and in the middle, batch-norm statistics over rows long enough for the vector
  /// accumulators with a tail (117 = 64 + 53, 8 and 16 lanes), a reduction over an inner axis
  /// only, and the gradient that broadcasts back.
  @Test func stridedBroadcastsAndReductions() throws {
    #expect(StridedWalk(shape: [8, 64, 56, 56], operandStrides: [StridedWalk.contiguous([8, 64, 56, 56]), StridedWalk.broadcast(source: [1, 64, 1, 1], target: [8, 64, 56, 56])]).extents == [8, 64, 3136])
    #expect(StridedWalk.reduction(input: [3, 5, 9, 13], axes: [0, 2, 3]) == [0, 1, 0, 0])
    for op in BinaryOperator.allCases {
      try expectOpEquivalent(.binary(BinaryAttrs(op)), [[3, 5, 9, 13], [1, 5, 1, 1]])
      try expectOpEquivalent(.binary(BinaryAttrs(op)), [[5, 1, 13], [3, 5, 9, 1]])
    }
    for kind in [ReduceKind.sum, .mean, .max, .variance] {
      try expectOpEquivalent(.reduce(ReduceAttrs(kind, axes: [0, 2, 3], keepDims: true)), [[3, 5, 9, 13]])
      try expectOpEquivalent(.reduce(ReduceAttrs(kind, axes: [2], keepDims: false)), [[2, 3, 70]])
    }
    for kind in [ReduceKind.sum, .mean, .variance] {
      try expectOpEquivalent(.reduceGrad(ReduceGradAttrs(reduce: ReduceAttrs(kind, axes: [0, 2, 3], keepDims: true))), [[3, 5, 9, 13], [1, 5, 1, 1]])
    }
    try expectOpEquivalent(.concat(ConcatAttrs(axis: 1)), [[2, 3, 5], [2, 1, 5], [2, 4, 5]])
    // Slices and transposes are strided copies: a step along the innermost axis, an outer axis
    // (ShuffleNet's halves of the channels), axes that merge, and the innermost axis moved.
    try expectOpEquivalent(.slice(SliceAttrs(axis: 2, start: 1, end: 8, step: 3)), [[2, 3, 9]])
    try expectOpEquivalent(.slice(SliceAttrs(axis: 1, start: 3, end: 6)), [[2, 6, 4, 5]])
    try expectOpEquivalent(.transpose(TransposeAttrs(permutation: [0, 2, 1, 3])), [[2, 3, 4, 5]])
    try expectOpEquivalent(.transpose(TransposeAttrs(permutation: [0, 2, 1, 3, 4])), [[1, 2, 3, 4, 5]])
    try expectOpEquivalent(.transpose(TransposeAttrs(permutation: [2, 0, 1])), [[3, 4, 5]])
    try expectOpEquivalent(.reshape(ReshapeAttrs(shape: [6, 10])), [[2, 3, 10]])
    for mode in PaddingMode.allCases { try expectOpEquivalent(.pad(PadAttrs(before: [0, 1, 2], after: [0, 2, 1], mode: mode)), [[2, 3, 4]]) }
    for mode in [ResizeMode.linear, .nearest] {
      for coordinates in [ResizeCoordinates.halfPixel, .pytorchHalfPixel, .alignCorners, .asymmetric] {
        try expectOpEquivalent(.resize(ResizeAttrs(size: [7, 4], mode: mode, coordinates: coordinates)), [[2, 3, 3, 5]])
      }
      try expectOpEquivalent(.resize(ResizeAttrs(size: [9], mode: mode, rounding: .ceil)), [[2, 3, 4]])
      try expectOpEquivalent(.resize(ResizeAttrs(size: [3, 5, 2], mode: mode)), [[1, 2, 2, 3, 4]])
    }
    try expectOpEquivalent(.batchNorm(BatchNormAttrs()), [[2, 3, 5, 5], [3], [3], [3], [3]].map { $0 })
    for size in [1, 4, 5] { try expectOpEquivalent(.lrn(LRNAttrs(size: size, alpha: 0.3, beta: 0.75, bias: 2)), [[2, 7, 3, 5]]) }
  }

  @Test func embeddingAndItsRangeCheck() throws {
    let indices = try Tensor<Float>(shape: [2, 3], scalars: [4, 0, 2, 1, 1, 3])
    try expectOpEquivalent(.embedding(EmbeddingAttrs()), [[2, 3], [5, 4]], integerInputs: [0: indices])
    var graph = Graph(name: "e")
    let i = try graph.append("i", .input(InputAttrs(TensorType([1], .i32))))
    let t = try graph.append("t", .input(InputAttrs(TensorType([5, 4]))))
    graph.outputs = [try graph.append("op", .embedding(EmbeddingAttrs()), inputs: [i, t])]
    let compiled = try Self.compiler.get().compile(Model(graph: graph, parameters: ParameterStore()))
    #expect(throws: KilnError.self) { _ = try compiled.run(["i": Tensor(shape: [1], scalars: [7]), "t": randomTensor([5, 4], seed: 1)]) }
  }

  @Test func lenet5AndABlockOfLayers() throws {
    let lenet = try Model(graph: Zoo.lenet5(input: [3, 1, 32, 32]), seed: 4)
    try expectEquivalent(lenet, ["input": randomTensor([3, 1, 32, 32], seed: 5)])
    let block = try Model(name: "block", input: [2, 3, 9, 9], seed: 6) { x in
      var y = try x.apply(Conv2D(8, kernel: 3, padding: 1, paddingMode: .reflect, bias: false)).apply(BatchNorm()).relu()
      y = try y.apply(Conv2D.depthwise(kernel: 3, stride: 2, padding: 1)).apply(Conv2D(8, kernel: 1, activation: .relu))
      let shortcut = try x.apply(Conv2D(8, kernel: 1, stride: 2))
      let merged = try (y + shortcut).channelShuffle(groups: 2)
      return try Symbol.concat([merged, merged.apply(MaxPool2D(3, stride: 1, padding: 1))]).globalAvgPool().flattened().apply(Dense(5)).softmax()
    }
    try expectEquivalent(block, ["input": randomTensor([2, 3, 9, 9], seed: 7)])
  }

  @Test func twoThreadsGiveBitIdenticalResults() throws {
    let compiler = try Self.compiler.get()
    // Batch 32: conv1's activation and pooling loops are large enough to be split.
    let lenet = try Model(graph: Zoo.lenet5(input: [32, 1, 32, 32]), seed: 4)
    let input = ["input": try randomTensor([32, 1, 32, 32], seed: 5)]
    let one = try compiler.compile(lenet, threads: 1).run(input)
    let two = try compiler.compile(lenet, threads: 2).run(input)
    #expect(one[0].scalars.map(\.bitPattern) == two[0].scalars.map(\.bitPattern))
    // A Winograd convolution (its GEMMs whole on one thread, in two pieces of rows across two
    // threads), a pointwise one in chunks of columns and a direct one.
    let convolutions = try Model(graph: Graph(name: "c", input: [1, 64, 40, 40]) {
      Conv2D(128, kernel: 3, padding: 1, activation: .relu)
      Conv2D(24, kernel: 1)
      Conv2D(16, kernel: 3, stride: 2, padding: 1)
    }, seed: 6)
    let maps = ["input": try randomTensor([1, 64, 40, 40], seed: 8)]
    let (serial, parallel) = (try compiler.compile(convolutions, threads: 1).run(maps), try compiler.compile(convolutions, threads: 2).run(maps))
    #expect(serial[0].scalars.map(\.bitPattern) == parallel[0].scalars.map(\.bitPattern))
    // A training step: every updated parameter identical after three steps. At batch 32,
    // conv2's forward, input and weight gradients run in slices of samples, the last summing
    // its slices' copies of dW.
    let conv2 = ConvolutionShape(x: [32, 6, 14, 14], weight: [16, 6, 5, 5], output: [32, 16, 10, 10], groups: 1)
    #expect(conv2.columnSlices > 1 && conv2.weightGradientSlices > 1)
    let training = try TrainingGraph(model: lenet.graph, optimizer: Optimizer(.adam))
    let store = try Model.initialParameters(for: training.graph, seed: 0).entries.reduce(into: ParameterStore()) { store, entry in
      store[entry.name] = lenet.parameters[entry.name] ?? entry.tensor
    }
    let steps = try [1, 2].map { threads in
      let compiled = try compiler.compile(Model(graph: training.graph, parameters: store), threads: threads)
      let labels = try Tensor<Float>(shape: [32], scalars: (0..<32).map { Float($0 % 10) })
      let batch = input.merging(["labels": labels, TrainingGraph.learningRateInput: try Tensor(shape: [], scalars: [0.01])]) { $1 }
      for step in 0..<3 { _ = try compiled.run(batch, step: UInt64(step)) }
      return training.trainedParameters.map { compiled.parameter($0)?.scalars.map(\.bitPattern) ?? [] }
    }
    #expect(steps[0] == steps[1])
  }

  /// Loops split across threads only when they hold enough work: LeNet-5's at batch 32, none at
  /// batch 1 (waking a thread would cost more than the loop).
  @Test func onlyLargeLoopsAreSplitAcrossThreads() throws {
    let compiler = try Self.compiler.get()
    #expect(try compiler.assembly(Zoo.lenet5(input: [32, 1, 32, 32])).contains("kiln_parallel_for"))
    #expect(try !compiler.assembly(Zoo.lenet5(input: [1, 1, 32, 32])).contains("kiln_parallel_for"))
  }

  @Test func kernelsAreVectorised() throws {
    let graph = try Graph(name: "v", input: [1, 16, 20, 20]) {
      Conv2D(16, kernel: 3, padding: 1, activation: .relu)
      Conv2D(16, kernel: 1, stride: 2)
      Conv2D(1100, kernel: 1)
      Conv2D(8, kernel: 1)
      MaxPool2D(2)
    }
    let assembly = try Self.compiler.get().assembly(graph)
    // The 1×1 convolution from 1,100 channels (more than the direct kernel takes) is a GEMM; the
    // others run direct loops of vector FMAs with broadcast weights on ymm or zmm registers.
    #expect(assembly.contains("kiln_sgemm"))
    #expect(assembly.range(of: #"vfmadd[0-9]+ps\s+%[yz]mm"#, options: .regularExpression) != nil)
    #expect(assembly.range(of: #"vbroadcastss\s+[^\n]*%[yz]mm"#, options: .regularExpression) != nil)
    #expect(assembly.range(of: #"vmaxps\s+%[yz]mm"#, options: .regularExpression) != nil)
  }
}
