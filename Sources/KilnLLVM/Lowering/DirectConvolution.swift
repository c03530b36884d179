import CLLVM
import Kiln

/// Convolution as direct, register-blocked loops: no im2col matrix and no GEMM.
///
/// Each group's input is first copied into scratch, padded (any padding mode, through the
/// interpreter's pad table) and split by the width stride into phases, so that every tap reads a
/// run of consecutive floats: for stride s and dilation d, tap kw of output column ow reads phase
/// (kw·d) mod s at column ow + ⌊kw·d / s⌋. A micro-kernel then keeps a tile of outputs in vector
/// registers — `channels` output channels × `rows` output rows × `vectors` vectors of `lanes`
/// consecutive columns — and, for every input channel and tap, loads the tile's input vectors once
/// and multiplies them by one broadcast weight per output channel (fused multiply-adds). Tiles
/// are split across threads by output-channel block and row block; each output is computed by the
/// same instructions whatever the split, so results do not depend on the thread count.
///
/// A pointwise convolution (1×1, stride 1, no padding) reads its input where it is: each
/// channel's plane as one row, the last partial vector with a masked load. A strided 1×1 one
/// (ResNet's downsampling) reads the positions its stride picks, first gathered into scratch as
/// such a plane per channel.
struct DirectConvolution {
  /// The convolution's attributes (for a pointwise one, those of its one-row form).
  let a: ConvAttrs
  let s: ConvolutionShape
  /// Lifted to three axes (D, H, W): spatial sizes of the input, padded input, output and filter.
  let input, padded, output, kernel, stride, dilation: [Int]
  /// Floats per vector, and the tile: output channels × rows × vectors per row.
  let lanes, channels, rows, vectors: Int
  /// Width of one phase of a padded input row in scratch (the columns the tiles read, rounded up
  /// to whole vectors).
  let phaseWidth: Int
  /// Whether each channel's plane is read as one row (1×1 without padding): in place, or
  /// `gathered` first into scratch.
  let planesAsRows: Bool
  /// For a strided 1×1 convolution: the input's and output's spatial sizes and the stride
  /// (lifted to three axes), the positions it picks gathered into scratch.
  let gathered: (input: [Int], output: [Int], stride: [Int])?
  /// Whether each output plane is one row of positions (`flattens`), the input prepared in the
  /// `shifted` layout.
  let flattened: Bool

  /// Whether the direct kernel runs `a` on shapes `s` on a target with `lanes` floats per vector:
  /// not depthwise (which has its own loops), more than one tap or 1×1 without padding (stride 1,
  /// or strided: gathered) with at most `pointwiseChannels` input channels per group (other 1×1
  /// convolutions are GEMMs), more than a few output positions (small maps go to the skinny
  /// product), and rows that fill more than half its vectors: where output rows leave half the
  /// lanes or more empty (4-wide rows in 8 lanes, 7- or 8-wide in 16, single outputs) and several
  /// samples share a GEMM (`SampleBlocks`), im2col + GEMM is faster (VGG-11-CIFAR's 4×4 layers at
  /// batch 64 on AVX2: 42 GFLOPS direct, 59–72 as GEMM; its 8×8 rows fill 8 lanes and run at 85
  /// direct, 64–71 as GEMM; LeNet-5's 5×5 → 1×1 layer at batch 64: 8 GFLOPS direct).
  static func applies(_ a: ConvAttrs, _ s: ConvolutionShape, x: [Int], output: [Int], lanes: Int) -> Bool {
    let planeAsRow = readsPlanesAsRows(a, s)
    let prepared = planeAsRow ? 0 : s.inPerGroup * s.paddedSpatial(x, a).reduce(1, *)
    let row = planeAsRow ? s.outPlane : output.last!
    let fillsVectors = 2 * row > (row + lanes - 1) / lanes * lanes
    return !DepthwiseConvolution.applies(a, s) && (s.taps > 1 || (planeAsRow && s.inPerGroup <= pointwiseChannels))
      && prepared <= preparedInputLimit && !SkinnyProduct.applies(m: s.outPerGroup, n: s.outPlane, k: s.depth)
      && (fillsVectors || s.blocks.size == 1)
  }

