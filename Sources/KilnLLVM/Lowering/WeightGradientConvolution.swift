import CLLVM
import Kiln

/// The weight gradient of a convolution, dW[o][c][t] = Σ over samples and output positions p of
/// dy[o][p]·x[c][p·stride + t·dilation], as register-blocked loops with no im2col matrix and no
/// GEMM.
///
/// A block of samples' inputs is prepared as for the forward kernels (`PreparedInput`: padded,
/// split into the width stride's phases) with `lanes` channels interleaved, so that one
/// position's `lanes` channels are one vector and a tap's run of output columns reads
/// consecutive vectors. A tile keeps `channels` output channels × `vectors` vectors of input
/// channels of one tap in registers and, for every output position of a chunk of rows, loads the
/// tile's input vectors once and multiplies them by one broadcast output gradient per output
/// channel (fused multiply-adds), tap after tap. Where the whole batch's positions make one
/// chunk, a tile's sums go straight to dW. Otherwise they live between chunks in a transposed
/// gradient in scratch — [c / lanes][o][t][lanes], so that a tile's taps, and then the next
/// tile's, read and write it sequentially: the first chunk's tiles start from zero, the others
/// load it, and the last chunk's tiles store to dW.
///
/// Threads split the output channels (groups of tiles); each element is summed by one thread in
/// one order (sample, row, column), so results do not depend on the thread count.
struct WeightGradientConvolution {
  let s: ConvolutionShape
  /// Lifted to three axes (D, H, W): spatial sizes of the output gradient and of the filter.
  let output, kernel, stride, dilation: [Int]
  /// Floats per vector, and the tile: output channels × vectors of input channels.
  let lanes, channels, vectors: Int
  /// One sample's group of input, prepared.
  let prepared: PreparedInput
  let blocks: SampleBlocks
  /// Rows of output positions (over depth and height) a chunk covers: about `chunkPositions`.
  let chunkLines: Int

  /// The plan for the weight gradient `a` of a convolution of `x` (its output gradient `dy`, its
  /// weights `weight`'s shape) on a target with `targetLanes` floats per vector; nil where
  /// im2col + GEMM stays: input channels per group not a multiple of 8 (the first layer's 1 or 3
  /// channels would fill few lanes), maps of fewer than `minimumPositions` outputs, or a prepared
  /// input too large for the caches.
  init?(_ a: ConvWeightGradAttrs, x: [Int], dy: [Int], weight: [Int], lanes targetLanes: Int) {
    let c = a.conv
    s = ConvolutionShape(x: x, weight: weight, output: dy, groups: c.groups)
    guard s.inPerGroup % 8 == 0, s.outPlane >= Self.minimumPositions else { return nil }
    lanes = s.inPerGroup % targetLanes == 0 ? targetLanes : 8
    let window = WindowGeometry(c, x: x, output: dy, weight: weight)
    (output, kernel, stride, dilation) = (window.output, window.kernel, window.stride, window.dilation)
    prepared = window.preparedInput(c, x: x, shape: s, channels: s.inPerGroup, channelBlock: lanes)
    guard prepared.size <= DirectConvolution.preparedInputLimit else { return nil }
    blocks = SampleBlocks(batch: s.batch, positions: s.outPlane, columns: Self.chunkPositions)
    chunkLines = max(1, Self.chunkPositions / output[2])
    let tile = DirectConvolution.tiling(channels: s.outPerGroup, rows: 1, vectors: s.inPerGroup / lanes, registers: targetLanes > 8 ? 32 : 16)
    (channels, vectors) = (tile.channels, tile.vectors)
  }

  /// Tiles of output channels (the last one partial when the tile does not divide them).
  var tiles: Int { (s.outPerGroup + channels - 1) / channels }
  /// Tiles of output channels each parallel iteration takes (the last one fewer).
  var tilesPerIteration: Int { (tiles + Self.iterations - 1) / Self.iterations }

  /// The fewest output positions per sample taken here (not measured below ResNet-18's 7×7).
  /// Smaller maps stay on im2col + GEMM, LeNet-5's 5×5 → 1×1 layer among them: there this kernel
  /// sums each weight over the batch in one chain, sample after sample, and a data-parallel run
  /// sums two halves instead — LeNet-5 under Adam at batch 64 then drifted from its two-process
  /// run to 4e-4 by the fifth step (GEMM's sums: 2e-8), past what the MPI tests allow.
  static let minimumPositions = 16

