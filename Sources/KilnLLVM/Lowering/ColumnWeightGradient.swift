import CLLVM
import Kiln

/// Weight gradients of convolutions with few input channels and many taps (a network's first
/// layer: ResNet's 3 channels × 7×7), where vectors across input channels
/// (`WeightGradientConvolution`) would be mostly empty: vectors run along output columns instead.
///
/// dW[o][c][t] = Σ over samples and output positions p of dy[o][p]·x[c][p·stride + t·dilation].
/// A tile of `outputs` output channels × `taps` (input channel, tap) pairs keeps one vector of
/// partial sums per pair in registers; for every run of `lanes` output columns of every output
/// row of a sample, it loads the tile's output gradients (one vector per output channel: rows of
/// dy are contiguous) and each pair's inputs (one vector per pair: contiguous in the input
/// prepared padded and split into the width stride's phases) and multiply-adds every
/// combination. Lane l sums the columns congruent to l; the lanes are added at the end. Tiles are
/// independent and run in parallel, a sample at a time, their sums kept in scratch between
/// samples, so every sum is the same chain on any number of threads.
struct ColumnWeightGradient {
  let s: ConvolutionShape
  /// Lifted to three axes (D, H, W): spatial sizes of the output gradient and the filter.
  let output, kernel, stride, dilation: [Int]
  let lanes: Int
  /// One sample's input, prepared (channels not interleaved).
  let prepared: PreparedInput
  /// The tile: output channels × (input channel, tap) pairs.
  let outputs, pairs: Int

  /// The plan for the weight gradient `a` of a convolution of `x` (output gradient `dy`, weights
  /// `weight`'s shape) on a target with `lanes` floats per vector; nil unless it has one group,
  /// input channels that `WeightGradientConvolution` leaves (not a multiple of 8), at least
  /// `minimumDepth` (input channel, tap) pairs, output rows at least a vector long, and a prepared
  /// input that stays in cache.
  init?(_ a: ConvWeightGradAttrs, x: [Int], dy: [Int], weight: [Int], lanes: Int) {
    let c = a.conv
    s = ConvolutionShape(x: x, weight: weight, output: dy, groups: c.groups)
    let window = WindowGeometry(c, x: x, output: dy, weight: weight)
    guard c.groups == 1, s.inPerGroup % 8 != 0, s.depth >= Self.minimumDepth, window.output[2] >= lanes else { return nil }
    self.lanes = lanes
    (output, kernel, stride, dilation) = (window.output, window.kernel, window.stride, window.dilation)
    prepared = window.preparedInput(c, x: x, shape: s, channels: s.inChannels)
    guard prepared.size <= DirectConvolution.preparedInputLimit else { return nil }
    // Accumulators, a vector of output gradients per output channel and one of inputs in
    // registers: 4 × 5 + 4 + 1 of AVX-512's 32, 3 × 3 + 3 + 1 of AVX2's 16.
    (outputs, pairs) = lanes > 8 ? (4, 5) : (3, 3)
  }

  /// The fewest (input channel, tap) pairs taken here. One thread, against im2col + GEMM:
  /// ResNet-18's first layer (147 pairs) at batch 8, 34 → 25 ms (AVX-512 EPYC); at batch 64 on a
  /// Xeon, VGG-11-CIFAR's (27 pairs) 4.7–4.8 → 2.6 ms, LeNet-5's (25 pairs) 0.35–0.42 → 0.22–0.25.
  static let minimumDepth = 16

  /// Tiles along the output channels and along the pairs (the last of each possibly partial).
  var outputTiles: Int { (s.outChannels + outputs - 1) / outputs }
  var pairTiles: Int { (s.depth + pairs - 1) / pairs }
  /// Floats of the partial sums: a vector per (output channel, pair), tiles rounded up.
  var sumsSize: Int { outputTiles * outputs * pairTiles * pairs * lanes }
  /// Scratch: the partial sums, then one sample's prepared input.
  var scratchSize: Int { sumsSize + prepared.size }