  /// Whether `a` is a 1×1 convolution without padding, whose output planes are read as rows of
  /// input positions (in place with stride 1, gathered otherwise).
  static func readsPlanesAsRows(_ a: ConvAttrs, _ s: ConvolutionShape) -> Bool { s.taps == 1 && ConvolutionLowering.staysInside(a) }

  /// The most input channels of a pointwise convolution the direct kernel takes on, in chunks
  /// of columns (`tilesPerChunk`); beyond, OpenBLAS blocks them better (ResNet-50's 2048-channel
  /// layers). Batch 1, Zen 4, against 512: MobileNet v2's 576 → 96 layer at 14×14 0.240 → 0.211
  /// ms, DenseNet-121 (its 1×1 layers of 544–1,024 channels) 48.3–50.5 → 46.6–47.3 ms on one
  /// thread and 30.0–32.7 → 28.9–31.4 on two, ResNet-50 (1,024-channel layers) unchanged.
  static let pointwiseChannels = 1024

  /// The largest output plane computed as one run of positions (`flattens`): a plane is then
  /// one row, and rows are what the kernel splits across threads, so larger ones keep their rows.
  static let flattenedPlane = 1024

  /// The most floats of prepared input (one group, padded) the kernel takes on: every tile of
  /// output channels reads all of it again, so it must stay in cache. DeepLab's atrous 3×3
  /// convolutions (2048 channels padded by 12–36 around 28×28: 22–82 MB) ran at 4–7 GFLOPS
  /// here and at ~50 as im2col + GEMM, which blocks for the cache.
  static let preparedInputLimit = 1 << 20

  /// The plan for a convolution of `x` by `weight` into `output` on the vector unit `unit`, in
  /// the vectors it takes for the output's rows (`VectorUnit.lanes(forRow:)`).
  init(_ a: ConvAttrs, _ s: ConvolutionShape, x: [Int], weight: [Int], output: [Int], vectors unit: VectorUnit) {
    self.s = s
    planesAsRows = Self.readsPlanesAsRows(a, s)
    gathered = planesAsRows && !s.isPointwise(a)
      ? (WindowGeometry.lift(x[2...], fill: 1), WindowGeometry.lift(output[2...], fill: 1), WindowGeometry.lift(a.stride, fill: 1)) : nil
    self.a = planesAsRows ? ConvAttrs(stride: [1], padding: .symmetric(0, rank: 1), dilation: [1], groups: a.groups) : a
    input = planesAsRows ? [1, 1, s.outPlane] : WindowGeometry.lift(x[2...], fill: 1)
    kernel = WindowGeometry.lift(weight[2...], fill: 1)
    stride = WindowGeometry.lift(self.a.stride, fill: 1)
    dilation = WindowGeometry.lift(self.a.dilation, fill: 1)
    padded = planesAsRows ? input : WindowGeometry.lift(s.paddedSpatial(x, a), fill: 1)
    let lifted = WindowGeometry.lift(output[2...], fill: 1)
    flattened = !planesAsRows && Self.flattens(lifted, unit: unit)
      && s.inPerGroup * kernel[2] * padded[0] * Self.shiftedRows(padded[1], stride: stride[1]) * lifted[2] <= Self.preparedInputLimit
    // A plane read as a row (in place or gathered), or flattened, is one row.
    self.output = planesAsRows ? [1, 1, s.outPlane] : flattened ? [lifted[0], 1, lifted[1] * lifted[2]] : lifted
    let width = self.output[2]
    lanes = unit.lanes(forRow: width)
    let perRow = (width + lanes - 1) / lanes
    (channels, rows, vectors) = Self.tiling(channels: s.outPerGroup, rows: self.output[1], vectors: perRow, registers: unit.registers)
    phaseWidth = planesAsRows ? s.outPlane : flattened ? lifted[2] : perRow * lanes + (kernel[2] - 1) * dilation[2] / stride[2]
  }

