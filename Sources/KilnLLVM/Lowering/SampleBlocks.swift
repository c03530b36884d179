import CLLVM

/// Convolutions through im2col and GEMM on small maps take several samples per product. One
/// sample's map of P positions makes a product only P columns wide, which BLAS runs far below
/// peak: each call packs a whole weight matrix (forward, input gradient) or reads and writes the
/// whole weight gradient (weight gradient) for P columns' worth of work. A block of `count`
/// samples lays their columns side by side — sample j at column j·P of rows count·P long — so
/// one product covers them all; maps of `columns` positions or more keep one sample per product.
struct SampleBlocks {
  /// Columns a block aims for: BLAS is near its best from a few hundred columns on, and the
  /// gathered matrices stay a few megabytes.
  static let columns = 256

  /// Samples in a full block.
  let size: Int
  let batch: Int

  /// Blocks of samples of `positions` columns each, as many as reach `columns` columns.
  init(batch: Int, positions: Int, columns: Int = Self.columns) {
    self.batch = batch
    size = min(batch, max(1, (columns + positions - 1) / positions))
  }

  /// The sample counts of the blocks code is generated for: a full block (looped over) and the
  /// partial last one, where there are any.
  var counts: [Int] { (batch >= size ? [size] : []) + (batch % size > 0 ? [batch % size] : []) }

  /// Full blocks.
  var full: Int { batch / size }

  /// `body(kernel, first, count)` for every block: the full blocks in `slices` runs on the pool,
  /// each with its own `scratchPerSlice` floats of scratch (`Kernel.forSlices`; one slice: in a
  /// loop here), then the partial one here, on the first slice's scratch.
  func forEach(
    _ k: Kernel, slices: Int, work: Int, scratchPerSlice: Int, _ body: (_ k: Kernel, _ first: LLVMValueRef, _ count: Int) -> Void
  ) {
    k.forSlices(full, slices: slices, work: work, scratchPerSlice: scratchPerSlice) { k, block in body(k, k.ir.mul(block, k.ir.int(size)), size) }
    if batch % size > 0 { body(k, k.ir.int(full * size), batch % size) }
  }

  /// Copies `rows` rows of `positions` floats of each of `count` samples (sample j's rows start
  /// at `source` + j·`sampleStride`) into `target` [rows, count·positions].
  static func gather(_ ir: IRBuilder, from source: LLVMValueRef, sampleStride: Int, rows: Int, positions: Int, count: Int, into target: LLVMValueRef) {
    ir.loop(count) { j in
      ir.loop(rows) { row in
        let from = ir.element(source, ir.add(ir.mul(j, ir.int(sampleStride)), ir.mul(row, ir.int(positions))))
        ir.copy(positions, from: from, to: ir.element(target, ir.add(ir.mul(row, ir.int(count * positions)), ir.mul(j, ir.int(positions)))))
      }
    }
  }

  /// The inverse of `gather`: `source` [rows, count·positions] back to each sample's rows.
  static func scatter(_ ir: IRBuilder, from source: LLVMValueRef, rows: Int, positions: Int, count: Int, into target: LLVMValueRef, sampleStride: Int) {
    ir.loop(count) { j in
      ir.loop(rows) { row in
        let from = ir.element(source, ir.add(ir.mul(row, ir.int(count * positions)), ir.mul(j, ir.int(positions))))
        ir.copy(positions, from: from, to: ir.element(target, ir.add(ir.mul(j, ir.int(sampleStride)), ir.mul(row, ir.int(positions)))))
      }
    }
  }
}
