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
    taps == 1 && inPlane == outPlane && a.stride.allSatisfy { $0 == 1 } && (a.padding.before + a.padding.after).allSatisfy { $0 == 0 }
  }

  /// Spatial sizes of the input after padding.
  func paddedSpatial(_ x: [Int], _ a: ConvAttrs) -> [Int] {
    x[2...].indices.map { x[$0] + a.padding.before[$0 - 2] + a.padding.after[$0 - 2] }
  }

  /// Scratch for one group: its padded input (when padded) and its im2col matrix (none when
  /// pointwise).
  func scratchSize(_ a: ConvAttrs, x: [Int]) -> Int {
    if isPointwise(a) { return 0 }
    let padded = ConvolutionLowering.staysInside(a) ? 0 : inPerGroup * paddedSpatial(x, a).reduce(1, *)
    return padded + depth * outPlane
  }
}

/// Lifting of spatial lists to three axes (D, H, W), as the interpreter does.
enum WindowLift {
  static func lift(_ values: some Collection<Int>, fill: Int) -> [Int] { Array(repeating: fill, count: 3 - values.count) + values }
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
  static func staysInside(_ a: ConvAttrs) -> Bool {
    (a.padding.before + a.padding.after).allSatisfy { $0 == 0 }
  }

  /// `im2col` for windows that stay inside the input: loops over (c, kd, kh, kw, od, oh, ow) with
  /// the source index computed affinely; the innermost loop writes contiguously.
  static func im2colInside(
    _ ir: IRBuilder, source: LLVMValueRef, columns: LLVMValueRef, channels: Int, input: [Int], output: [Int], kernel: [Int],
    stride: [Int], dilation: [Int]
  ) {
    let (inPlane, outPlane) = (input.reduce(1, *), output.reduce(1, *))
    let taps = kernel.reduce(1, *)
    ir.loop(channels) { c in
      ir.loop(kernel[0]) { kd in
        ir.loop(kernel[1]) { kh in
          ir.loop(kernel[2]) { kw in
            let tap = ir.add(ir.mul(ir.add(ir.mul(kd, ir.int(kernel[1])), kh), ir.int(kernel[2])), kw)
            let row = ir.mul(ir.add(ir.mul(c, ir.int(taps)), tap), ir.int(outPlane))
            ir.loop(output[0]) { od in
              let id = ir.add(ir.mul(od, ir.int(stride[0])), ir.mul(kd, ir.int(dilation[0])))
              ir.loop(output[1]) { oh in
                let ih = ir.add(ir.mul(oh, ir.int(stride[1])), ir.mul(kh, ir.int(dilation[1])))
                let sourceRow = ir.add(ir.mul(c, ir.int(inPlane)), ir.mul(ir.add(ir.mul(id, ir.int(input[1])), ih), ir.int(input[2])))
                let target = ir.add(row, ir.mul(ir.add(ir.mul(od, ir.int(output[1])), oh), ir.int(output[2])))
                let start = ir.add(sourceRow, ir.mul(kw, ir.int(dilation[2])))
                ir.loop(output[2]) { ow in
                  ir.store(ir.load(source, ir.add(start, ir.mul(ow, ir.int(stride[2])))), columns, ir.add(target, ow))
                }
              }
            }
          }
        }
      }
    }
  }