  /// Whether output planes are better computed as one run of positions, row after row, than row
  /// by row: for planes of at most `flattenedPlane` positions, when rows leave more lanes idle
  /// (rows of 10 fill 10 of 16; a 10×10 plane fills 100 of 104 in vectors of 8; ResNet's stride-2
  /// 3×3 layers with 28-wide rows fill 28 of 32, their 28×28 planes all). The input is then copied
  /// once per filter column (`PreparedInput.Layout.shifted`, its rows split by the height stride),
  /// so only a clear gain in filled lanes (a tenth) counts. LeNet-5 at batch 64, one thread, Zen 4:
  /// its 6 → 16 5×5 layer at 10×10 0.478 → 0.315 ms, its 1 → 6 layer at 28×28 0.217 → 0.183 ms.
  static func flattens(_ output: [Int], unit: VectorUnit) -> Bool {
    guard output[1] > 1, output[1] * output[2] <= flattenedPlane else { return false }
    func filled(_ width: Int) -> Double {
      let lanes = unit.lanes(forRow: width)
      return Double(width) / Double((width + lanes - 1) / lanes * lanes)
    }
    return filled(output[1] * output[2]) > 1.1 * filled(output[2])
  }

  /// Padded rows of a flattened convolution's prepared input: `rows` rounded up to whole groups of
  /// the height stride (the shifted layout splits them by it).
  static func shiftedRows(_ rows: Int, stride: Int) -> Int { (rows + stride - 1) / stride * stride }

  /// Vector multiply-adds of one sample's group.
  var workPerGroup: Int { s.outPerGroup * s.outPlane * s.depth / lanes }

  /// Slices of samples (and groups) that run in parallel, each with its own prepared input, when
  /// one sample's group has too little work to split (LeNet-5's convolutions at batch 64).
  var slices: Int { Kernel.slices(work: workPerGroup, count: s.batch * s.groups) }

  /// Scratch: a prepared (or gathered) input per slice, unless the input is read in place;
  /// flattened planes' last vectors read up to a vector past the last copy.
  var scratchSize: Int { slices * perSlice + (flattened ? lanes : 0) }

  /// Scratch floats of one slice: its prepared or gathered input.
  var perSlice: Int { gathered != nil ? s.inPerGroup * s.outPlane : planesAsRows ? 0 : prepared.size }

  /// Whole tiles of a row (`vectors` vectors each) that one parallel iteration covers. A
  /// pointwise convolution's row is its whole plane, and each block of output channels sweeps
  /// all its input channels: chunks of columns whose inputs take 512 KiB (a Zen 3's L2, a
  /// quarter of a Xeon's), every block of channels in turn on one chunk, keep them from being
  /// read from memory again for each block. ResNet-50 at batch 1, one thread, Xeon, per layer:
  /// the 256 → 64 1×1 layers at 56² (3.2 MB of input) 2.0–2.2 → 1.07–1.25 ms, 256 → 128 3.0 →
  /// 1.7–2.1 ms (1 MiB chunks: 1.35–2.06 and 1.84–2.46). A flattened plane is chunked the same
  /// way, each tile reading every tap's run: ResNet-50's 256-channel stride-2 3×3 layer (14×14
  /// out, Zen 4) 2.65–2.67 ms in whole planes, 2.39–2.47 in chunks. Other convolutions take whole rows.
  var tilesPerChunk: Int {
    let tiles = max(1, output[2] / lanes / vectors)
    guard planesAsRows || flattened else { return tiles }
    return min(tiles, max(1, (1 << 17) / (s.inPerGroup * (flattened ? s.taps : 1) * vectors * lanes)))
  }

