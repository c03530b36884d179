import CLLVM

/// C = A·B for row-major float matrices whose sizes are known when the code is generated, as
/// register-blocked loops: a tile of C — `rows` rows × `vectors` vectors of consecutive columns —
/// stays in vector registers while k runs, each step loading the tile's vectors of B's row k once
/// and multiplying them by one broadcast element of A per row (fused multiply-adds). B may be
/// kept in panels as wide as a tile (weights prepared once), so that a tile reads it
/// sequentially.
///
/// Every element of C is the same chain of multiply-adds in k order however many rows a call
/// covers and whichever thread runs it, so results do not depend on how products are split
/// across threads — OpenBLAS's change when a product is split by rows.
struct RegisterProduct {
  let n, k, lda, ldc, lanes: Int
  /// Whether A is stored transposed: element (row, depth) at depth·lda + row.
  let transposedA: Bool
  /// B's leading dimension, or nil when B is in panels (`packedIndex`).
  let ldb: Int?
  /// The tile: rows of C × vectors of `lanes` columns.
  let rows, vectors: Int
  /// For B in panels read from memory: how many rows of a panel ahead the first block of rows
  /// asks the caches for (nil: none; see `ChannelVectorConvolution.prefetchRows`).
  let prefetchRows: Int?

  /// The plan for an [m, n] = [m, k]·[k, n] product with leading dimensions `lda`, `ldb` (nil: B
  /// in panels), `ldc`, with the tile `DirectConvolution.tiling`'s cost model picks for a target
  /// with `lanes` floats per vector and `registers` vector registers (by default 16 for 8 lanes,
  /// as with AVX2, and 32 for 16). Any number of rows up to m may be computed with it.
  init(
    m: Int, n: Int, k: Int, lda: Int, ldb: Int?, ldc: Int, lanes: Int, registers: Int? = nil, transposedA: Bool = false, prefetchRows: Int? = nil
  ) {
    (self.n, self.k, self.lda, self.ldb, self.ldc, self.lanes, self.transposedA) = (n, k, lda, ldb, ldc, lanes, transposedA)
    self.prefetchRows = ldb == nil ? prefetchRows : nil
    let registers = registers ?? VectorUnit(lanes: lanes).registers
    let tile = DirectConvolution.tiling(channels: m, rows: 1, vectors: (n + lanes - 1) / lanes, registers: registers)
    (rows, vectors) = (tile.channels, tile.vectors)
  }

  /// Columns of a panel of B: a tile's width.
  var panelWidth: Int { vectors * lanes }
  /// Floats of B in panels: each panel k rows of `panelWidth` floats (the last one padded).
  var packedSize: Int { (n + panelWidth - 1) / panelWidth * k * panelWidth }

  /// Where B's element (`row`, `column`) lies in panels.
  func packedIndex(_ ir: IRBuilder, row: LLVMValueRef, column: LLVMValueRef) -> LLVMValueRef {
    let (panel, within) = (ir.udiv(column, ir.int(panelWidth)), ir.urem(column, ir.int(panelWidth)))
    return ir.add(ir.mul(ir.add(ir.mul(panel, ir.int(k)), row), ir.int(panelWidth)), within)
  }

  /// The first `count` rows of `c` = `a`·`b`. The larger of the two operands is read
  /// once and the smaller again for each of its tiles: for each panel of B's columns, every
  /// block of rows, when B is the larger; for each block of rows, every panel, when A is.
  func emit(_ ir: IRBuilder, a: LLVMValueRef, b: LLVMValueRef, c: LLVMValueRef, count: Int) {
    // Whole panels, then the remaining columns.
    func panels(_ body: (_ column: LLVMValueRef, _ width: Int) -> Void) {
      ir.loop(n / panelWidth) { panel in body(ir.mul(panel, ir.int(panelWidth)), panelWidth) }
      if n % panelWidth > 0 { body(ir.int(n / panelWidth * panelWidth), n % panelWidth) }
    }
    if n > count {
      panels { column, width in emitPanel(ir, a: a, b: b, c: c, count: count, column: column, width: width) }
    } else {
      rowBlocks(ir, count: count) { row, rows, _ in
        panels { column, width in tile(ir, a: a, b: b, c: c, row: row, column: column, rows: rows, width: width) }
      }
    }
  }

  /// Columns `column`…+`width` (a panel: `panelWidth` or fewer in the last one) of the first
  /// `count` rows of `c` = `a`·`b`.
  func emitPanel(_ ir: IRBuilder, a: LLVMValueRef, b: LLVMValueRef, c: LLVMValueRef, count: Int, column: LLVMValueRef, width: Int) {
    rowBlocks(ir, count: count) { row, rows, first in
      tile(ir, a: a, b: b, c: c, row: row, column: column, rows: rows, width: width, prefetching: first && prefetchRows != nil)
    }
  }