  /// dW into `k.output`. Inputs: x, dy.
  func emit(_ k: Kernel) {
    let ir = k.ir
    guard let scratch = k.scratch else { return }
    let input = ir.element(scratch, ir.int(sumsSize))
    ir.loop(sumsSize) { i in ir.store(ir.float(0), scratch, i) }
    let (outputTiles, pairTiles, outputs, pairs) = (self.outputTiles, self.pairTiles, self.outputs, self.pairs)
    let (wholeOutputs, wholePairs) = (s.outChannels / outputs, s.depth / pairs)
    ir.loop(s.batch) { n in
      prepared.emit(k, source: ir.element(k.inputs[0], ir.affine(n, s.inChannels * s.inPlane)), into: input)
      let dy = ir.element(k.inputs[1], ir.affine(n, s.outChannels * s.outPlane))
      k.parallelLoop(outputTiles * pairTiles, work: s.outPlane * outputs * pairs, capturing: [dy, input]) { k, captured, tile in
        let ir = k.ir
        let (outputTile, pairTile) = (ir.udiv(tile, ir.int(pairTiles)), ir.urem(tile, ir.int(pairTiles)))
        ir.forBlock(outputTile, whole: wholeOutputs, size: outputs, rest: s.outChannels % outputs) { outputCount in
          ir.forBlock(pairTile, whole: wholePairs, size: pairs, rest: s.depth % pairs) { pairCount in
            accumulate(
              k, dy: captured[0], input: captured[1], firstOutput: ir.mul(outputTile, ir.int(outputs)), outputCount: outputCount,
              firstPair: ir.mul(pairTile, ir.int(pairs)), pairCount: pairCount)
          }
        }
      }
    }
    // dW[o][pair] = the sum of its vector's lanes.
    let row = pairTiles * pairs
    ir.loop(s.outChannels) { o in
      ir.loop(s.depth) { pair in
        let at = ir.mul(ir.add(ir.mul(o, ir.int(row)), pair), ir.int(lanes))
        let total = (1..<lanes).reduce(ir.load(scratch, at)) { sum, lane in ir.fadd(sum, ir.load(scratch, ir.affine(at, 1, lane))) }
        ir.store(total, k.output, ir.add(ir.mul(o, ir.int(s.depth)), pair))
      }
    }
  }

  /// Adds one sample's products to the partial sums of output channels `firstOutput`…+`outputCount`
  /// × pairs `firstPair`…+`pairCount`, in registers over all its output positions.
  private func accumulate(
    _ k: Kernel, dy: LLVMValueRef, input: LLVMValueRef, firstOutput: LLVMValueRef, outputCount: Int, firstPair: LLVMValueRef, pairCount: Int
  ) {
    let ir = k.ir
    guard let sums = k.scratch else { return }
    let row = pairTiles * pairs
    let vector = ir.vectorType(lanes)
    let slots = (0..<outputCount).map { o in
      (0..<pairCount).map { p -> (LLVMValueRef, LLVMValueRef) in
        let at = ir.mul(ir.add(ir.mul(ir.add(firstOutput, ir.int(o)), ir.int(row)), ir.add(firstPair, ir.int(p))), ir.int(lanes))
        let slot = ir.stackSlot(type: vector)
        ir.store(ir.loadVector(sums, at, lanes: lanes), to: slot)
        return (slot, at)
      }
    }
    // Where each pair's inputs start in the prepared sample, for output position 0.
    let (taps, rowLength) = (s.taps, prepared.phases * prepared.phaseWidth)
    let starts = (0..<pairCount).map { p -> LLVMValueRef in
      let pair = ir.add(firstPair, ir.int(p))
      let (channel, tap) = (ir.udiv(pair, ir.int(taps)), ir.urem(pair, ir.int(taps)))
      let (kd, kh, kw) = (ir.udiv(tap, ir.int(kernel[1] * kernel[2])), ir.urem(ir.udiv(tap, ir.int(kernel[2])), ir.int(kernel[1])), ir.urem(tap, ir.int(kernel[2])))
      let column = ir.mul(kw, ir.int(dilation[2]))
      let (phase, shift) = (ir.urem(column, ir.int(stride[2])), ir.udiv(column, ir.int(stride[2])))
      let line = ir.add(ir.mul(ir.add(ir.mul(channel, ir.int(prepared.depth)), ir.mul(kd, ir.int(dilation[0]))), ir.int(prepared.rows)), ir.mul(kh, ir.int(dilation[1])))
      return ir.add(ir.add(ir.mul(line, ir.int(rowLength)), ir.mul(phase, ir.int(prepared.phaseWidth))), shift)
    }
    let (whole, tail) = (output[2] / lanes, output[2] % lanes)
    ir.loop(output[0]) { od in
      ir.loop(output[1]) { oh in
        let line = ir.add(ir.mul(ir.mul(od, ir.int(stride[0])), ir.int(prepared.rows)), ir.mul(oh, ir.int(stride[1])))
        let inputRow = ir.mul(line, ir.int(rowLength))
        let outputRow = ir.mul(ir.add(ir.mul(od, ir.int(output[1])), oh), ir.int(output[2]))
        func columns(_ column: LLVMValueRef, count: Int?) {
          let gradients = (0..<outputCount).map { o in
            ir.loadVector(dy, ir.add(ir.add(ir.mul(ir.add(firstOutput, ir.int(o)), ir.int(s.outPlane)), outputRow), column), lanes: lanes, count: count)
          }
          for (p, start) in starts.enumerated() {
            let inputs = ir.loadVector(input, ir.add(ir.add(start, inputRow), column), lanes: lanes, count: count)
            for o in 0..<outputCount {
              let slot = slots[o][p].0
              ir.store(ir.vectorFMA(inputs, gradients[o], ir.load(vector, from: slot)), to: slot)
            }
          }
        }
        ir.loop(whole) { v in columns(ir.mul(v, ir.int(lanes)), count: nil) }
        if tail > 0 { columns(ir.int(whole * lanes), count: tail) }
      }
    }
    for (slot, at) in slots.joined() { ir.storeVector(ir.load(vector, from: slot), sums, at) }
  }
}
