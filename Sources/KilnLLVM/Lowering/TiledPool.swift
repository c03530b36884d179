import CLLVM
import Kiln

/// Pools whose windows tile a planar input exactly (stride = kernel, at most 4 columns wide, no
/// padding or dilation: the 2×2 pools of LeNet-5 and VGG) as vector code over rows of windows.
///
/// The output rows of all planes form one sequence, and output row r reads input rows
/// r·kh … r·kh + kh − 1; a vector of L outputs reads kw·L contiguous floats of each and splits
/// them by tap column. Rows are covered by vectors of L outputs from the start, the last one
/// ending at the row's end (overlapping the one before: it writes the same values again), so no
/// lane is masked. The gradient writes every input exactly once (its window's gradient or zero),
/// the taps interleaved back. Taps are visited in the interpreter's order (window row, then
/// column), so maxima, first maxima and sums are its own.
struct TiledPool {
  let kind: PoolKind
  /// Output rows of every plane together, and output columns per row.
  let rows, columns: Int
  /// The window's rows and columns (= the strides).
  let windowRows, windowColumns: Int

  /// The tiled form of `pool` with `outputs` outputs, when its windows tile the input.
  init?(_ pool: PoolLowering, outputs: Int) {
    guard pool.tilesInput, pool.kernel[0] == 1, pool.kernel[2] <= 4 else { return nil }
    kind = pool.attrs.kind
    columns = pool.output[2]
    rows = outputs / columns
    (windowRows, windowColumns) = (pool.kernel[1], pool.kernel[2])
  }

  private var taps: Int { windowRows * windowColumns }
  private var inputColumns: Int { columns * windowColumns }

  /// `body(row, column, lanes)` for every vector of `lanes` outputs starting at output `column`
  /// of output row `row`, on the pool.
  private func forEachVector(_ k: Kernel, _ body: (Kernel, _ row: LLVMValueRef, _ column: LLVMValueRef, _ lanes: Int) -> Void) {
    let lanes = k.vectors.lanes(covering: columns)
    k.parallelLoop(rows, work: columns * taps) { k, _, row in
      k.ir.overlappingVectors(columns, lanes: lanes) { column in body(k, row, column, lanes) }
    }
  }

  /// Where window row `windowRow` of the windows from output (`row`, `column`) starts in the input.
  private func inputStart(_ ir: IRBuilder, row: LLVMValueRef, windowRow: Int, column: LLVMValueRef) -> LLVMValueRef {
    ir.add(ir.mul(ir.add(ir.mul(row, ir.int(windowRows)), ir.int(windowRow)), ir.int(inputColumns)), ir.mul(column, ir.int(windowColumns)))
  }

  /// The window's taps for `lanes` windows, in the interpreter's order: one vector per tap.
  private func loadTaps(_ k: Kernel, row: LLVMValueRef, column: LLVMValueRef, lanes: Int) -> [LLVMValueRef] {
    let ir = k.ir
    return (0..<windowRows).flatMap { windowRow in
      let line = ir.loadVector(k.inputs[0], inputStart(ir, row: row, windowRow: windowRow, column: column), lanes: windowColumns * lanes)
      return (0..<windowColumns).map { ir.everyNth(line, windowColumns, from: $0, lanes: lanes) }
    }
  }

  /// Stores one vector per tap (in `loadTaps`' order) back into the input's layout.
  private func storeTaps(_ k: Kernel, _ values: [LLVMValueRef], row: LLVMValueRef, column: LLVMValueRef) {
    let ir = k.ir
    for windowRow in 0..<windowRows {
      let line = ir.interleave(Array(values[(windowRow * windowColumns)..<((windowRow + 1) * windowColumns)]))
      ir.storeVector(line, k.output, inputStart(ir, row: row, windowRow: windowRow, column: column))
    }
  }

  /// y = pool(x).
  func forward(_ k: Kernel) {
    forEachVector(k) { k, row, column, lanes in
      let (ir, taps) = (k.ir, loadTaps(k, row: row, column: column, lanes: lanes))
      let result = switch kind {
      case .max: taps.dropFirst().reduce(taps[0]) { ir.fmax($0, $1) }
      case .average: ir.fdiv(taps.dropFirst().reduce(taps[0]) { ir.fadd($0, $1) }, ir.constant(Double(self.taps), like: taps[0]))
      }
      ir.storeVector(result, k.output, ir.add(ir.mul(row, ir.int(columns)), column))
    }
  }

  /// dx from x and dy: each window's gradient goes to its first maximum, or a share to each tap.
  func gradient(_ k: Kernel) {
    forEachVector(k) { k, row, column, lanes in
      let ir = k.ir
      let dy = ir.loadVector(k.inputs[1], ir.add(ir.mul(row, ir.int(columns)), column), lanes: lanes)
      switch kind {
      case .max:
        let taps = loadTaps(k, row: row, column: column, lanes: lanes)
        var (best, first) = (taps[0], ir.int32Vector(0, lanes: lanes))
        for (tap, value) in taps.enumerated().dropFirst() {
          let better = ir.isPreferredMaximum(value, over: best)
          (best, first) = (ir.select(better, value, best), ir.select(better, ir.int32Vector(tap, lanes: lanes), first))
        }
        let zero = ir.zeroVector(lanes)
        let values = (0..<taps.count).map { ir.select(ir.icmp(LLVMIntEQ, first, ir.int32Vector($0, lanes: lanes)), dy, zero) }
        storeTaps(k, values, row: row, column: column)
      case .average:
        let share = ir.fdiv(dy, ir.constant(Double(taps), like: dy))
        storeTaps(k, Array(repeating: share, count: taps), row: row, column: column)
      }
    }
  }
}