  /// `body(kernel, captured, column, width)` for each panel of C's columns of a product of `m`
  /// rows: the whole panels spread over `k`'s pool, then the last, partial one here.
  func forEachPanel(
    _ k: Kernel, rows m: Int, capturing captured: [LLVMValueRef], _ body: (Kernel, [LLVMValueRef], _ column: LLVMValueRef, _ width: Int) -> Void
  ) {
    let panelWidth = panelWidth
    k.parallelLoop(n / panelWidth, work: m * panelWidth * self.k / lanes, capturing: captured) { k, captured, panel in
      body(k, captured, k.ir.mul(panel, k.ir.int(panelWidth)), panelWidth)
    }
    if n % panelWidth > 0 { body(k, captured, k.ir.int(n / panelWidth * panelWidth), n % panelWidth) }
  }

  /// Blocks of `rows` of the first `count` rows, then the rest; the first block apart from the
  /// others (`first`) when B is prefetched.
  private func rowBlocks(_ ir: IRBuilder, count: Int, _ body: (_ row: LLVMValueRef, _ rows: Int, _ first: Bool) -> Void) {
    let peeled = prefetchRows != nil && count >= rows ? 1 : 0
    if peeled > 0 { body(ir.int(0), rows, true) }
    if count / rows > peeled { ir.loop(from: ir.int(peeled), to: ir.int(count / rows)) { block in body(ir.mul(block, ir.int(rows)), rows, false) } }
    if count % rows > 0 { body(ir.int(count / rows * rows), count % rows, count < rows) }
  }

  /// All `m` rows of `c` = `a`·`b`, whole tiles of rows spread over `k`'s pool (the rest after
  /// them), A and C addressed by row through their leading dimensions.
  func emitSplittingRows(_ k: Kernel, m: Int, a: LLVMValueRef, b: LLVMValueRef, c: LLVMValueRef) {
    let (lda, ldc, transposedA) = (lda, ldc, transposedA)
    k.forRowBlocks(m, rows: rows, work: rows * n * self.k / lanes, capturing: [a, b, c]) { k, captured, row, count in
      let ir = k.ir
      emit(ir, a: ir.element(captured[0], transposedA ? row : ir.mul(row, ir.int(lda))), b: captured[1], c: ir.element(captured[2], ir.mul(row, ir.int(ldc))), count: count)
    }
  }

  /// One tile of `rows` rows × `width` columns (whole vectors but the last) in accumulators
  /// summed over k, then stored (the last vector of each row only as far as `width` reaches);
  /// `prefetching`: asking for B's panel `prefetchRows` rows ahead as it goes.
  private func tile(
    _ ir: IRBuilder, a: LLVMValueRef, b: LLVMValueRef, c: LLVMValueRef, row: LLVMValueRef, column: LLVMValueRef, rows: Int, width: Int,
    prefetching: Bool = false
  ) {
    let (vectors, lastLanes) = ((width + lanes - 1) / lanes, (width - 1) % lanes + 1)
    let type = ir.vectorType(lanes)
    let accumulators = (0..<rows * vectors).map { _ in ir.stackSlot(type: type) }
    for slot in accumulators { ir.store(ir.zeroVector(lanes), to: slot) }
    // A's element (row r, depth) at rowStarts[r] + depth·depthStride.
    let (rowStarts, depthStride) = transposedA
      ? ((0..<rows).map { ir.add(row, ir.int($0)) }, lda) : ((0..<rows).map { ir.mul(ir.add(row, ir.int($0)), ir.int(lda)) }, 1)
    ir.loop(k) { depth in
      // In panels, a tile's columns start a panel: its row `depth` is panelWidth floats long.
      let start = ldb.map { ir.add(ir.mul(depth, ir.int($0)), column) } ?? ir.add(ir.mul(column, ir.int(k)), ir.mul(depth, ir.int(panelWidth)))
      if prefetching, let ahead = prefetchRows {
        for line in Swift.stride(from: 0, to: panelWidth, by: 16) { ir.prefetch(b, ir.add(start, ir.int(ahead * panelWidth + line))) }
      }
      let values = (0..<vectors).map { vector in
        ir.loadVector(b, ir.add(start, ir.int(vector * lanes)), lanes: lanes, count: vector == vectors - 1 ? lastLanes : nil)
      }
      for r in 0..<rows {
        let weight = ir.splat(ir.load(a, ir.add(rowStarts[r], ir.scaled(depth, depthStride))), lanes: lanes)
        for vector in 0..<vectors {
          let slot = accumulators[r * vectors + vector]
          ir.store(ir.vectorFMA(weight, values[vector], ir.load(type, from: slot)), to: slot)
        }
      }
    }
    for r in 0..<rows {
      let start = ir.add(ir.mul(ir.add(row, ir.int(r)), ir.int(ldc)), column)
      for vector in 0..<vectors {
        let value = ir.load(type, from: accumulators[r * vectors + vector])
        ir.storeVector(value, c, ir.add(start, ir.int(vector * lanes)), count: vector == vectors - 1 ? lastLanes : lanes)
      }
    }
  }
}
