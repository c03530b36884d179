import CLLVM
import Kiln

/// 3×3 stride-1 convolutions by Winograd's minimal filtering (`WinogradTransforms`): F(4×4, 3×3),
/// where each 4×4 block of outputs comes from a 6×6 block of input in 36 multiplies per channel
/// pair instead of 144, or F(2×2, 3×3) on maps too small for enough 4×4 tiles (16 instead of 36).
///
/// Vectors run across channels, so every lane does work whatever the map's size: each sample's
/// input is prepared padded with `lanes` channels interleaved (`PreparedInput`'s channel
/// blocks), so that one tile corner of a block of channels is one vector; each tile of each
/// channel block is transformed, V = Bᵀ·d·B, into one matrix V[ξ] per point ξ of the tile (the
/// block's tiles, sample after sample, × channels); `RegisterProduct`s give M[ξ] = V[ξ]·U[ξ] with
/// the transformed weights U = G·g·Gᵀ (channels × outputs); and the output transform Aᵀ·m·A, bias
/// and activation produce a tile of outputs for a block of output channels, stored into each
/// sample's planes a tile row of one channel at a time. Small maps take several samples per block, so that the
/// products stay tall (`SampleBlocks`). Weights that stay fixed are transformed once: the kernel
/// keeps U between runs behind a flag that whoever writes parameters clears (`Program.keptFlags`);
/// weights that change on every run (trained or computed) are transformed on every run. Rounding
/// differs from the direct sum: F(4×4) measured within 3.5e-6 of the largest output of a layer.
struct WinogradConvolution {
  let s: ConvolutionShape
  let prepared: PreparedInput
  /// F(4×4, 3×3) or F(2×2, 3×3).
  let transforms: WinogradTransforms
  let height, width, tileRows, tileColumns, lanes: Int
  /// Samples per block; the last block may hold fewer.
  let blocks: SampleBlocks
  /// Whether the weights change on every run (U transformed on every run, the flag unused).
  let weightsChange: Bool

  /// Tiles a block of samples aims for (a 28×28 map's; larger maps take one sample a block).
  static let targetTiles = 49
  /// The fewest tiles a block must reach for Winograd to pay: fewer make the products too small
  /// and transforms too large a share. ResNet-18's 14×14 layers at batch 1 (16 tiles) take
  /// 2.2–2.7 ms this way against 3.0–3.8 ms on the direct kernel.
  static let minimumTiles = 16
  /// The fewest tiles a run must have when the weights change on every run: U (4× the weights)
  /// is then written and read again each time, which only many tiles repay (ResNet-18's 7×7
  /// layers in training at batch 8, 32 tiles: 28% slower than the direct kernel; its 14×14 ones,
  /// 128 tiles: 34% faster). Against im2col + GEMM fewer tiles pay, but only on a half-width
  /// vector unit: the input gradients of those 7×7 layers on a Zen 4 with AVX-512, where the
  /// direct kernel leaves 7-wide rows to GEMM, took 22 ms as GEMM + col2im and 15.6–18.9 ms this
  /// way (flipped weights transformed on every run; whole step 688–701 against 751–771 ms). On an
  /// Intel Xeon with AVX-512 (two full-width FMA units, 230 GFLOPS a core against 116) GEMM runs
  /// those layers at 150–160 GFLOPS, and Winograd's 37.7 MB of U per run made the step
  /// 730–746 ms against 548–554 ms.
  static let minimumTilesWhenWeightsChange = 128