  /// The tile (output channels × rows × vectors) that covers `channels` × `rows` × `vectors`
  /// fastest by a simple cost model, counting the partial tiles at the edges: a tile step of c·r·v
  /// FMAs needs r·v vector loads and c broadcasts, and a core does two of either per cycle, so a
  /// step costs max(c·r·v, r·v + c) half-cycles, plus one for the loop. The c·r·v accumulators,
  /// the r·v input vectors and the broadcast weight must fit in the target's `registers`, and c
  /// is at most half of them: LLVM loads a step's c broadcast weights before its FMAs, and with
  /// more it spills (VGG-11-CIFAR's 512 → 512 3×3 layer at 4×4, 16 columns in one vector, one
  /// thread, Zen 4: 30 channels a tile 1.32 ms, 24 0.94, 12–20 0.68; the whole model 4.24 → 3.55
  /// ms).
  static func tiling(channels: Int, rows: Int, vectors: Int, registers: Int) -> (channels: Int, rows: Int, vectors: Int) {
    /// (size, count) of the blocks that cover `total` in blocks of `size`.
    func blocks(_ total: Int, _ size: Int) -> [(size: Int, count: Int)] {
      [(size, total / size)] + (total % size == 0 ? [] : [(total % size, 1)])
    }
    var best = (cost: Int.max, tile: (channels: 1, rows: 1, vectors: 1))
    for c in 1...min(channels, registers / 2) {
      for r in 1...min(rows, (registers - 1) / (c + 1)) {
        for v in 1...min(vectors, (registers - 1) / ((c + 1) * r)) {
          var cost = 0
          for (cc, cn) in blocks(channels, c) {
            for (rr, rn) in blocks(rows, r) {
              for (vv, vn) in blocks(vectors, v) { cost += cn * rn * vn * (max(cc * rr * vv, rr * vv + cc) + 1) }
            }
          }
          if cost < best.cost { best = (cost, (c, r, v)) }
        }
      }
    }
    return best.tile
  }

  /// The group's input, padded and split into the width stride's phases.
  var prepared: PreparedInput {
    PreparedInput(
      a, x: [1, s.inPerGroup] + Array(input.suffix(a.stride.count)), channels: s.inPerGroup, depth: padded[0],
      rows: flattened ? Self.shiftedRows(padded[1], stride: stride[1]) : padded[1], phases: flattened ? kernel[2] : stride[2], phaseWidth: phaseWidth,
      layout: flattened ? .shifted(stride: stride[2], dilation: dilation[2], rowStride: stride[1]) : .phases)
  }