  /// Parallel iterations at most: enough to share among a few threads, few enough that each
  /// one's tiles reuse a chunk's inputs.
  static let iterations = 8

  /// Output positions a chunk aims at: a tile loads and stores its sums once per chunk (ResNet-18's
  /// 7×7 512-channel layers at batch 8 make one chunk of 392), and a chunk's inputs for one tap
  /// and a tile's vectors stay in cache while every tile of output channels reads them.
  static let chunkPositions = 512

  /// Output rows (over depth and height) of one sample.
  var linesPerSample: Int { output[0] * output[1] }
  /// Whether the whole batch is one chunk, summed in registers with no transposed gradient.
  var onePass: Bool { blocks.size == s.batch && s.batch * linesPerSample <= chunkLines }
  /// Floats of the transposed gradient of one group, rounded to a cache line (none in one pass).
  var transposedSize: Int { onePass ? 0 : (s.outPerGroup * s.taps * s.inPerGroup + 15) / 16 * 16 }
  /// Scratch: the transposed gradient, then a block's prepared inputs.
  var scratchSize: Int { transposedSize + blocks.size * prepared.size }

  /// dW into `k.output`. Inputs: x, dy.
  func emit(_ k: Kernel) {
    let ir = k.ir
    guard let scratch = k.scratch else { return }
    let (size, full, rest) = (blocks.size, s.batch / blocks.size, s.batch % blocks.size)
    let iterations = (tiles + tilesPerIteration - 1) / tilesPerIteration
    let work = size * s.outPlane * s.taps * s.inPerGroup / lanes * channels * tilesPerIteration
    ir.loop(s.groups) { group in
      let dw = ir.element(k.output, ir.affine(group, s.outPerGroup * s.depth))
      ir.loop(full + (rest > 0 ? 1 : 0)) { block in
        let first = ir.mul(block, ir.int(size))
        let count = rest > 0 ? ir.select(ir.icmp(LLVMIntEQ, block, ir.int(full)), ir.int(rest), ir.int(size)) : ir.int(size)
        ir.loop(from: ir.int(0), to: count, knownNonEmpty: true) { j in
          let x = ConvolutionLowering.groupStart(
            ir, k.inputs[0], first: ir.add(first, j), group: group, channels: s.inChannels, perGroup: s.inPerGroup, plane: s.inPlane)
          prepared.emit(k, source: x, into: ir.element(scratch, ir.affine(j, prepared.size, transposedSize)))
        }
        let dy = ConvolutionLowering.groupStart(
          ir, k.inputs[1], first: first, group: group, channels: s.outChannels, perGroup: s.outPerGroup, plane: s.outPlane)
        let lines = ir.mul(count, ir.int(linesPerSample))
        k.parallelLoop(iterations, work: work, capturing: [dy, dw, lines, block]) { k, captured, iteration in
          let ir = k.ir
          let (first, last) = (ir.icmp(LLVMIntEQ, captured[3], ir.int(0)), ir.icmp(LLVMIntEQ, captured[3], ir.int((s.batch - 1) / size)))
          accumulate(k, dy: captured[0], dw: captured[1], lines: captured[2], block: (first, last), iteration: iteration)
        }
      }
    }
  }

