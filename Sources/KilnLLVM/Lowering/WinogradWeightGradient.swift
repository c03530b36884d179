import CLLVM
import Kiln

/// Weight gradients of 3×3 stride-1 convolutions by Winograd's F(4×4, 3×3) turned around: 36
/// multiplies per 4×4 tile of outputs and channel pair instead of 144.
///
/// The forward tile y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A is linear in the filter g, so Σᵢⱼ δᵢⱼ·yᵢⱼ
/// = Σ_ξ (A·δ·Aᵀ)_ξ·(G·g·Gᵀ)_ξ·(Bᵀ·d·B)_ξ for the tile's output gradients δ, and the tile's
/// share of dW, the derivative by g, is Gᵀ·[(A·δ·Aᵀ) ⊙ (Bᵀ·d·B)]·G. The kernel works as the
/// forward one does, vectors across channels: each sample's input is prepared and transformed
/// into V[ξ] (tiles × input channels) by the forward kernel's own code; its output gradients are
/// prepared the same way (extended with zeros to whole tiles) and transformed into D[ξ] = A·δ·Aᵀ
/// (tiles × output channels); D[ξ]ᵀ·V[ξ] (output × input channels) is one register-blocked product
/// per ξ for each block of samples, spread over the pool's threads, and added to M[ξ] (a sum of
/// block sums: ResNet-18's 56×56 layers at batch 8 are within 7.2e-6 of the largest gradient of the
/// exact sum this way, 2.7e-5 as one chain over the batch's tiles); after the last block
/// dW = Gᵀ·M·G for each channel pair. Every element is the same chain of operations whichever
/// thread runs it.
struct WinogradWeightGradient {
  /// The forward convolution's plan: tiles, blocks of samples, the prepared input and V.
  let forward: WinogradConvolution
  /// The output gradients of one sample, channel-interleaved, zero to whole tiles.
  let preparedGradient: PreparedInput

  /// The plan for dW of the convolution `a` of `x` with output gradients `dy`, or nil where the
  /// forward convolution would not run by Winograd with weights that change on every run
  /// (`WinogradConvolution`'s rule, which weighs the same transforms against the same products).
  init?(_ a: ConvWeightGradAttrs, x: [Int], dy: [Int], weight: [Int], lanes: Int) {
    guard let forward = WinogradConvolution(a.conv, x: x, weight: weight, output: dy, lanes: lanes, weightsChange: true, againstColumns: true) else {
      return nil
    }
    self.forward = forward
    let unpadded = ConvAttrs(stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [1, 1], groups: 1)
    preparedGradient = PreparedInput(
      unpadded, x: dy, channels: dy[1], depth: 1, rows: forward.transforms.outputTile * forward.tileRows, phases: 1,
      phaseWidth: forward.transforms.outputTile * forward.tileColumns, channelBlock: lanes)
  }

  var lanes: Int { forward.lanes }
  var s: ConvolutionShape { forward.s }
  /// Row length of D[ξ] (output channels), as V's (`WinogradConvolution.vRow`): whole vectors
  /// plus one.
  var dRow: Int { (s.outChannels + lanes - 1) / lanes * lanes + lanes }

  /// Floats from M[ξ] to M[ξ + 1] (output × input channels, staggered).
  var mStride: Int { WinogradConvolution.staggered(s.outChannels * forward.vRow) }

  /// Blocks of samples: M is the sum of their products.
  var blockCount: Int { (s.batch + forward.blocks.size - 1) / forward.blocks.size }

  /// Where each part of the scratch starts: the prepared input, V, the prepared output
  /// gradients, D, M, and a block's product after the first block's.
  private var offsets: (v: Int, gradient: Int, d: Int, m: Int, product: Int, end: Int) {
    let (v, points) = (forward.prepared.size, forward.transforms.points)
    let gradient = v + points * forward.blockTiles * forward.vRow
    let d = gradient + preparedGradient.size
    let m = d + points * forward.blockTiles * dRow
    let product = m + points * mStride
    return (v, gradient, d, m, product, product + (blockCount > 1 ? points * mStride : 0))
  }

  var scratchSize: Int { offsets.end }

  /// A = (Aᵀ)ᵀ, which takes an m×m tile of output gradients to (m + 2)×(m + 2), and Gᵀ, which
  /// takes (m + 2)×(m + 2) back to 3×3.
  var gradientTransform: [[Double]] { Self.transposed(forward.transforms.output) }
  var resultTransform: [[Double]] { Self.transposed(forward.transforms.weight) }

  static func transposed(_ matrix: [[Double]]) -> [[Double]] {
    matrix[0].indices.map { j in matrix.map { $0[j] } }
  }

