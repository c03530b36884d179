import CLLVM

/// A walk over a shape in row-major order in which every operand sits at an affine offset:
/// Σ coordinate·stride, with stride 0 along the axes it is broadcast over (or reduced over).
/// Broadcasting and reductions index this way instead of through a table of one offset per
/// element (tables of millions of entries for batch-norm statistics made large constants, slow
/// compiles and gathers that never vectorise). Adjacent axes that every operand walks
/// contiguously merge, so a walk is usually a few rows of one long, vectorisable inner loop.
struct StridedWalk {
  /// Extents of the merged axes, outermost first (at least one).
  let extents: [Int]
  /// Per operand, its stride along each merged axis.
  let strides: [[Int]]

  /// A walk over `shape` with each operand's stride along each of its axes.
  init(shape: [Int], operandStrides: [[Int]]) {
    var extents: [Int] = []
    var strides: [[Int]] = operandStrides.map { _ in [] }
    for axis in shape.indices where shape[axis] != 1 {
      if let last = extents.last, operandStrides.indices.allSatisfy({ strides[$0].last! == operandStrides[$0][axis] * shape[axis] }) {
        extents[extents.count - 1] = last * shape[axis]
        for operand in strides.indices { strides[operand][strides[operand].count - 1] = operandStrides[operand][axis] }
      } else {
        extents.append(shape[axis])
        for operand in strides.indices { strides[operand].append(operandStrides[operand][axis]) }
      }
    }
    if extents.isEmpty { (extents, strides) = ([1], strides.map { _ in [0] }) }
    self.extents = extents
    self.strides = strides
  }

  /// Row-major strides of `shape`.
  static func contiguous(_ shape: [Int]) -> [Int] {
    shape.indices.map { shape[($0 + 1)...].reduce(1, *) }
  }

  /// Strides over `target`'s axes of a `source` broadcast to it (NumPy's rule: shapes aligned on
  /// the right, size-1 and missing axes repeat).
  static func broadcast(source: [Int], target: [Int]) -> [Int] {
    let own = contiguous(source)
    let offset = target.count - source.count
    return target.indices.map { axis in axis < offset || source[axis - offset] == 1 ? 0 : own[axis - offset] }
  }

  /// Strides over `input`'s axes of the output of a reduction over `axes` (0 along them).
  static func reduction(input: [Int], axes: [Int]) -> [Int] {
    let kept = input.indices.map { axes.contains($0) ? 1 : input[$0] }
    let own = contiguous(kept)
    return input.indices.map { axes.contains($0) ? 0 : own[$0] }
  }

  /// Rows: every merged axis but the innermost.
  var rows: Int { extents.dropLast().reduce(1, *) }
  /// Elements of a row.
  var inner: Int { extents.last! }
  /// Per operand, its stride along a row.
  var innerStrides: [Int] { strides.map { $0.last! } }

  /// `body(offsets)` with every operand's offset, for each element of the walk: rows split across
  /// `k`'s pool when large enough (a single row is split into pieces), each row an inner loop.
  /// `body` reaches operands through the kernel it is given.
  func forEach(_ k: Kernel, _ body: (Kernel, [LLVMValueRef]) -> Void) {
    let inner = innerStrides
    func element(_ k: Kernel, _ i: LLVMValueRef) { body(k, inner.map { k.ir.scaled(i, $0) }) }
    func row(_ k: Kernel, _ row: LLVMValueRef) {
      let offsets = rowOffsets(k.ir, row: row)
      k.ir.loop(self.inner) { j in body(k, offsets.indices.map { k.ir.add(offsets[$0], k.ir.scaled(j, inner[$0])) }) }
    }
    if rows == 1 {
      k.parallelLoop(self.inner, work: 1) { k, _, i in element(k, i) }
    } else {
      k.parallelLoop(rows, work: self.inner) { k, _, r in row(k, r) }
    }
  }

  /// Per operand, the offset at which row `row` starts.
  func rowOffsets(_ ir: IRBuilder, row: LLVMValueRef) -> [LLVMValueRef] {
    var offsets = strides.map { _ in ir.int(0) }
    var rest = row
    for axis in extents.indices.dropLast().reversed() {
      let coordinate = axis == 0 ? rest : ir.urem(rest, ir.int(extents[axis]))
      for operand in offsets.indices where strides[operand][axis] != 0 {
        offsets[operand] = ir.add(offsets[operand], ir.scaled(coordinate, strides[operand][axis]))
      }
      if axis > 0 { rest = ir.udiv(rest, ir.int(extents[axis])) }
    }
    return offsets
  }
}