  /// Adds the block's `lines` output rows (of the samples prepared in scratch; `dy` at the
  /// block's first sample) to the tiles of iteration `iteration`, chunk by chunk, tap by tap: from
  /// zero in the first chunk of the first block, into `dw` in the last chunk of the last.
  private func accumulate(
    _ k: Kernel, dy: LLVMValueRef, dw: LLVMValueRef, lines: LLVMValueRef, block: (first: LLVMValueRef, last: LLVMValueRef), iteration: LLVMValueRef
  ) {
    let ir = k.ir
    let rows = Rows(ir, self)
    // Chunks of at most chunkLines rows, as even as whole rows allow.
    let chunks = ir.udiv(ir.add(lines, ir.int(chunkLines - 1)), ir.int(chunkLines))
    let chunkLines = ir.udiv(ir.add(lines, ir.sub(chunks, ir.int(1))), chunks)
    let (wholeTiles, partialChannels) = (s.outPerGroup / channels, s.outPerGroup % channels)
    let firstTile = ir.mul(iteration, ir.int(tilesPerIteration))
    let endTile = ir.add(firstTile, ir.int(tilesPerIteration))
    let endWhole = ir.select(ir.icmp(LLVMIntULT, endTile, ir.int(wholeTiles)), endTile, ir.int(wholeTiles))
    let inputVectors = s.inPerGroup / lanes
    ir.loop(from: ir.int(0), to: chunks, knownNonEmpty: true) { chunk in
      let start = ir.mul(chunk, chunkLines)
      let end = ir.select(ir.icmp(LLVMIntULT, ir.add(start, chunkLines), lines), ir.add(start, chunkLines), lines)
      let pass = Pass(
        lines: (start, end), first: ir.and(block.first, ir.icmp(LLVMIntEQ, chunk, ir.int(0))),
        last: ir.and(block.last, ir.icmp(LLVMIntEQ, chunk, ir.sub(chunks, ir.int(1)))), dy: dy, dw: dw)
      // For each tile, every tap: a tile's sums for all taps are one run of dW's rows (and of the
      // transposed gradient), written while their cache lines are still at hand.
      func tilesOfVectors(_ vector: LLVMValueRef, _ vectors: Int) {
        func taps(_ channel: LLVMValueRef, _ channels: Int) {
          ir.loop(s.taps) { t in
            self.tile(k, pass, rows: rows, tap: Tap(ir, t, self), t: t, channel: channel, channels: channels, vector: vector, vectors: vectors)
          }
        }
        ir.loop(from: firstTile, to: endWhole) { tile in taps(ir.mul(tile, ir.int(channels)), channels) }
        if partialChannels > 0 {
          ir.when(ir.icmp(LLVMIntEQ, iteration, ir.int((tiles - 1) / tilesPerIteration))) { taps(ir.int(wholeTiles * channels), partialChannels) }
        }
      }
      ir.loop(inputVectors / vectors) { group in tilesOfVectors(ir.mul(group, ir.int(vectors)), vectors) }
      if inputVectors % vectors > 0 { tilesOfVectors(ir.int(inputVectors / vectors * vectors), inputVectors % vectors) }
    }
  }

  /// Where tap t reads, relative to an output position: the prepared float of channel 0 that
  /// output position 0 reads (its depth and row offsets, its phase, its shift within the phase).
  private struct Tap {
    let position: LLVMValueRef

    init(_ ir: IRBuilder, _ t: LLVMValueRef, _ plan: WeightGradientConvolution) {
      let (kernel, dilation, stride) = (plan.kernel, plan.dilation, plan.stride)
      let (kd, kh, kw) = (ir.udiv(t, ir.int(kernel[1] * kernel[2])), ir.urem(ir.udiv(t, ir.int(kernel[2])), ir.int(kernel[1])), ir.urem(t, ir.int(kernel[2])))
      let shift = ir.mul(kw, ir.int(dilation[2]))
      let column = ir.add(ir.mul(ir.urem(shift, ir.int(stride[2])), ir.int(plan.prepared.phaseWidth)), ir.udiv(shift, ir.int(stride[2])))
      position = plan.prepared.index(ir, channel: ir.int(0), depth: ir.mul(kd, ir.int(dilation[0])), row: ir.mul(kh, ir.int(dilation[1])), phase: 0, column: column)
    }
  }

  /// Where each output row of a block starts (tables, so that the loops over rows divide
  /// nothing): in the prepared inputs (sample, then the row's first input position, in floats of
  /// a channel block) and in dy (from the block's first sample).
  private struct Rows {
    let input, gradient: LLVMValueRef

    init(_ ir: IRBuilder, _ plan: WeightGradientConvolution) {
      let (output, stride, prepared, s) = (plan.output, plan.stride, plan.prepared, plan.s)
      let lines = (0..<(plan.blocks.size * plan.linesPerSample)).map { $0.quotientAndRemainder(dividingBy: plan.linesPerSample) }
      let preparedRow = prepared.phases * prepared.phaseWidth * plan.lanes
      input = ir.table(lines.map { sample, within -> Int in
        let (od, oh) = within.quotientAndRemainder(dividingBy: output[1])
        let row: Int = od * stride[0] * prepared.rows + oh * stride[1]
        return sample * prepared.size + row * preparedRow
      })
      gradient = ir.table(lines.map { sample, within -> Int in sample * s.outChannels * s.outPlane + within * output[2] })
    }
  }

