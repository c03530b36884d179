import CLLVM
import Kiln

/// The sizes of one convolution, seen from its forward direction.
struct ConvolutionShape {
  let batch, inChannels, outChannels, groups, inPlane, outPlane, taps: Int
  var inPerGroup: Int { inChannels / groups }
  var outPerGroup: Int { outChannels / groups }
  /// Rows of the im2col matrix: (C_in / groups)·taps.
  var depth: Int { inPerGroup * taps }

  init(x: [Int], weight: [Int], output: [Int], groups: Int) {
    batch = x[0]
    inChannels = x[1]
    outChannels = output[1]
    self.groups = groups
    inPlane = x[2...].reduce(1, *)
    outPlane = output[2...].reduce(1, *)
    taps = weight[2...].reduce(1, *)
  }

  /// A 1×1 convolution with stride 1 and no padding reads its input as the im2col matrix.
  func isPointwise(_ a: ConvAttrs) -> Bool {
    taps == 1 && inPlane == outPlane && a.stride.allSatisfy { $0 == 1 } && a.padding.isNone
  }

  /// Spatial sizes of the input after padding.
  func paddedSpatial(_ x: [Int], _ a: ConvAttrs) -> [Int] {
    x[2...].indices.map { x[$0] + a.padding.before[$0 - 2] + a.padding.after[$0 - 2] }
  }

  /// How many samples share one product when the convolution runs through columns.
  var blocks: SampleBlocks { SampleBlocks(batch: batch, positions: outPlane) }

  /// Floats of one sample's group padded, for im2col (none when no window leaves the input).
  func paddedSize(_ a: ConvAttrs, x: [Int]) -> Int {
    ConvolutionLowering.staysInside(a) ? 0 : inPerGroup * paddedSpatial(x, a).reduce(1, *)
  }

  /// Floats of a block's im2col matrix [depth, samples·P]; none for a pointwise convolution
  /// taking one sample at a time (its input is the matrix).
  func columnsSize(_ a: ConvAttrs) -> Int {
    isPointwise(a) && blocks.size == 1 ? 0 : depth * blocks.size * outPlane
  }

  /// Floats of a block's outputs (or output gradients) gathered [C_out / groups, samples·P];
  /// none with one sample per block.
  var gatheredSize: Int { blocks.size == 1 ? 0 : outPerGroup * blocks.size * outPlane }

  /// Where a block's gathered outputs start in the scratch of a forward or weight-gradient
  /// convolution through columns: after one sample's padded group and a block's columns.
  func gatheredOffset(_ a: ConvAttrs, x: [Int]) -> Int { paddedSize(a, x: x) + columnsSize(a) }

  /// Scratch of a forward or weight-gradient convolution through columns: one sample's padded
  /// group, then a block's columns, then its gathered outputs.
  func scratchSize(_ a: ConvAttrs, x: [Int]) -> Int { gatheredOffset(a, x: x) + gatheredSize }

  /// Where a block's gathered output gradients start in the scratch of an input-gradient
  /// convolution: after the block's columns (always built; col2im reads them).
  var inputGradientGatheredOffset: Int { depth * blocks.size * outPlane }

  /// Scratch of an input-gradient convolution: a block's columns, then its gathered output
  /// gradients, for each of `columnSlices`.
  var inputGradientScratchSize: Int { columnSlices * (inputGradientGatheredOffset + gatheredSize) }

  /// A full block's multiply-adds (all groups), in vectors of 16 (as `Kernel.slices` counts).
  var blockWork: Int { outChannels * blocks.size * outPlane * depth / 16 }

  /// Slices of the full blocks that run in parallel through columns, each with its own scratch,
  /// where one block's products are too small to split (LeNet-5's at batch 64; see `Kernel.slices`).
  var columnSlices: Int { Kernel.slices(work: blockWork, count: blocks.full) }

  /// Floats of one copy of the weight gradient, rounded to a cache line.
  var weightGradientSize: Int { (outChannels * depth + 15) / 16 * 16 }

  /// Slices of a weight gradient through columns: each sums its blocks into its own copy of dW,
  /// the copies (at most `partialGradientLimit` floats) added in order at the end.
  var weightGradientSlices: Int { min(columnSlices, max(1, Self.partialGradientLimit / weightGradientSize)) }