  /// y = f(conv(x, W) + b) into `k.output`, with f the kernel's fused activation.
  func emit(_ k: Kernel) {
    // Only a pointwise convolution read in place runs without scratch.
    guard (planesAsRows && gathered == nil) || k.scratch != nil else { return }
    let prepared = self.prepared
    let (blocks, rowBlocks) = ((s.outPerGroup + channels - 1) / channels, (output[1] + rows - 1) / rows)
    let (tilesPerChunk, wholeTiles) = (self.tilesPerChunk, output[2] / lanes / vectors)
    let chunks = max(1, (wholeTiles + tilesPerChunk - 1) / tilesPerChunk)
    // Vector multiply-adds per iteration of the parallel loop, on average (about an element's
    // worth of time each).
    let iterations = chunks * blocks * output[0] * rowBlocks
    let work = (workPerGroup + iterations - 1) / iterations
    ConvolutionLowering.forEachSampleAndGroup(
      k, batch: s.batch, groups: s.groups, slices: slices, work: workPerGroup, scratchPerSlice: perSlice
    ) { k, sampleGroup, group in
      let ir = k.ir
      var x = ir.element(k.inputs[0], ir.affine(sampleGroup, s.inPerGroup * s.inPlane))
      if let gathered {
        ConvolutionLowering.im2colInside(
          k, source: x, columns: k.scratch!, rowStride: s.outPlane, channels: s.inPerGroup, input: gathered.input,
          output: gathered.output, kernel: [1, 1, 1], stride: gathered.stride, dilation: [1, 1, 1])
        x = k.scratch!
      } else if !planesAsRows {
        prepared.emit(k, source: x)
      }
      let weights = ir.element(k.inputs[1], ir.affine(group, s.outPerGroup * s.depth))
      let out = ir.element(k.output, ir.affine(sampleGroup, s.outPerGroup * s.outPlane))
      let bias = k.inputs.count > 2 ? [ir.element(k.inputs[2], ir.affine(group, s.outPerGroup))] : []
      let residual = k.residual.map { [ir.element($0, ir.affine(sampleGroup, s.outPerGroup * s.outPlane))] } ?? []
      k.parallelLoop(iterations, work: work, capturing: [weights, out, x] + bias + residual) { k, captured, index in
        let ir = k.ir
        let perChunk = blocks * output[0] * rowBlocks
        let (chunk, inChunk) = (ir.udiv(index, ir.int(perChunk)), ir.urem(index, ir.int(perChunk)))
        let block = ir.udiv(inChunk, ir.int(output[0] * rowBlocks))
        let within = ir.urem(inChunk, ir.int(output[0] * rowBlocks))
        let depth = ir.udiv(within, ir.int(rowBlocks))
        let rowBlock = ir.urem(within, ir.int(rowBlocks))
        let origin = Origin(channel: ir.mul(block, ir.int(channels)), depth: depth, row: ir.mul(rowBlock, ir.int(rows)))
        // The last channel block and the last row block may be partial: each case gets its own
        // fully unrolled tiles.
        let channelCases = [(channels, ir.icmp(LLVMIntULT, block, ir.int(s.outPerGroup / channels)))]
          + (s.outPerGroup % channels == 0 ? [] : [(s.outPerGroup % channels, ir.icmp(LLVMIntEQ, block, ir.int(s.outPerGroup / channels)))])
        let rowCases = [(rows, ir.icmp(LLVMIntULT, rowBlock, ir.int(output[1] / rows)))]
          + (output[1] % rows == 0 ? [] : [(output[1] % rows, ir.icmp(LLVMIntEQ, rowBlock, ir.int(output[1] / rows)))])
        for (channelCount, channelCase) in channelCases {
          for (rowCount, rowCase) in rowCases {
            ir.when(ir.and(channelCase, rowCase)) {
              let operands = Operands(
                prepared: planesAsRows ? captured[2] : k.scratch!, weights: captured[0], out: captured[1], bias: bias.isEmpty ? nil : captured[3],
                residual: residual.isEmpty ? nil : captured[3 + bias.count])
              row(k, operands, prepared, origin: origin, chunk: chunk, chunks: chunks, channels: channelCount, rows: rowCount)
            }
          }
        }
      }
    }
  }

  /// Where a tile starts: its first output channel (within the group), depth and row.
  struct Origin {
    let channel, depth, row: LLVMValueRef
  }

  /// A group's prepared input, weights, output, bias and fused shortcut (if any).
  struct Operands {
    let prepared, weights, out: LLVMValueRef
    let bias, residual: LLVMValueRef?
  }

  /// The tiles of chunk `chunk` (of `chunks`) of one block of output channels and rows, left to
  /// right: its whole tiles in a loop, then, in the last chunk, the remaining vectors (the last
  /// one possibly partial).
  private func row(
    _ k: Kernel, _ operands: Operands, _ prepared: PreparedInput, origin: Origin, chunk: LLVMValueRef, chunks: Int, channels: Int, rows: Int
  ) {
    let ir = k.ir
    let (whole, partial) = (output[2] / lanes, output[2] % lanes)
    let last = ir.icmp(LLVMIntEQ, chunk, ir.int(chunks - 1))
    let first = ir.mul(chunk, ir.int(tilesPerChunk))
    let end = ir.select(last, ir.int(whole / vectors), ir.add(first, ir.int(tilesPerChunk)))
    ir.loop(from: first, to: end) { tile in
      self.tile(k, operands, prepared, origin: origin, column: ir.mul(tile, ir.int(vectors * lanes)),
        channels: channels, rows: rows, vectors: vectors, lastLanes: lanes)
    }
    let remaining = whole % vectors + (partial > 0 ? 1 : 0)
    if remaining > 0 {
      ir.when(last) {
        tile(k, operands, prepared, origin: origin, column: ir.int(whole / vectors * vectors * lanes),
          channels: channels, rows: rows, vectors: remaining, lastLanes: partial > 0 ? partial : lanes)
      }
    }
  }