  /// A chunk's output rows `lines` of a block, whether it is the first or the last of the
  /// batch, and where dy (at the block's first sample) and dW (the group's) start.
  private struct Pass {
    let lines: (start: LLVMValueRef, end: LLVMValueRef)
    let first, last, dy, dw: LLVMValueRef
  }

  /// One tile — output channels `channel`..<`channel + channels` × input-channel vectors
  /// `vector`..<`vector + vectors` of tap `t` — summed over the chunk's rows.
  private func tile(
    _ k: Kernel, _ pass: Pass, rows: Rows, tap: Tap, t: LLVMValueRef, channel: LLVMValueRef, channels: Int, vector: LLVMValueRef, vectors: Int
  ) {
    let ir = k.ir
    guard let scratch = k.scratch else { return }
    let type = ir.vectorType(lanes)
    // Accumulator (o, v) at transposed[vector + v][channel + o][t].
    let first = ir.affine(ir.add(ir.affine(ir.add(ir.affine(vector, s.outPerGroup), channel), s.taps), t), lanes)
    let sums = (0..<channels * vectors).map { ir.add(first, ir.int(($0 % vectors * s.outPerGroup + $0 / vectors) * s.taps * lanes)) }
    let accumulators = sums.map { _ in ir.stackSlot(type: type) }
    let zero = { for slot in accumulators { ir.store(ir.zeroVector(self.lanes), to: slot) } }
    if onePass {
      zero()
    } else {
      ir.ifElse(pass.first, zero) { for (sum, slot) in zip(sums, accumulators) { ir.store(ir.loadVector(scratch, sum, lanes: self.lanes), to: slot) } }
    }
    ir.loop(from: pass.lines.start, to: pass.lines.end, knownNonEmpty: true) { line in
      // Input vector v of channel block b at position q: b·lanes·plane + q·lanes.
      let start = ir.add(ir.loadInt(rows.input, line), ir.affine(tap.position, lanes, transposedSize))
      let inputs = (0..<vectors).map { v in ir.add(start, ir.affine(ir.add(vector, ir.int(v)), lanes * prepared.plane)) }
      let row = ir.loadInt(rows.gradient, line)
      let gradients = (0..<channels).map { o in ir.add(row, ir.affine(ir.add(channel, ir.int(o)), s.outPlane)) }
      // Unrolled twice: LLVM's own choice (all 7 columns of ResNet-18's 7×7 layers) spilled
      // accumulators, and its 512-channel layers took 48–60 ms instead of 26–34 (not unrolled:
      // 36–48; four times: 32–34).
      ir.loop(from: ir.int(0), to: ir.int(output[2]), knownNonEmpty: true, unroll: 2) { column in
        let values = inputs.map { ir.loadVector(scratch, ir.add($0, ir.mul(column, ir.int(lanes))), lanes: lanes) }
        for o in 0..<channels {
          let gradient = ir.splat(ir.load(pass.dy, ir.add(gradients[o], column)), lanes: lanes)
          for v in 0..<vectors {
            let slot = accumulators[o * vectors + v]
            ir.store(ir.vectorFMA(gradient, values[v], ir.load(type, from: slot)), to: slot)
          }
        }
      }
    }
    // dW[channel + o][(vector + v)·lanes + lane][t], one lane at a time.
    let store = {
      for (index, slot) in accumulators.enumerated() {
        let sum = ir.load(type, from: slot)
        let (o, v) = index.quotientAndRemainder(dividingBy: vectors)
        let row = ir.affine(ir.add(ir.affine(ir.add(channel, ir.int(o)), self.s.inPerGroup), ir.affine(ir.add(vector, ir.int(v)), self.lanes)), self.s.taps)
        for lane in 0..<self.lanes { ir.store(ir.extract(sum, lane: lane), pass.dw, ir.add(row, ir.add(t, ir.int(lane * self.s.taps)))) }
      }
    }
    if onePass {
      store()
    } else {
      ir.ifElse(pass.last, store) { for (sum, slot) in zip(sums, accumulators) { ir.storeVector(ir.load(type, from: slot), scratch, sum) } }
    }
  }
}