  /// dW from x and dy. Inputs: x, dy.
  func emit(_ k: Kernel) {
    let ir = k.ir
    guard let scratch = k.scratch else { return }
    let (v, gradient, d, m, product) = (
      ir.element(scratch, ir.int(offsets.v)), ir.element(scratch, ir.int(offsets.gradient)), ir.element(scratch, ir.int(offsets.d)),
      ir.element(scratch, ir.int(offsets.m)), ir.element(scratch, ir.int(offsets.product))
    )
    let (tiles, size) = (forward.tiles, forward.blocks.size)
    let (full, rest) = (s.batch / size, s.batch % size)
    ir.loop(blockCount) { block in
      let first = ir.mul(block, ir.int(size))
      let count = rest > 0 ? ir.select(ir.icmp(LLVMIntEQ, block, ir.int(full)), ir.int(rest), ir.int(size)) : ir.int(size)
      ir.loop(from: ir.int(0), to: count, knownNonEmpty: true) { j in
        let sample = ir.add(first, j)
        forward.prepared.emit(k, source: ir.element(k.inputs[0], ir.affine(sample, s.inChannels * s.inPlane)))
        forward.transformInput(k, v: ir.element(v, ir.affine(j, tiles * forward.vRow)))
        preparedGradient.emit(k, source: ir.element(k.inputs[1], ir.affine(sample, s.outChannels * s.outPlane)), into: gradient)
        transformGradient(k, prepared: gradient, d: ir.element(d, ir.affine(j, tiles * dRow)))
      }
      ir.forBlock(block, whole: full, size: size, rest: rest) { samples in
        guard blockCount > 1 else { return multiply(k, d: d, v: v, into: m, tiles: samples * tiles) }
        ir.ifElse(ir.icmp(LLVMIntEQ, block, ir.int(0))) {
          multiply(k, d: d, v: v, into: m, tiles: samples * tiles)
        } otherwise: {
          multiply(k, d: d, v: v, into: product, addingTo: m, tiles: samples * tiles)
        }
      }
    }
    transformResult(k, m: m)
  }

  /// D[ξ][t][c] = (A·δ·Aᵀ)[ξ] for every tile t and output channel c of the prepared sample;
  /// `d` points at the sample's first tile in D.
  private func transformGradient(_ k: Kernel, prepared: LLVMValueRef, d: LLVMValueRef) {
    forward.transformTiles(
      k, gradientTransform, source: prepared, columns: preparedGradient.phaseWidth, plane: preparedGradient.plane, channels: s.outChannels, into: d,
      row: dRow)
  }

  /// D[ξ]ᵀ·V[ξ] over the block's first `tiles` tiles into `target`[ξ], then added to `sum`[ξ]
  /// if given, for every ξ.
  private func multiply(_ k: Kernel, d: LLVMValueRef, v: LLVMValueRef, into target: LLVMValueRef, addingTo sum: LLVMValueRef? = nil, tiles: Int) {
    let (outputs, stride, vRow, dRow, lanes, mStride) = (s.outChannels, forward.blockTiles, forward.vRow, self.dRow, self.lanes, self.mStride)
    let product = RegisterProduct(m: outputs, n: s.inChannels, k: tiles, lda: dRow, ldb: vRow, ldc: vRow, lanes: lanes, transposedA: true)
    k.parallelLoop(forward.transforms.points, work: outputs * tiles * s.inChannels / lanes, capturing: [d, v, target] + (sum.map { [$0] } ?? [])) { k, captured, xi in
      let ir = k.ir
      let at = ir.mul(xi, ir.int(mStride))
      product.emit(
        ir, a: ir.element(captured[0], ir.affine(xi, stride * dRow)), b: ir.element(captured[1], ir.affine(xi, stride * vRow)),
        c: ir.element(captured[2], at), count: outputs)
      guard captured.count > 3 else { return }
      ir.loop(outputs * vRow / lanes) { vector in
        let index = ir.add(at, ir.mul(vector, ir.int(lanes)))
        ir.storeVector(ir.fadd(ir.loadVector(captured[3], index, lanes: lanes), ir.loadVector(captured[2], index, lanes: lanes)), captured[3], index)
      }
    }
  }

  /// dW[o][c] = Gᵀ·M[·][o][c]·G, `lanes` input channels at a time (the last block possibly
  /// partial), stored tap by tap.
  private func transformResult(_ k: Kernel, m: LLVMValueRef) {
    let (inputs, outputs, vRow, lanes, mStride) = (s.inChannels, s.outChannels, forward.vRow, self.lanes, self.mStride)
    let (whole, last) = (inputs / lanes, inputs % lanes)
    let (points, size, resultTransform) = (forward.transforms.points, forward.transforms.inputTile, self.resultTransform)
    k.parallelLoop(outputs, work: inputs * points * 4, capturing: [m]) { k, captured, output in
      let ir = k.ir
      func block(_ firstChannel: LLVMValueRef, count: Int) {
        let at = ir.add(ir.affine(output, vRow), firstChannel)
        let values = (0..<points).map { xi in
          ir.loadVector(captured[0], ir.affine(at, 1, xi * mStride), lanes: lanes, count: count < lanes ? count : nil)
        }
        let w = WinogradConvolution.sandwich(ir, resultTransform, (0..<size).map { Array(values[(size * $0)..<(size * $0 + size)]) })
        let pair = ir.add(ir.affine(output, inputs), firstChannel)
        for (tap, value) in w.joined().enumerated() {
          for lane in 0..<count { ir.store(ir.extract(value, lane: lane), k.output, ir.affine(pair, 9, lane * 9 + tap)) }
        }
      }
      ir.loop(whole) { index in block(ir.mul(index, ir.int(lanes)), count: lanes) }
      if last > 0 { block(ir.int(whole * lanes), count: last) }
    }
  }
}