  static let partialGradientLimit = 1 << 18

  /// Scratch of a weight gradient through columns: per slice, when there are several, its copy of
  /// dW, then what a forward convolution's block needs.
  func weightGradientScratchSize(_ a: ConvAttrs, x: [Int]) -> Int {
    weightGradientSlices == 1 ? scratchSize(a, x: x) : weightGradientSlices * (weightGradientSize + scratchSize(a, x: x))
  }
}

extension WindowGeometry {
  /// `channels` channels of `x` prepared for a convolution `a` on this window's rows: padded,
  /// split into the width stride's phases, each phase as wide as an output row plus the filter's
  /// reach along it.
  func preparedInput(_ a: ConvAttrs, x: [Int], shape s: ConvolutionShape, channels: Int, channelBlock: Int = 1) -> PreparedInput {
    let padded = WindowGeometry.lift(s.paddedSpatial(x, a), fill: 1)
    return PreparedInput(
      a, x: x, channels: channels, depth: padded[0], rows: padded[1], phases: stride[2],
      phaseWidth: output[2] + (kernel[2] - 1) * dilation[2] / stride[2], channelBlock: channelBlock)
  }
}

/// Convolutions as im2col / col2im around SGEMM, all driven by the interpreter's tap tables
/// (so padding modes, dilation and strides mean exactly what they mean in the interpreter).
enum ConvolutionLowering {
  /// The tap table transposed to `[t·positions + p]`, so inner loops over positions read it
  /// contiguously.
  static func transposedTable(_ ir: IRBuilder, _ table: [Int], positions: Int, taps: Int) -> LLVMValueRef {
    ir.table((0..<(taps * positions)).map { table[($0 % positions) * taps + $0 / positions] })
  }

  /// Whether every window of `a` over `input` stays inside it (no padding): then im2col reads
  /// through affine indices, with no table and no bounds checks, and vectorises.
  static func staysInside(_ a: ConvAttrs) -> Bool { a.padding.isNone }

  /// `im2col` for windows that stay inside the input: loops over (c, kd, kh, kw, od, oh, ow) with
  /// the source index computed affinely; the innermost loop writes contiguously, rows `rowStride`
  /// floats apart.
  static func im2colInside(
    _ k: Kernel, source: LLVMValueRef, columns: LLVMValueRef, rowStride: Int, channels: Int, input: [Int], output: [Int], kernel: [Int],
    stride: [Int], dilation: [Int]
  ) {
    let inPlane = input.reduce(1, *)
    let taps = kernel.reduce(1, *)
    k.parallelLoop(channels, work: taps * output.reduce(1, *), capturing: [source, columns]) { k, captured, c in
      let (ir, source, columns) = (k.ir, captured[0], captured[1])
      ir.loop(kernel[0]) { kd in
        ir.loop(kernel[1]) { kh in
          ir.loop(kernel[2]) { kw in
            let tap = ir.add(ir.mul(ir.add(ir.mul(kd, ir.int(kernel[1])), kh), ir.int(kernel[2])), kw)
            let row = ir.mul(ir.add(ir.mul(c, ir.int(taps)), tap), ir.int(rowStride))
            ir.loop(output[0]) { od in
              let id = ir.add(ir.mul(od, ir.int(stride[0])), ir.mul(kd, ir.int(dilation[0])))
              ir.loop(output[1]) { oh in
                let ih = ir.add(ir.mul(oh, ir.int(stride[1])), ir.mul(kh, ir.int(dilation[1])))
                let sourceRow = ir.add(ir.mul(c, ir.int(inPlane)), ir.mul(ir.add(ir.mul(id, ir.int(input[1])), ih), ir.int(input[2])))
                let target = ir.add(row, ir.mul(ir.add(ir.mul(od, ir.int(output[1])), oh), ir.int(output[2])))
                let start = ir.add(sourceRow, ir.mul(kw, ir.int(dilation[2])))
                copyRow(ir, from: source, start, stride: stride[2], to: columns, target, count: output[2], lanes: k.lanes)
              }
            }
          }
        }
      }
    }
  }

