import CLLVM

/// C = A·B for products with few columns (convolutions on small maps at small batches, where A
/// is a layer's weights, [m, k] with k the long side): B is copied transposed into scratch, and
/// a tile of C — `rows` rows × `columns` columns — is summed along k in vectors, each element of
/// the tile a vector of partial sums, from vector loads of A's rows and Bᵀ's rows; the partial
/// sums are added up as the tile is stored. A is read in its own layout, once per tile of
/// columns, where BLAS would first copy (pack) all of it on every call: for these shapes the
/// copy costs as much as the product.
///
/// Every element of C is the same chain of operations whichever tile and thread computes it, so
/// results do not depend on how the rows are split across threads.
struct SkinnyProduct {
  let m, n, k, lanes: Int
  /// The tile: rows × columns of C, each one accumulator.
  let rows, columns: Int

  /// The most columns: with more, a `RegisterProduct` on A as it is (vectors along B's rows,
  /// A's elements broadcast) is as fast (VGG-11-CIFAR's 4×4 maps at batch 1, 16 columns: 0.68–1.16
  /// against 1.19–1.22 ms; its 2×2 maps, 4 columns: 0.38–0.44 against 0.66–1.18 ms).
  static let maximumColumns = 8

  /// Whether a product of these sizes takes this route: few columns, A of at least 64 Ki floats
  /// and rows of at least 16 floats (two vectors on AVX2, one on AVX-512).
  static func applies(m: Int, n: Int, k: Int) -> Bool { n <= maximumColumns && k >= 16 && m * k >= 1 << 16 }

  /// The plan for [m, n] = [m, k]·[k, n] with vectors of `lanes` floats (16 registers with
  /// AVX2, 32 with AVX-512): the tile with the fewest vector loads per multiply-add that leaves
  /// a register for each operand loaded in a step.
  init(m: Int, n: Int, k: Int, lanes: Int) {
    (self.m, self.n, self.k, self.lanes) = (m, n, k, lanes)
    let registers = lanes > 8 ? 32 : 16
    func blocks(_ total: Int, _ size: Int) -> [(size: Int, count: Int)] {
      [(size, total / size)] + (total % size == 0 ? [] : [(total % size, 1)])
    }
    var best = (cost: Int.max, rows: 1, columns: 1)
    for r in 1...min(m, registers - 2) {
      for q in 1...min(n, registers - 2) where r * q + r + q < registers {
        // Vector loads per step of k over all tiles (multiply-adds are m·n whatever the tile).
        let cost = blocks(m, r).reduce(0) { sum, rowBlock in
          sum + blocks(n, q).reduce(0) { $0 + rowBlock.count * $1.count * (rowBlock.size + $1.size) }
        }
        if cost < best.cost { best = (cost, r, q) }
      }
    }
    (rows, columns) = (best.rows, best.columns)
  }

  /// Floats of scratch it needs (B transposed).
  var scratch: Int { n * k }

  /// `c` [m, n] = `a` [m, k] · `b` [k, n], with `transposed` [n, k] as scratch; tiles of rows
  /// spread over `kernel`'s pool.
  func emit(_ kernel: Kernel, a: LLVMValueRef, b: LLVMValueRef, c: LLVMValueRef, transposed: LLVMValueRef) {
    let ir = kernel.ir
    let (n, k) = (n, k)
    ir.loop(k) { i in
      ir.loop(n) { j in ir.store(ir.load(b, ir.add(ir.mul(i, ir.int(n)), j)), transposed, ir.add(ir.mul(j, ir.int(k)), i)) }
    }
    kernel.forRowBlocks(m, rows: rows, work: rows * n * k / lanes, capturing: [a, transposed, c]) { kernel, captured, first, rows in
      rowBlock(kernel.ir, first: first, rows: rows, a: captured[0], transposed: captured[1], c: captured[2])
    }
  }

  /// Rows `first`..<`first + rows` of C, a tile of columns at a time.
  private func rowBlock(_ ir: IRBuilder, first: LLVMValueRef, rows: Int, a: LLVMValueRef, transposed: LLVMValueRef, c: LLVMValueRef) {
    let (whole, rest) = (n / columns, n % columns)
    ir.loop(whole) { block in tile(ir, row: first, column: ir.mul(block, ir.int(columns)), rows: rows, columns: columns, a: a, transposed: transposed, c: c) }
    if rest > 0 { tile(ir, row: first, column: ir.int(whole * columns), rows: rows, columns: rest, a: a, transposed: transposed, c: c) }
  }

  /// One tile: `rows` × `columns` vector accumulators over k (the last vector masked), then
  /// each one's lanes added up and stored.
  private func tile(
    _ ir: IRBuilder, row: LLVMValueRef, column: LLVMValueRef, rows: Int, columns: Int, a: LLVMValueRef, transposed: LLVMValueRef, c: LLVMValueRef
  ) {
    let type = ir.vectorType(lanes)
    let accumulators = (0..<rows * columns).map { _ in ir.stackSlot(type: type) }
    for slot in accumulators { ir.store(ir.zeroVector(lanes), to: slot) }
    let aStarts = (0..<rows).map { ir.mul(ir.add(row, ir.int($0)), ir.int(k)) }
    let bStarts = (0..<columns).map { ir.mul(ir.add(column, ir.int($0)), ir.int(k)) }
    func step(_ depth: LLVMValueRef, count: Int?) {
      let bs = bStarts.map { ir.loadVector(transposed, ir.add($0, depth), lanes: lanes, count: count) }
      for (r, start) in aStarts.enumerated() {
        let value = ir.loadVector(a, ir.add(start, depth), lanes: lanes, count: count)
        for (q, b) in bs.enumerated() {
          let slot = accumulators[r * columns + q]
          ir.store(ir.vectorFMA(value, b, ir.load(type, from: slot)), to: slot)
        }
      }
    }
    ir.loop(k / lanes) { block in step(ir.mul(block, ir.int(lanes)), count: nil) }
    if k % lanes > 0 { step(ir.int(k / lanes * lanes), count: k % lanes) }
    for r in 0..<rows {
      for q in 0..<columns {
        let total = ir.laneSum(ir.load(type, from: accumulators[r * columns + q]))
        ir.store(total, c, ir.add(ir.mul(ir.add(row, ir.int(r)), ir.int(n)), ir.add(column, ir.int(q))))
      }
    }
  }
}