  /// im2col for one group: affine loops straight from the input when no window leaves it;
  /// otherwise the group's channels are first padded into scratch (zeros, or the edge values
  /// padding modes make up, through the interpreter's pad table) and im2col reads the padded copy
  /// affinely. `scratch` holds the padded copy (if any) and then the columns; returns the columns.
  static func emitIm2col(
    _ ir: IRBuilder, _ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], source: LLVMValueRef, scratch: LLVMValueRef, shape s: ConvolutionShape
  ) -> LLVMValueRef {
    var input = Array(x[2...])
    var from = source
    var columns = scratch
    if !staysInside(a) {
      let padded = s.paddedSpatial(x, a)
      let paddedPlane = padded.reduce(1, *)
      let pad = PadAttrs(before: [0] + a.padding.before, after: [0] + a.padding.after, mode: a.paddingMode)
      let table = ir.table(IndexTables.pad(input: [1] + input, output: [1] + padded, attrs: pad))
      ir.loop(s.inPerGroup) { c in
        ir.loop(paddedPlane) { q in
          let index = ir.loadInt(table, q)
          let valid = ir.icmp(LLVMIntSGE, index, ir.int(0))
          let value = ir.load(source, ir.add(ir.mul(c, ir.int(s.inPlane)), ir.select(valid, index, ir.int(0))))
          ir.store(ir.select(valid, value, ir.float(0)), scratch, ir.add(ir.mul(c, ir.int(paddedPlane)), q))
        }
      }
      from = scratch
      columns = ir.element(scratch, ir.int(s.inPerGroup * paddedPlane))
      input = padded
    }
    im2colInside(
      ir, source: from, columns: columns, channels: s.inPerGroup, input: WindowLift.lift(input, fill: 1),
      output: WindowLift.lift(output[2...], fill: 1), kernel: WindowLift.lift(weight[2...], fill: 1),
      stride: WindowLift.lift(a.stride, fill: 1), dilation: WindowLift.lift(a.dilation, fill: 1))
    return columns
  }

  /// The adjoint of im2col through a tap table: destination[c·destinationPlane + table[t·P + p]] += columns[(c·taps + t)·P + p].
  static func col2im(_ ir: IRBuilder, columns: LLVMValueRef, table: LLVMValueRef, destination: LLVMValueRef, channels: Int, taps: Int, positions: Int, destinationPlane: Int) {
    ir.loop(channels) { c in
      ir.loop(taps) { t in
        let row = ir.mul(ir.add(ir.mul(c, ir.int(taps)), t), ir.int(positions))
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

  /// `body(n·groups + g, g)` for every sample n and group g, as one loop at run time (code per
  /// group would grow with the channel count of depthwise convolutions). Channels are grouped
  /// contiguously, so sample n's group g starts at (n·groups + g) times a group's size.
  static func forEachSampleAndGroup(_ ir: IRBuilder, batch: Int, groups: Int, _ body: (_ sampleGroup: LLVMValueRef, _ group: LLVMValueRef) -> Void) {
    ir.loop(batch * groups) { sampleGroup in
      body(sampleGroup, groups == 1 ? ir.int(0) : LLVMBuildURem(ir.builder, sampleGroup, ir.int(groups), "")!)
    }
  }

  /// How a forward convolution runs, decided in one place for its scratch and its code.
  enum Algorithm {
    case winograd(WinogradConvolution)
    case depthwise(DepthwiseConvolution)
    case direct(DirectConvolution)
    /// W·im2col(x) per sample and group (the input itself when pointwise), or a skinny product
    /// for maps of at most 8 positions.
    case columns

    init(_ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], lanes: Int) {
      let s = ConvolutionShape(x: x, weight: weight, output: output, groups: a.groups)
      if let winograd = WinogradConvolution(a, x: x, weight: weight, output: output, lanes: lanes) {
        self = .winograd(winograd)
      } else if DepthwiseConvolution.applies(a, s) {
        self = .depthwise(DepthwiseConvolution(a, s, x: x, weight: weight, output: output))
      } else if DirectConvolution.applies(a, s, x: x) {
        self = .direct(DirectConvolution(a, s, x: x, weight: weight, output: output, targetLanes: lanes))
      } else {
        self = .columns
      }
    }
  }

  /// y = conv(x, W) + b, with the kernel's activation, by `Algorithm`.
  static func forward(_ k: Kernel, _ a: ConvAttrs) {
    let ir = k.ir
    let (xShape, wShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let s = ConvolutionShape(x: xShape, weight: wShape, output: k.type.shape, groups: a.groups)
    switch Algorithm(a, x: xShape, weight: wShape, output: k.type.shape, lanes: k.lanes) {
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
    case .columns:
      forEachSampleAndGroup(ir, batch: s.batch, groups: a.groups) { sampleGroup, group in
        let x = ir.element(k.inputs[0], ir.affine(sampleGroup, s.inPerGroup * s.inPlane))
        var columns = x
        if !s.isPointwise(a), let scratch = k.scratch {
          columns = emitIm2col(ir, a, x: xShape, weight: wShape, output: k.type.shape, source: x, scratch: scratch, shape: s)
        }
        let w = ir.element(k.inputs[1], ir.affine(group, s.outPerGroup * s.depth))
        let out = ir.element(k.output, ir.affine(sampleGroup, s.outPerGroup * s.outPlane))
        if SkinnyProduct.applies(m: s.outPerGroup, n: s.outPlane, k: s.depth), let scratch = k.scratch {
          let transposed = ir.element(scratch, ir.int(s.scratchSize(a, x: xShape)))
          SkinnyProduct.emit(ir, a: w, b: columns, c: out, transposed: transposed, m: s.outPerGroup, n: s.outPlane, k: s.depth)
        } else {
          ir.sgemm(m: s.outPerGroup, n: s.outPlane, k: s.depth, a: w, lda: s.depth, b: columns, ldb: s.outPlane, c: out, ldc: s.outPlane)
        }
      }
    }
    Lowering.finish(k, bias: k.inputs.count > 2 ? k.inputs[2] : nil, channels: s.outChannels, inner: s.outPlane)
  }

  /// dW = Σₙ dy·im2col(x)ᵀ per group. Inputs: x, dy.
  static func weightGradient(_ k: Kernel, _ a: ConvWeightGradAttrs) {
    let ir = k.ir
    let (xShape, dyShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let s = ConvolutionShape(x: xShape, weight: k.type.shape, output: dyShape, groups: a.conv.groups)
    k.elementwise { _ in ir.float(0) }
    forEachSampleAndGroup(ir, batch: s.batch, groups: a.conv.groups) { sampleGroup, group in
      let x = ir.element(k.inputs[0], ir.affine(sampleGroup, s.inPerGroup * s.inPlane))
      var columns = x
      if !s.isPointwise(a.conv), let scratch = k.scratch {
        columns = emitIm2col(ir, a.conv, x: xShape, weight: k.type.shape, output: dyShape, source: x, scratch: scratch, shape: s)
      }
      let dy = ir.element(k.inputs[1], ir.affine(sampleGroup, s.outPerGroup * s.outPlane))
      let dw = ir.element(k.output, ir.affine(group, s.outPerGroup * s.depth))
      ir.sgemm(transposeB: true, m: s.outPerGroup, n: s.depth, k: s.outPlane, a: dy, lda: s.outPlane, b: columns, ldb: s.outPlane, c: dw, ldc: s.depth, beta: 1)
    }
  }

  /// dx = col2im(Wᵀ·dy) per sample and group. Inputs: dy, W.
  static func inputGradient(_ k: Kernel, _ a: ConvInputGradAttrs) {
    let ir = k.ir
    let (dyShape, wShape) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let s = ConvolutionShape(x: a.inputShape, weight: wShape, output: dyShape, groups: a.conv.groups)
    let gather = IndexTables.convolutionGather(input: a.inputShape, output: dyShape, weight: wShape, attrs: a.conv)
    let table = transposedTable(ir, gather, positions: s.outPlane, taps: s.taps)
    guard let columns = k.scratch else { return }
    k.elementwise { _ in ir.float(0) }
    forEachSampleAndGroup(ir, batch: s.batch, groups: a.conv.groups) { sampleGroup, group in
      let dy = ir.element(k.inputs[0], ir.affine(sampleGroup, s.outPerGroup * s.outPlane))
      let w = ir.element(k.inputs[1], ir.affine(group, s.outPerGroup * s.depth))
      ir.sgemm(transposeA: true, m: s.depth, n: s.outPlane, k: s.outPerGroup, a: w, lda: s.depth, b: dy, ldb: s.outPlane, c: columns, ldc: s.outPlane)
      let dx = ir.element(k.output, ir.affine(sampleGroup, s.inPerGroup * s.inPlane))
      col2im(ir, columns: columns, table: table, destination: dx, channels: s.inPerGroup, taps: s.taps, positions: s.outPlane, destinationPlane: s.inPlane)
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
    forEachSampleAndGroup(ir, batch: xShape[0], groups: a.groups) { sampleGroup, group in
      let x = ir.element(k.inputs[0], ir.affine(sampleGroup, inPerGroup * inPlane))
      let w = ir.element(k.inputs[1], ir.affine(group, inPerGroup * outPerGroup * taps))
      ir.sgemm(transposeA: true, m: outPerGroup * taps, n: inPlane, k: inPerGroup, a: w, lda: outPerGroup * taps, b: x, ldb: inPlane, c: columns, ldc: inPlane)
      let out = ir.element(k.output, ir.affine(sampleGroup, outPerGroup * outPlane))
      col2im(ir, columns: columns, table: table, destination: out, channels: outPerGroup, taps: taps, positions: inPlane, destinationPlane: outPlane)
    }
    Lowering.finish(k, bias: k.inputs.count > 2 ? k.inputs[2] : nil, channels: outChannels, inner: outPlane)
  }
}