  /// `target[at + i] = source[start + i·stride]` for i < `count`: with strides up to 4, in vectors
  /// of `lanes` taken as every stride-th float of contiguous loads (which read nothing past the
  /// last float they keep), the rest masked; ResNet's strided 1×1 convolutions gather their
  /// inputs this way.
  static func copyRow(
    _ ir: IRBuilder, from source: LLVMValueRef, _ start: LLVMValueRef, stride: Int, to target: LLVMValueRef, _ at: LLVMValueRef, count: Int, lanes: Int
  ) {
    guard stride > 1 && stride <= 4 else {
      return ir.loop(count) { i in ir.store(ir.load(source, ir.add(start, ir.mul(i, ir.int(stride)))), target, ir.add(at, i)) }
    }
    func vector(_ first: LLVMValueRef, count: Int) {
      let values = ir.loadVector(source, ir.add(start, ir.mul(first, ir.int(stride))), lanes: lanes * stride, reading: 0..<((count - 1) * stride + 1))
      ir.storeVector(ir.everyNth(values, stride, lanes: lanes), target, ir.add(at, first), count: count)
    }
    ir.loop(count / lanes) { index in vector(ir.mul(index, ir.int(lanes)), count: lanes) }
    if count % lanes > 0 { vector(ir.int(count / lanes * lanes), count: count % lanes) }
  }