  /// One tile: `channels` × `rows` × `vectors` accumulators summed over input channels and taps,
  /// then stored (only `lastLanes` lanes of the last vector of each row).
  private func tile(
    _ k: Kernel, _ operands: Operands, _ prepared: PreparedInput, origin: Origin, column: LLVMValueRef,
    channels: Int, rows: Int, vectors: Int, lastLanes: Int
  ) {
    let ir = k.ir
    let type = ir.vectorType(lanes)
    let accumulators = (0..<channels * rows * vectors).map { _ in ir.stackSlot(type: type) }
    for slot in accumulators { ir.store(ir.zeroVector(lanes), to: slot) }
    func accumulator(_ channel: Int, _ row: Int, _ vector: Int) -> LLVMValueRef { accumulators[(channel * rows + row) * vectors + vector] }
    ir.loop(s.inPerGroup) { c in
      ir.loop(kernel[0]) { kd in
        let depth = ir.add(ir.affine(origin.depth, stride[0]), ir.affine(kd, dilation[0]))
        ir.loop(kernel[1]) { kh in
          // Each tile row's first prepared float for this channel and tap row.
          let rowStarts = (0..<rows).map { row in
            let height = ir.add(ir.affine(ir.add(origin.row, ir.int(row)), stride[1]), ir.affine(kh, dilation[1]))
            return prepared.index(ir, channel: c, depth: depth, row: height, phase: 0, column: column)
          }
          let filter = ir.affine(ir.add(ir.affine(ir.add(ir.affine(c, kernel[0]), kd), kernel[1]), kh), kernel[2])
          for kw in 0..<kernel[2] {
            let offset = flattened ? kw * prepared.shiftedCopy : (kw * dilation[2]) % stride[2] * phaseWidth + kw * dilation[2] / stride[2]
            // Read as rows (in place or gathered), nothing follows the last channel's plane: its
            // partial vector is masked.
            let values = rowStarts.map { start in
              (0..<vectors).map {
                ir.loadVector(
                  operands.prepared, ir.add(start, ir.int(offset + $0 * lanes)), lanes: lanes, count: planesAsRows && $0 == vectors - 1 ? lastLanes : nil)
              }
            }
            for channel in 0..<channels {
              let weightIndex = ir.add(ir.affine(ir.add(origin.channel, ir.int(channel)), s.depth), ir.add(filter, ir.int(kw)))
              let weight = ir.splat(ir.load(operands.weights, weightIndex), lanes: lanes)
              for row in 0..<rows {
                for vector in 0..<vectors {
                  let slot = accumulator(channel, row, vector)
                  ir.store(ir.vectorFMA(weight, values[row][vector], ir.load(type, from: slot)), to: slot)
                }
              }
            }
          }
        }
      }
    }
    for channel in 0..<channels {
      let outChannel = ir.add(origin.channel, ir.int(channel))
      let shift = operands.bias.map { ir.splat(ir.load($0, outChannel), lanes: lanes) }
      for row in 0..<rows {
        let plane = ir.add(ir.mul(outChannel, ir.int(output[0])), origin.depth)
        let start = ir.add(ir.affine(ir.add(ir.affine(plane, output[1]), ir.add(origin.row, ir.int(row))), output[2]), column)
        for vector in 0..<vectors {
          let sum = ir.load(type, from: accumulator(channel, row, vector))
          let (at, count) = (ir.add(start, ir.int(vector * lanes)), vector == vectors - 1 ? lastLanes : lanes)
          ir.storeVector(k.finished(shift.map { ir.fadd(sum, $0) } ?? sum, residual: operands.residual, at: at, lanes: lanes, count: count), operands.out, at, count: count)
        }
      }
    }
  }
}
