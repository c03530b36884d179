import CLLVM
import Kiln

/// 3×3 stride-1 convolutions by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray 2016):
/// each 4×4 block of outputs comes from a 6×6 block of input in 36 multiplies per channel pair
/// instead of 144, so the multiply-adds drop by 4×.
///
/// Per block of samples: each sample's input is prepared (padded, rows split into 4 column
/// phases, so that the same corner of 8 or 16 neighbouring tiles is one vector) and each
/// channel's tiles are transformed, V = Bᵀ·d·B, into 36 matrices V[ξ] (channels × the block's
/// tiles, sample after sample); GEMMs give M[ξ] = U[ξ]·V[ξ] with the transformed weights
/// U = G·g·Gᵀ (outputs × channels); and the output transform Aᵀ·m·A, bias and activation produce
/// 4×4 outputs per tile, interleaved back into each sample's rows. Small maps take several
/// samples per block, so that the GEMMs stay wide (`SampleBlocks`). The weights are
/// transformed only when they change: the kernel keeps U and a copy of the weights it came from
/// between runs, and compares the copy with the weights on each run (a fraction of the work).
/// Rounding differs from the direct sum: measured within 3.5e-6 of the largest output of a layer.
struct WinogradConvolution {
  let s: ConvolutionShape
  let prepared: PreparedInput
  let height, width, tileRows, tileColumns, lanes: Int
  /// Samples per block; the last block may hold fewer.
  let blocks: SampleBlocks