  /// im2col for one group of one sample into `columns`, whose rows are `rowStride` floats
  /// apart: affine loops straight from the input when no window leaves it; otherwise the group's
  /// channels are first copied into `padded` (zeros, or the edge values padding modes make up,
  /// as `PreparedInput` copies them) and im2col reads the padded copy affinely. Both copies are
  /// split by channel across the pool's threads when `k` has them.
  static func emitIm2col(
    _ k: Kernel, _ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], source: LLVMValueRef, padded: LLVMValueRef, columns: LLVMValueRef,
    rowStride: Int, shape s: ConvolutionShape
  ) {
    var input = Array(x[2...])
    var from = source
    if !staysInside(a) {
      let paddedSpatial = WindowGeometry.lift(s.paddedSpatial(x, a), fill: 1)
      PreparedInput(a, x: x, channels: s.inPerGroup, depth: paddedSpatial[0], rows: paddedSpatial[1], phases: 1, phaseWidth: paddedSpatial[2])
        .emit(k, source: source, into: padded)
      from = padded
      input = s.paddedSpatial(x, a)
    }
    let window = WindowGeometry(a, x: x, output: output, weight: weight)
    im2colInside(
      k, source: from, columns: columns, rowStride: rowStride, channels: s.inPerGroup, input: WindowGeometry.lift(input, fill: 1),
      output: window.output, kernel: window.kernel, stride: window.stride, dilation: window.dilation)
  }

  /// The im2col matrix [depth, count·P] of group `group` of samples `first`..<`first + count`
  /// of `input`, built in `scratch` (laid out as `ConvolutionShape.scratchSize` says) — or the
  /// input itself for a pointwise convolution of one sample.
  static func blockColumns(
    _ k: Kernel, _ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], input: LLVMValueRef, scratch: LLVMValueRef?, first: LLVMValueRef,
    count: Int, group: LLVMValueRef, shape s: ConvolutionShape
  ) -> LLVMValueRef {
    let ir = k.ir
    func sampleGroup(_ j: LLVMValueRef) -> LLVMValueRef {
      groupStart(ir, input, first: ir.add(first, j), group: group, channels: s.inChannels, perGroup: s.inPerGroup, plane: s.inPlane)
    }
    guard let scratch, !(s.isPointwise(a) && count == 1) else { return sampleGroup(ir.int(0)) }
    let columns = ir.element(scratch, ir.int(s.paddedSize(a, x: x)))
    ir.loop(count) { j in
      emitIm2col(
        k, a, x: x, weight: weight, output: output, source: sampleGroup(j), padded: scratch, columns: ir.element(columns, ir.mul(j, ir.int(s.outPlane))),
        rowStride: count * s.outPlane, shape: s)
    }
    return columns
  }

  /// Where group `group` of sample `first` starts in a tensor of `channels` channels of `plane`
  /// positions, `perGroup` channels per group.
  static func groupStart(
    _ ir: IRBuilder, _ tensor: LLVMValueRef, first: LLVMValueRef, group: LLVMValueRef, channels: Int, perGroup: Int, plane: Int
  ) -> LLVMValueRef {
    ir.element(tensor, ir.add(ir.mul(first, ir.int(channels * plane)), ir.mul(group, ir.int(perGroup * plane))))
  }

  /// The adjoint of im2col through a tap table: destination[c·destinationPlane + table[t·P + p]] +=
  /// columns[(c·taps + t)·rowStride + p].
  static func col2im(
    _ ir: IRBuilder, columns: LLVMValueRef, rowStride: Int, table: LLVMValueRef, destination: LLVMValueRef, channels: Int, taps: Int, positions: Int,
    destinationPlane: Int
  ) {
    ir.loop(channels) { c in
      ir.loop(taps) { t in
        let row = ir.mul(ir.add(ir.mul(c, ir.int(taps)), t), ir.int(rowStride))
        ir.loop(positions) { p in
          let target = ir.loadInt(table, ir.add(ir.mul(t, ir.int(positions)), p))
          ir.when(ir.icmp(LLVMIntSGE, target, ir.int(0))) {
            let at = ir.add(ir.mul(c, ir.int(destinationPlane)), target)
            ir.store(ir.fadd(ir.load(destination, at), ir.load(columns, ir.add(row, p))), destination, at)
          }
        }
      }
    }
  }

  /// `body(kernel, n·groups + g, g)` for every sample n and group g, as one loop at run time (code
  /// per group would grow with the channel count of depthwise convolutions), in `slices` runs on
  /// the pool with `scratchPerSlice` floats of scratch each (see `Kernel.forSlices`). Channels
  /// are grouped contiguously, so sample n's group g starts at (n·groups + g) times a group's size.
  static func forEachSampleAndGroup(
    _ k: Kernel, batch: Int, groups: Int, slices: Int = 1, work: Int = 0, scratchPerSlice: Int = 0,
    _ body: (_ k: Kernel, _ sampleGroup: LLVMValueRef, _ group: LLVMValueRef) -> Void
  ) {
    k.forSlices(batch * groups, slices: slices, work: work, scratchPerSlice: scratchPerSlice) { k, sampleGroup in
      body(k, sampleGroup, groups == 1 ? k.ir.int(0) : k.ir.urem(sampleGroup, k.ir.int(groups)))
    }
  }

  /// How a forward convolution runs, decided in one place for its scratch and its code.
  enum Algorithm {
    case winograd(WinogradConvolution)
    case depthwise(DepthwiseConvolution)
    case direct(DirectConvolution)
    case channelVectors(ChannelVectorConvolution)
    /// W·im2col(x) per sample and group (the input itself when pointwise): a skinny product for
    /// at most 8 columns, a register-blocked product on the weights as they are for at most
    /// `unpackedProductColumns`, BLAS beyond.
    case columns

    /// The most columns (samples × positions) of a product that reads the weights as they are,
    /// where BLAS would copy (pack) them on every call, a copy as costly as the product for so
    /// few columns; convolutions with so few outputs take this route rather than the direct
    /// kernel. Batch 1, one thread, Xeon with AVX-512: ResNet-18's 7×7 512-channel layers 3.03
    /// → 1.90 ms (direct), VGG-11-CIFAR's 8×8 256-channel layers 0.45 / 0.90 → 0.25 / 0.50 ms;
    /// 14×14 maps (196 columns) gain nothing.
    static let unpackedProductColumns = 64

    /// `weightsChange`: whether the weights differ on every run (a trained parameter, or
    /// weights computed by the kernel), which costs Winograd a weight transform per run. Where
    /// the direct kernel does not apply, such a Winograd run beats im2col + GEMM only on a
    /// half-width vector unit (see `WinogradConvolution.minimumTilesWhenWeightsChange`).
    init(_ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], vectors: VectorUnit, weightsChange: Bool) {
      let lanes = vectors.lanes
      let s = ConvolutionShape(x: x, weight: weight, output: output, groups: a.groups)
      if let winograd = WinogradConvolution(a, x: x, weight: weight, output: output, lanes: lanes, weightsChange: weightsChange) {
        self = .winograd(winograd)
      } else if DepthwiseConvolution.applies(a, s) {
        self = .depthwise(DepthwiseConvolution(a, s, x: x, weight: weight, output: output))
      } else if let transposed = ChannelVectorConvolution(a, s, vectors: vectors, weightsChange: weightsChange) {
        self = .channelVectors(transposed)
      } else if s.batch * s.outPlane <= Algorithm.unpackedProductColumns {
        self = .columns
      } else if DirectConvolution.applies(a, s, x: x, output: output, lanes: lanes) {
        self = .direct(DirectConvolution(a, s, x: x, weight: weight, output: output, vectors: vectors))
      } else if vectors.halfWidth,
        let winograd = WinogradConvolution(a, x: x, weight: weight, output: output, lanes: lanes, weightsChange: weightsChange, againstColumns: true)
      {
        self = .winograd(winograd)
      } else {
        self = .columns
      }
    }

    /// Scratch of the convolution `a` of `x` by `weight` run this way.
    func scratchSize(_ a: ConvAttrs, x: [Int], weight: [Int], output: [Int]) -> Int {
      switch self {
      case .winograd(let winograd): return winograd.scratchSize
      case .depthwise: return 0
      case .direct(let direct): return direct.scratchSize
      case .channelVectors(let transposed): return transposed.scratchSize(a, x: x)
      case .columns:
        let shape = ConvolutionShape(x: x, weight: weight, output: output, groups: a.groups)
        let skinny = shape.blocks.counts.map { count in
          SkinnyProduct.applies(m: shape.outPerGroup, n: count * shape.outPlane, k: shape.depth) ? count * shape.outPlane * shape.depth : 0
        }
        return shape.columnSlices * (shape.scratchSize(a, x: x) + (skinny.max() ?? 0))
      }
    }

    /// The algorithm's name in `kiln dump --program`.
    var text: String {
      switch self {
      case .winograd(let winograd): return "winograd F(\(winograd.transforms.outputTile)x\(winograd.transforms.outputTile),3x3)"
      case .depthwise: return "depthwise"
      case .direct: return "direct"
      case .channelVectors: return "transposed"
      case .columns: return "columns"
      }
    }

    /// Memory kept between runs: Winograd's transformed weights, or packed ones.
    var persistentSize: Int {
      switch self {
      case .winograd(let winograd): return winograd.persistentSize
      case .channelVectors(let transposed): return transposed.persistentSize
      case .depthwise, .direct, .columns: return 0
      }
    }
  }

  /// y = conv(x, W) + b, with the kernel's activation, by `Algorithm`.
  static func forward(_ k: Kernel, _ a: ConvAttrs) {
    let (xShape, wShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let s = ConvolutionShape(x: xShape, weight: wShape, output: k.type.shape, groups: a.groups)
    switch Algorithm(a, x: xShape, weight: wShape, output: k.type.shape, vectors: k.vectors, weightsChange: k.weightsChange) {
    case .winograd(let winograd):
      // Bias and activation are applied by the output transform.
      winograd.emit(k)
      return
    case .direct(let direct):
      // Bias and activation are applied as the tiles are stored.
      direct.emit(k)
      return
    case .depthwise(let depthwise):
      // Bias and activation are applied as outputs are stored.
      depthwise.emit(k)
      return
    case .channelVectors(let transposed):
      // Bias, shortcut and activation are applied as outputs are stored.
      transposed.emit(k, a)
      return
    case .columns:
      let perSlice = Algorithm.columns.scratchSize(a, x: xShape, weight: wShape, output: k.type.shape) / s.columnSlices
      s.blocks.forEach(k, slices: s.columnSlices, work: s.blockWork, scratchPerSlice: perSlice) { k, first, count in
        let ir = k.ir
        ir.loop(a.groups) { group in
          let columns = blockColumns(
            k, a, x: xShape, weight: wShape, output: k.type.shape, input: k.inputs[0], scratch: k.scratch, first: first, count: count, group: group, shape: s)
          let w = ir.element(k.inputs[1], ir.affine(group, s.outPerGroup * s.depth))
          let out = groupStart(ir, k.output, first: first, group: group, channels: s.outChannels, perGroup: s.outPerGroup, plane: s.outPlane)
          let gathered = k.scratch.map { ir.element($0, ir.int(s.gatheredOffset(a, x: xShape))) }
          let product = count == 1 ? out : gathered!
          let n = count * s.outPlane
          if SkinnyProduct.applies(m: s.outPerGroup, n: n, k: s.depth), let scratch = k.scratch {
            let transposed = ir.element(scratch, ir.int(s.scratchSize(a, x: xShape)))
            SkinnyProduct(m: s.outPerGroup, n: n, k: s.depth, lanes: k.lanes).emit(k, a: w, b: columns, c: product, transposed: transposed)
          } else if n <= Algorithm.unpackedProductColumns {
            RegisterProduct(m: s.outPerGroup, n: n, k: s.depth, lda: s.depth, ldb: n, ldc: n, lanes: k.vectors.lanes(forRow: n), registers: k.vectors.registers)
              .emitSplittingRows(k, m: s.outPerGroup, a: w, b: columns, c: product)
          } else {
            ir.sgemm(pool: k.pool, m: s.outPerGroup, n: n, k: s.depth, a: w, lda: s.depth, b: columns, ldb: n, c: product, ldc: n)
          }
          if count > 1 {
            SampleBlocks.scatter(ir, from: product, rows: s.outPerGroup, positions: s.outPlane, count: count, into: out, sampleStride: s.outChannels * s.outPlane)
          }
        }
      }
    }
    Lowering.finish(k, bias: k.inputs.count > 2 ? k.inputs[2] : nil, channels: s.outChannels, inner: s.outPlane)
  }

  /// dW = Σₙ dy·im2col(x)ᵀ per group, a block of samples per product. Inputs: x, dy.
  static func weightGradient(_ k: Kernel, _ a: ConvWeightGradAttrs) {
    let ir = k.ir
    let (xShape, dyShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let s = ConvolutionShape(x: xShape, weight: k.type.shape, output: dyShape, groups: a.conv.groups)
    k.elementwise { _ in ir.float(0) }
    let slices = s.weightGradientSlices
    // Each slice's copy of dW (then its blocks' scratch) starts zeroed.
    let partials = slices == 1 ? nil : k.scratch
    let stride = s.weightGradientScratchSize(a.conv, x: xShape) / slices
    if let partials {
      ir.loop(slices) { slice in ir.loop(s.outChannels * s.depth) { i in ir.store(ir.float(0), partials, ir.add(ir.affine(slice, stride), i)) } }
    }
    s.blocks.forEach(k, slices: slices, work: s.blockWork, scratchPerSlice: stride) { k, first, count in
      let ir = k.ir
      let scratch = partials == nil ? k.scratch : k.scratch.map { ir.element($0, ir.int(s.weightGradientSize)) }
      ir.loop(a.conv.groups) { group in
        let columns = blockColumns(
          k, a.conv, x: xShape, weight: k.type.shape, output: dyShape, input: k.inputs[0], scratch: scratch, first: first, count: count, group: group,
          shape: s)
        var sliced = k
        sliced.scratch = scratch
        let dy = gatheredGradient(sliced, k.inputs[1], s, first: first, count: count, group: group, into: s.gatheredOffset(a.conv, x: xShape))
        let dw = ir.element(partials == nil ? k.output : k.scratch!, ir.affine(group, s.outPerGroup * s.depth))
        let n = count * s.outPlane
        ir.sgemm(pool: k.pool, transposeB: true, m: s.outPerGroup, n: s.depth, k: n, a: dy, lda: n, b: columns, ldb: n, c: dw, ldc: s.depth, beta: 1)
      }
    }
    if let partials {
      // dW = the slices' copies added in order (the same sums on any number of threads).
      ir.loop(slices) { slice in
        ir.loop(s.outChannels * s.depth) { i in
          ir.store(ir.fadd(ir.load(k.output, i), ir.load(partials, ir.add(ir.affine(slice, stride), i))), k.output, i)
        }
      }
    }
  }

  /// The output gradient `dy` of group `group` of samples `first`..<`first + count` as one
  /// [C_out / groups, count·P] matrix: gathered into `k`'s scratch at `offset` for more than one
  /// sample, where it is otherwise.
  private static func gatheredGradient(
    _ k: Kernel, _ dy: LLVMValueRef, _ s: ConvolutionShape, first: LLVMValueRef, count: Int, group: LLVMValueRef, into offset: Int
  ) -> LLVMValueRef {
    let ir = k.ir
    let start = groupStart(ir, dy, first: first, group: group, channels: s.outChannels, perGroup: s.outPerGroup, plane: s.outPlane)
    guard count > 1, let scratch = k.scratch else { return start }
    let gathered = ir.element(scratch, ir.int(offset))
    SampleBlocks.gather(ir, from: start, sampleStride: s.outChannels * s.outPlane, rows: s.outPerGroup, positions: s.outPlane, count: count, into: gathered)
    return gathered
  }

  /// dx = col2im(Wᵀ·dy) per group, a block of samples per product. Inputs: dy, W.
  static func inputGradient(_ k: Kernel, _ a: ConvInputGradAttrs) {
    let ir = k.ir
    let (dyShape, wShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let s = ConvolutionShape(x: a.inputShape, weight: wShape, output: dyShape, groups: a.conv.groups)
    let gather = IndexTables.convolutionGather(input: a.inputShape, output: dyShape, weight: wShape, attrs: a.conv)
    let table = transposedTable(ir, gather, positions: s.outPlane, taps: s.taps)
    guard k.scratch != nil else { return }
    k.elementwise { _ in ir.float(0) }
    s.blocks.forEach(k, slices: s.columnSlices, work: s.blockWork, scratchPerSlice: s.inputGradientScratchSize / s.columnSlices) { k, first, count in
      let ir = k.ir
      guard let columns = k.scratch else { return }
      ir.loop(a.conv.groups) { group in
        let n = count * s.outPlane
        let dy = gatheredGradient(k, k.inputs[0], s, first: first, count: count, group: group, into: s.inputGradientGatheredOffset)
        let w = ir.element(k.inputs[1], ir.affine(group, s.outPerGroup * s.depth))
        ir.sgemm(pool: k.pool, transposeA: true, m: s.depth, n: n, k: s.outPerGroup, a: w, lda: s.depth, b: dy, ldb: n, c: columns, ldc: n)
        ir.loop(count) { j in
          let dx = groupStart(ir, k.output, first: ir.add(first, j), group: group, channels: s.inChannels, perGroup: s.inPerGroup, plane: s.inPlane)
          col2im(
            ir, columns: ir.element(columns, ir.mul(j, ir.int(s.outPlane))), rowStride: n, table: table, destination: dx, channels: s.inPerGroup,
            taps: s.taps, positions: s.outPlane, destinationPlane: s.inPlane)
        }
      }
    }
  }

  /// y = col2im(Wᵀ·x) per sample and group through the transposed convolution's scatter table,
  /// then the bias.
  static func transposed(_ k: Kernel, _ a: ConvTransposeAttrs) {
    let ir = k.ir
    let (xShape, wShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let (inChannels, outChannels) = (xShape[1], k.type.shape[1])
    let (inPerGroup, outPerGroup) = (inChannels / a.groups, wShape[1])
    let (inPlane, outPlane, taps) = (xShape[2...].reduce(1, *), k.type.shape[2...].reduce(1, *), wShape[2...].reduce(1, *))
    let scatter = IndexTables.transposedConvolutionScatter(input: xShape, output: k.type.shape, weight: wShape, attrs: a)
    let table = transposedTable(ir, scatter, positions: inPlane, taps: taps)
    guard let columns = k.scratch else { return }
    k.elementwise { _ in ir.float(0) }
    forEachSampleAndGroup(k, batch: xShape[0], groups: a.groups) { _, sampleGroup, group in
      let x = ir.element(k.inputs[0], ir.affine(sampleGroup, inPerGroup * inPlane))
      let w = ir.element(k.inputs[1], ir.affine(group, inPerGroup * outPerGroup * taps))
      ir.sgemm(pool: k.pool, transposeA: true, m: outPerGroup * taps, n: inPlane, k: inPerGroup, a: w, lda: outPerGroup * taps, b: x, ldb: inPlane, c: columns, ldc: inPlane)
      let out = ir.element(k.output, ir.affine(sampleGroup, outPerGroup * outPlane))
      col2im(ir, columns: columns, rowStride: inPlane, table: table, destination: out, channels: outPerGroup, taps: taps, positions: inPlane, destinationPlane: outPlane)
    }
    Lowering.finish(k, bias: k.inputs.count > 2 ? k.inputs[2] : nil, channels: outChannels, inner: outPlane)
  }
}