  /// The plan for a convolution of `x` by `weight`, or nil where Winograd does not apply or does
  /// not pay: it needs a 2D 3×3 filter, stride and dilation 1, one group, at least 16 input and
  /// output channels (below that the products are too small to gain), a block of samples of at
  /// least `minimumTiles` tiles (and `minimumTilesWhenWeightsChange` in all when `weightsChange`,
  /// unless `againstColumns`: the convolution would otherwise be im2col + GEMM), and tiles that
  /// cover at most twice the map (a 2×2 map in one 4×4 tile takes as many multiplies as the
  /// direct sum). F(4×4, 3×3) where it meets these, else F(2×2, 3×3); for weights that change on
  /// every run, F(2×2, 3×3) only against im2col + GEMM (against the direct kernel, and on 4×4 maps
  /// where F(4×4) applies, F(2×2)'s products of U, read again for each of more blocks of samples,
  /// cost more than they gain: VGG-11-CIFAR's 4×4 512-channel layers in a training step at batch
  /// 64 on Zen 4, forward 22.3–22.7 ms by F(4×4) against 26.8–27.4 by F(2×2); its 2×2 layers,
  /// which F(4×4) cannot take, 17.9–19.4 → 11.1–12.3 ms).
  init?(_ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], lanes: Int, weightsChange: Bool, againstColumns: Bool = false) {
    guard x.count == 4, weight[2] == 3, weight[3] == 3, a.stride == [1, 1], a.dilation == [1, 1], a.groups == 1, x[1] >= 16, weight[0] >= 16
    else { return nil }
    let (height, width) = (output[2], output[3])
    func pays(_ transforms: WinogradTransforms) -> Bool {
      let m = transforms.outputTile
      let tiles = (height + m - 1) / m * ((width + m - 1) / m)
      return SampleBlocks(batch: x[0], positions: tiles, columns: Self.targetTiles).size * tiles >= Self.minimumTiles && m * m * tiles <= 2 * height * width
        && (!weightsChange || againstColumns || x[0] * tiles >= Self.minimumTilesWhenWeightsChange)
    }
    guard let transforms = (!weightsChange || againstColumns ? [.f4, .f2] : [WinogradTransforms.f4]).first(where: pays) else { return nil }
    let m = transforms.outputTile
    self.transforms = transforms
    s = ConvolutionShape(x: x, weight: weight, output: output, groups: 1)
    (self.height, self.width) = (height, width)
    (tileRows, tileColumns) = ((height + m - 1) / m, (width + m - 1) / m)
    blocks = SampleBlocks(batch: x[0], positions: tileRows * tileColumns, columns: Self.targetTiles)
    self.lanes = lanes
    self.weightsChange = weightsChange
    // Tile (r, u) reads rows m·r…m·r + m + 1 and columns m·u…m·u + m + 1.
    prepared = PreparedInput(
      a, x: x, channels: s.inChannels, depth: 1, rows: m * tileRows + 2, phases: 1, phaseWidth: m * tileColumns + 2, channelBlock: lanes)
  }

  /// Tiles of one sample.
  var tiles: Int { tileRows * tileColumns }
  /// Tiles of a full block: the rows of V[ξ] and M[ξ].
  var blockTiles: Int { blocks.size * tiles }
  /// Row lengths of V[ξ] (input channels) and of M[ξ] (output channels): rounded up to whole
  /// vectors, plus one, so that rows are not a power of two apart (which would put a tile's
  /// rows in a few cache sets).
  var vRow: Int { (s.inChannels + lanes - 1) / lanes * lanes + lanes }
  var mRow: Int { (s.outChannels + lanes - 1) / lanes * lanes + lanes }
  /// M[ξ] = V[ξ]·U[ξ] for any block's tiles, U[ξ] kept in the product's panels.
  var product: RegisterProduct {
    RegisterProduct(m: blockTiles, n: s.outChannels, k: s.inChannels, lda: vRow, ldb: nil, ldc: mRow, lanes: lanes)
  }
  /// Scratch: one sample's prepared input, V and M.
  var scratchSize: Int { prepared.size + transforms.points * blockTiles * (vRow + mRow) }
  /// Kept between runs: U (one matrix channels × outputs a point, in panels) and, unless they change on every
  /// run, the weights it came from.
  var persistentSize: Int { Self.flagSize + transforms.points * uStride }

  /// Floats before U: the flag that says U is current (nonzero) and the rest of its cache line.
  static let flagSize = 16

  /// Floats from U[ξ] to U[ξ + 1]: the panels and one cache line more. Panels are often a
  /// multiple of 4 KiB (512 × 512 channels: 1 MiB + 32 KiB), and 36 streams that far apart
  /// share one set of the caches: writing U took 17 ms of a 23 ms convolution of ResNet-18's
  /// 7×7 layers in training that way.
  var uStride: Int { Self.staggered(product.packedSize) }

  /// `floats` and one cache line more, for the distance between the matrices of a
  /// transformed operand (see `uStride`).
  static func staggered(_ floats: Int) -> Int { floats + 16 }

  func emit(_ k: Kernel) {
    let ir = k.ir
    guard let scratch = k.scratch, let persistent = k.persistent else { return }
    let (channels, outputs) = (s.inChannels, s.outChannels)
    let transformed = ir.element(persistent, ir.int(Self.flagSize))
    let v = ir.element(scratch, ir.int(prepared.size))
    let m = ir.element(v, ir.int(transforms.points * blockTiles * vRow))
    transformWeights(k, weights: k.inputs[1], flag: persistent, transformed: transformed)
    // One body for every block, the last one's sample count chosen at run time (the transforms
    // are most of the code); only the products' height differs in a partial last block.
    let (size, full) = (blocks.size, s.batch / blocks.size)
    let rest = s.batch % size
    ir.loop(full + (rest > 0 ? 1 : 0)) { block in
      let first = ir.mul(block, ir.int(size))
      let partial = ir.icmp(LLVMIntEQ, block, ir.int(full))
      let count = rest > 0 ? ir.select(partial, ir.int(rest), ir.int(size)) : ir.int(size)
      ir.loop(from: ir.int(0), to: count, knownNonEmpty: true) { j in
        prepared.emit(k, source: ir.element(k.inputs[0], ir.affine(ir.add(first, j), channels * s.inPlane)))
        transformInput(k, v: ir.element(v, ir.affine(j, tiles * vRow)))
      }
      ir.forBlock(block, whole: full, size: size, rest: rest) { samples in multiply(k, transformed: transformed, v: v, m: m, tiles: samples * tiles) }
      ir.loop(from: ir.int(0), to: count, knownNonEmpty: true) { j in
        transformOutput(k, m: ir.element(m, ir.affine(j, tiles * mRow)), out: ir.element(k.output, ir.affine(ir.add(first, j), outputs * s.outPlane)))
      }
    }
  }

  /// M[ξ] = V[ξ]·U[ξ] for every ξ over the block's first `tiles` tiles, one register-blocked
  /// product per ξ, spread over the pool's threads (each product's results do not depend
  /// on which thread runs it).
  private func multiply(_ k: Kernel, transformed: LLVMValueRef, v: LLVMValueRef, m: LLVMValueRef, tiles: Int) {
    let (channels, outputs, stride, vRow, mRow, product) = (s.inChannels, s.outChannels, blockTiles, self.vRow, self.mRow, self.product)
    k.parallelLoop(transforms.points, work: outputs * tiles * channels / lanes, capturing: [transformed, v, m]) { k, captured, xi in
      let ir = k.ir
      product.emit(
        ir, a: ir.element(captured[1], ir.affine(xi, stride * vRow)), b: ir.element(captured[0], ir.affine(xi, uStride)),
        c: ir.element(captured[2], ir.affine(xi, stride * mRow)), count: tiles)
    }
  }

  /// U[ξ][c][k] = (G·g[k][c]·Gᵀ)[ξ], on every run when the weights change on every run, else
  /// only when `flag` is zero (then set): `lanes` outputs k at a time, whose entries lie side by
  /// side in a panel (the last block possibly partial).
  private func transformWeights(_ k: Kernel, weights: LLVMValueRef, flag: LLVMValueRef, transformed: LLVMValueRef) {
    let ir = k.ir
    let (channels, outputs, product, uStride) = (s.inChannels, s.outChannels, self.product, self.uStride)
    let (whole, last) = (outputs / lanes, outputs % lanes)
    let taps = weightsChange ? nil : ir.stackSlot(count: 9 * lanes)
    func block(_ first: LLVMValueRef, _ channel: LLVMValueRef, width: Int) {
      // Tap t of output first + l in lane l of g[t / 3][t % 3]: gathered in a loop over the lanes
      // (less code to compile: ResNet-18's JIT compile 1.07-1.38 -> 0.87-1.29 s) when the
      // transform runs once, unrolled when it runs on every run (VGG-11-CIFAR's training step 3-4%
      // slower as a loop).
      let tap = { (lane: LLVMValueRef, tap: Int) in ir.load(weights, ir.affine(ir.add(ir.mul(ir.add(first, lane), ir.int(channels)), channel), 9, tap)) }
      if let taps { ir.fillLanes(taps, lanes: lanes, rows: 9, count: width, tap) }
      let g = (0..<3).map { i in
        (0..<3).map { j in
          taps.map { ir.loadVector($0, ir.int((3 * i + j) * lanes), lanes: lanes) } ?? ir.vector((0..<width).map { tap(ir.int($0), 3 * i + j) }, lanes: lanes)
        }
      }
      let at = product.packedIndex(ir, row: channel, column: first)
      for (xi, value) in Self.sandwich(ir, transforms.weight, g).joined().enumerated() {
        ir.storeVector(value, transformed, ir.affine(at, 1, xi * uStride), count: width)
      }
    }
    func transform() {
      ir.loop(channels) { channel in
        ir.loop(whole) { index in block(ir.mul(index, ir.int(lanes)), channel, width: lanes) }
        if last > 0 { block(ir.int(whole * lanes), channel, width: last) }
      }
    }
    guard !weightsChange else { return transform() }
    ir.when(ir.fcmp(LLVMRealOEQ, ir.load(flag, ir.int(0)), ir.float(0))) {
      transform()
      ir.store(ir.float(1), flag, ir.int(0))
    }
  }

  /// V[ξ][t][c] = (Bᵀ·d·B)[ξ] for every tile t and channel c of the prepared sample (at the
  /// start of the scratch); `v` points at the sample's first tile in V.
  func transformInput(_ k: Kernel, v: LLVMValueRef) {
    transformTiles(
      k, transforms.input, source: k.scratch!, columns: transforms.outputTile * tileColumns + 2, plane: prepared.plane, channels: s.inChannels, into: v, row: vRow)
  }

  /// T·d·Tᵀ for every tile of a prepared sample, `lanes` of its `channels` channels at a time: d
  /// the n × n block (T is (m + 2) × n) at the tile's corner, m (`outputTile`) apart, in `source` (channel-interleaved, rows of
  /// `columns` floats, `plane` floats a channel), stored as (m + 2)² matrices [ξ][tile][channel] into
  /// `target`, rows `row` floats long and the matrices a block's tiles of rows apart.
  func transformTiles(
    _ k: Kernel, _ transform: [[Double]], source: LLVMValueRef, columns: Int, plane: Int, channels: Int, into target: LLVMValueRef, row rowLength: Int
  ) {
    let (size, tileRows, tileColumns, stride, lanes, step) = (transform[0].count, self.tileRows, self.tileColumns, blockTiles, self.lanes, transforms.outputTile)
    k.parallelLoop((channels + lanes - 1) / lanes, work: tiles * transform.count * transform.count * 2 * size, capturing: [source, target]) { k, captured, block in
      let ir = k.ir
      let base = ir.mul(block, ir.int(plane * lanes))
      ir.loop(tileRows) { row in
        ir.loop(tileColumns) { column in
          // d[i][j] of `lanes` channels: row m·row + i, column m·column + j.
          let corner = ir.add(ir.affine(row, step * columns), ir.affine(column, step))
          let d = (0..<size).map { i in
            (0..<size).map { j in ir.loadVector(captured[0], ir.add(base, ir.affine(corner, lanes, (i * columns + j) * lanes)), lanes: lanes) }
          }
          let tile = ir.add(ir.affine(row, tileColumns), column)
          let first = ir.add(ir.affine(tile, rowLength), ir.affine(block, lanes))
          for (xi, value) in Self.sandwich(ir, transform, d).joined().enumerated() {
            ir.storeVector(value, captured[1], ir.affine(first, 1, xi * stride * rowLength))
          }
        }
      }
    }
  }

  /// y = f(Aᵀ·m·A + b) for every tile of one sample, `lanes` output channels at a time (the last
  /// block possibly partial); `m` points at the sample's first tile in M.
  private func transformOutput(_ k: Kernel, m: LLVMValueRef, out: LLVMValueRef) {
    let outputs = s.outChannels
    let (whole, last) = (outputs / lanes, outputs % lanes)
    k.parallelLoop(whole + (last > 0 ? 1 : 0), work: tiles * transforms.points * 8, capturing: [m, out]) { k, captured, block in
      k.ir.forBlock(block, whole: whole, size: lanes, rest: last) { count in self.outputBlock(k, m: captured[0], out: captured[1], block: block, count: count) }
    }
  }

  /// The output transform of output channels `block`·lanes…+`count` for every tile of a sample.
  private func outputBlock(_ k: Kernel, m: LLVMValueRef, out: LLVMValueRef, block: LLVMValueRef, count: Int) {
    let ir = k.ir
    let (mRow, stride, plane) = (self.mRow, blockTiles, s.outPlane)
    let firstChannel = ir.mul(block, ir.int(lanes))
    let mask = count < lanes ? count : nil
    let bias = k.inputs.count > 2 ? ir.loadVector(k.inputs[2], firstChannel, lanes: lanes, count: mask) : nil
    ir.loop(tileRows) { row in
      ir.loop(tileColumns) { column in
        let tile = ir.add(ir.affine(row, tileColumns), column)
        let (n, size) = (transforms.outputTile, transforms.inputTile)
        let values = (0..<transforms.points).map { xi in ir.loadVector(m, ir.add(ir.affine(tile, mRow, xi * stride * mRow), firstChannel), lanes: lanes, count: mask) }
        let y = Self.sandwich(ir, transforms.output, (0..<size).map { Array(values[(size * $0)..<(size * $0 + size)]) })
        for i in 0..<n {
          // Rows past the map's edge exist only in the last tile row; of the last tile column,
          // only the columns inside the map are stored.
          let outputRow = ir.affine(row, n, i)
          let rowInside = height % n == 0 || i < height % n ? nil : ir.icmp(LLVMIntSLT, outputRow, ir.int(height))
          Self.when(ir, rowInside) {
            // Channel c's n outputs in this row of the tile, side by side: lanes c·n…c·n + n − 1.
            let outputs = ir.interleave((0..<n).map { j in k.activated(bias.map { ir.fadd(y[i][j], $0) } ?? y[i][j]) })
            let at = ir.add(ir.mul(firstChannel, ir.int(plane)), ir.add(ir.affine(outputRow, width), ir.affine(column, n)))
            func store(columns: Int) {
              for c in 0..<count { ir.storeVector(ir.everyNth(outputs, 1, from: c * n, lanes: n), out, ir.affine(at, 1, c * plane), count: columns) }
            }
            guard width % n != 0 else { return store(columns: n) }
            ir.ifElse(ir.icmp(LLVMIntEQ, column, ir.int(tileColumns - 1))) { store(columns: width % n) } otherwise: { store(columns: n) }
          }
        }
      }
    }
  }

  /// `body` where `condition` holds, or always without one.
  private static func when(_ ir: IRBuilder, _ condition: LLVMValueRef?, _ body: () -> Void) {
    if let condition { ir.when(condition, body) } else { body() }
  }

  /// X ↦ T·X·Tᵀ for a constant matrix T, on floats or vectors.
  static func sandwich(_ ir: IRBuilder, _ t: [[Double]], _ x: [[LLVMValueRef]]) -> [[LLVMValueRef]] {
    let columns = x[0].indices.map { j in ir.combine(t, x.map { $0[j] }) }
    // columns[j][i] = (T·X)[i][j]; each row of T·X times Tᵀ.
    return t.indices.map { i in ir.combine(t, columns.map { $0[i] }) }
  }
}