  /// Bᵀ, G and Aᵀ of F(4×4, 3×3) with interpolation points 0, ±1, ±2 and ∞.
  static let inputTransform: [[Double]] = [
    [4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1],
  ]
  static let weightTransform: [[Double]] = [
    [1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6], [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6],
    [0, 0, 1],
  ]
  static let outputTransform: [[Double]] = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]

  /// Tiles a block of samples aims for (a 28×28 map's; larger maps take one sample a block).
  static let targetTiles = 49
  /// The fewest tiles a block must reach for Winograd to pay: fewer make GEMMs too narrow and
  /// transforms too large a share.
  static let minimumTiles = 32

  /// The plan for a convolution of `x` by `weight`, or nil where Winograd does not apply or does
  /// not pay: it needs a 2D 3×3 filter, stride and dilation 1, one group, at least 16 input and
  /// output channels (below that the GEMMs are too small to gain), a block of samples of at
  /// least `minimumTiles` tiles, and tiles that cover at most twice the map (a 2×2 map in one 4×4
  /// tile takes as many multiplies as the direct sum).
  init?(_ a: ConvAttrs, x: [Int], weight: [Int], output: [Int], lanes: Int) {
    guard x.count == 4, weight[2] == 3, weight[3] == 3, a.stride == [1, 1], a.dilation == [1, 1], a.groups == 1, x[1] >= 16, weight[0] >= 16
    else { return nil }
    s = ConvolutionShape(x: x, weight: weight, output: output, groups: 1)
    (height, width) = (output[2], output[3])
    (tileRows, tileColumns) = ((height + 3) / 4, (width + 3) / 4)
    blocks = SampleBlocks(batch: x[0], positions: tileRows * tileColumns, columns: Self.targetTiles)
    guard blocks.size * tileRows * tileColumns >= Self.minimumTiles, 16 * tileRows * tileColumns <= 2 * height * width else { return nil }
    self.lanes = lanes
    // Tile t's input columns 4t…4t+5 are phases 0–3 at t and phases 0–1 at t + 1.
    prepared = PreparedInput(
      a, x: x, channels: s.inChannels, depth: 1, rows: 4 * tileRows + 2, phases: 4, phaseWidth: (tileColumns + lanes - 1) / lanes * lanes + 1)
  }

  /// Tiles of one sample.
  var tiles: Int { tileRows * tileColumns }
  /// Tiles of a full block: the row length of V and M.
  var blockTiles: Int { blocks.size * tiles }
  /// Scratch: one sample's prepared input, V and M (with a vector of slack: the last tiles' loads
  /// run past M).
  var scratchSize: Int { prepared.size + 36 * blockTiles * (s.inChannels + s.outChannels) + lanes }
  /// Kept between runs: U (36 × outputs × channels) and the weights it was computed from.
  var persistentSize: Int { 36 * s.outChannels * s.inChannels + s.outChannels * s.inChannels * 9 }

  func emit(_ k: Kernel) {
    let ir = k.ir
    guard let scratch = k.scratch, let persistent = k.persistent else { return }
    let (channels, outputs) = (s.inChannels, s.outChannels)
    let transformed = persistent
    let copy = ir.element(persistent, ir.int(36 * outputs * channels))
    let v = ir.element(scratch, ir.int(prepared.size))
    let m = ir.element(v, ir.int(36 * channels * blockTiles))
    transformWeights(k, weights: k.inputs[1], copy: copy, transformed: transformed)
    // One body for every block, the last one's sample count chosen at run time (the transforms
    // are most of the code); only the GEMMs' width differs in a partial last block.
    let (size, full) = (blocks.size, s.batch / blocks.size)
    let rest = s.batch % size
    ir.loop(full + (rest > 0 ? 1 : 0)) { block in
      let first = ir.mul(block, ir.int(size))
      let partial = ir.icmp(LLVMIntEQ, block, ir.int(full))
      let count = rest > 0 ? ir.select(partial, ir.int(rest), ir.int(size)) : ir.int(size)
      ir.loop(from: ir.int(0), to: count, knownNonEmpty: true) { j in
        prepared.emit(k, source: ir.element(k.inputs[0], ir.affine(ir.add(first, j), channels * s.inPlane)))
        transformInput(k, v: ir.element(v, ir.affine(j, tiles)))
      }
      if rest > 0 {
        ir.ifElse(partial) {
          multiply(k, transformed: transformed, v: v, m: m, columns: rest * tiles)
        } otherwise: {
          multiply(k, transformed: transformed, v: v, m: m, columns: size * tiles)
        }
      } else {
        multiply(k, transformed: transformed, v: v, m: m, columns: size * tiles)
      }
      ir.loop(from: ir.int(0), to: count, knownNonEmpty: true) { j in
        transformOutput(k, m: ir.element(m, ir.affine(j, tiles)), out: ir.element(k.output, ir.affine(ir.add(first, j), outputs * s.outPlane)))
      }
    }
  }

  /// M[ξ] = U[ξ]·V[ξ] for the 36 ξ over the block's first `columns` tiles, one register-blocked
  /// product per ξ, the 36 spread over the pool's threads (each product's results do not depend
  /// on which thread runs it).
  private func multiply(_ k: Kernel, transformed: LLVMValueRef, v: LLVMValueRef, m: LLVMValueRef, columns: Int) {
    let (channels, outputs, stride) = (s.inChannels, s.outChannels, blockTiles)
    let product = RegisterProduct(m: outputs, n: columns, k: channels, lda: channels, ldb: stride, ldc: stride, lanes: lanes)
    k.parallelLoop(36, work: outputs * columns * channels / lanes, capturing: [transformed, v, m]) { k, captured, xi in
      let ir = k.ir
      product.emit(
        ir, a: ir.element(captured[0], ir.affine(xi, outputs * channels)), b: ir.element(captured[1], ir.affine(xi, channels * stride)),
        c: ir.element(captured[2], ir.affine(xi, outputs * stride)), first: ir.int(0), count: outputs)
    }
  }

  /// U[ξ][k][c] = (G·g[k][c]·Gᵀ)[ξ], recomputed only when the weights differ from `copy`.
  private func transformWeights(_ k: Kernel, weights: LLVMValueRef, copy: LLVMValueRef, transformed: LLVMValueRef) {
    let ir = k.ir
    let count = s.outChannels * s.inChannels * 9
    ir.when(ir.differs(weights, copy, count: count)) {
      ir.loop(s.outChannels * s.inChannels) { pair in
        let g = (0..<3).map { i in (0..<3).map { j in ir.load(weights, ir.affine(pair, 9, 3 * i + j)) } }
        let u = Self.sandwich(ir, Self.weightTransform, g)
        for (xi, value) in u.joined().enumerated() { ir.store(value, transformed, ir.affine(pair, 1, xi * s.outChannels * s.inChannels)) }
      }
      ir.copy(count, from: weights, to: copy)
    }
  }

  /// V[ξ][c][t] = (Bᵀ·d·B)[ξ] for every channel c and tile t of the prepared sample, `lanes`
  /// tiles of a row at a time; `v` points at the sample's first tile in V.
  private func transformInput(_ k: Kernel, v: LLVMValueRef) {
    let (channels, tiles, stride, prepared, lanes) = (s.inChannels, self.tiles, blockTiles, self.prepared, self.lanes)
    k.parallelLoop(channels, work: tiles * 36 * 12, capturing: [v]) { k, captured, c in
      let ir = k.ir
      self.rowVectors(ir) { row, column, count in
        // d[i][j] of `lanes` tiles: input row 4·row + i, column 4·t + j (phase j mod 4, at t + j / 4).
        let d = (0..<6).map { i in
          (0..<6).map { j in
            ir.loadVector(
              k.scratch!, prepared.index(ir, channel: c, depth: ir.int(0), row: ir.affine(row, 4, i), phase: j % 4, column: ir.affine(column, 1, j / 4)),
              lanes: lanes)
          }
        }
        let first = ir.add(ir.affine(c, stride), ir.add(ir.affine(row, self.tileColumns), column))
        for (xi, value) in Self.sandwich(ir, Self.inputTransform, d).joined().enumerated() {
          ir.storeVector(value, captured[0], ir.affine(first, 1, xi * channels * stride), count: count)
        }
      }
    }
  }

  /// y = f(Aᵀ·m·A + b) for every output channel of one sample, interleaved from 4 vectors of
  /// tiles into rows; `m` points at the sample's first tile in M.
  private func transformOutput(_ k: Kernel, m: LLVMValueRef, out: LLVMValueRef) {
    let (outputs, tiles, stride, height, width, lanes) = (s.outChannels, self.tiles, blockTiles, self.height, self.width, self.lanes)
    k.parallelLoop(outputs, work: tiles * 36 * 8, capturing: [m, out]) { k, captured, channel in
      let ir = k.ir
      let bias = k.inputs.count > 2 ? ir.splat(ir.load(k.inputs[2], channel), lanes: lanes) : nil
      self.rowVectors(ir) { row, column, count in
        let first = ir.add(ir.affine(channel, stride), ir.add(ir.affine(row, self.tileColumns), column))
        let values = (0..<36).map { xi in ir.loadVector(captured[0], ir.affine(first, 1, xi * outputs * stride), lanes: lanes) }
        let y = Self.sandwich(ir, Self.outputTransform, (0..<6).map { Array(values[(6 * $0)..<(6 * $0 + 6)]) })
        for i in 0..<4 {
          // Row 4·row + i exists unless the last tile row hangs over the map.
          let outputRow = ir.affine(row, 4, i)
          ir.when(ir.icmp(LLVMIntSLT, outputRow, ir.int(height))) {
            let activated = y[i].map { value -> LLVMValueRef in
              var value = bias.map { ir.fadd(value, $0) } ?? value
              if let function = k.epilogue { value = Lowering.unary(ir, function, value) }
              return value
            }
            let start = ir.add(ir.affine(ir.add(ir.affine(channel, height), outputRow), width), ir.affine(column, 4))
            // Columns left in this row from the first tile's, of the 4·count the vectors hold.
            let remaining = ir.sub(ir.int(width), ir.affine(column, 4))
            for (index, vector) in ir.interleave(activated).enumerated() {
              let offset = index * lanes
              guard offset < 4 * count else { break }
              let full = ir.icmp(LLVMIntSGE, remaining, ir.int(offset + lanes))
              ir.ifElse(full) {
                ir.storeVector(vector, captured[1], ir.affine(start, 1, offset))
              } otherwise: {
                ir.storePrefix(vector, captured[1], ir.affine(start, 1, offset), count: ir.sub(remaining, ir.int(offset)))
              }
            }
          }
        }
      }
    }
  }

  /// `body(row, first column, tiles)` for every tile row and every run of `lanes` tiles in it
  /// (the last run holds the rest).
  private func rowVectors(_ ir: IRBuilder, _ body: (LLVMValueRef, LLVMValueRef, Int) -> Void) {
    let (whole, rest) = (tileColumns / lanes, tileColumns % lanes)
    ir.loop(tileRows) { row in
      ir.loop(whole) { vector in body(row, ir.affine(vector, lanes), lanes) }
      if rest > 0 { body(row, ir.int(whole * lanes), rest) }
    }
  }

  /// X ↦ T·X·Tᵀ for a constant matrix T, on floats or vectors.
  static func sandwich(_ ir: IRBuilder, _ t: [[Double]], _ x: [[LLVMValueRef]]) -> [[LLVMValueRef]] {
    let columns = x[0].indices.map { j in ir.combine(t, x.map { $0[j] }) }
    // columns[j][i] = (T·X)[i][j]; each row of T·X times Tᵀ.
    return t.indices.map { i in ir.combine(t, columns.map { $0[i] }) }
  }
}
