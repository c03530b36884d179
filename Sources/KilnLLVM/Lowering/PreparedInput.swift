import CLLVM
import Kiln

/// A group's input copied into scratch for the direct and Winograd convolutions: padded (any
/// padding mode, through the interpreter's pad table), extended with zeros to `depth` × `rows` ×
/// (`phases` · `phaseWidth`), and with each row split into `phases` column phases, so that column
/// w lands in phase w mod phases at w / phases. Columns `phases` apart then sit side by side, and a
/// kernel reads a run of them as one vector.
struct PreparedInput {
  let channels, inPlane: Int
  let depth, rows, phases, phaseWidth: Int
  /// The convolution's attributes and the input's spatial sizes (for the pad table).
  private let attrs: ConvAttrs
  private let spatial: [Int]

  /// Floats per prepared channel.
  var plane: Int { depth * rows * phases * phaseWidth }
  /// Floats for the group.
  var size: Int { channels * plane }

  /// `x`'s spatial sizes are lifted to (D, H, W); `depth` and `rows` may exceed the padded sizes.
  init(_ a: ConvAttrs, x: [Int], channels: Int, depth: Int, rows: Int, phases: Int, phaseWidth: Int) {
    self.channels = channels
    (self.depth, self.rows, self.phases, self.phaseWidth) = (depth, rows, phases, phaseWidth)
    attrs = a
    spatial = Array(x[2...])
    inPlane = spatial.reduce(1, *)
  }

  /// For each float of a prepared channel, the input element it copies (index within the
  /// channel's plane), or −1 for a zero. Built only where the copy is emitted: sizes and indices
  /// need none of it.
  private var table: [Int] {
    let paddedSpatial = spatial.indices.map { spatial[$0] + attrs.padding.before[$0] + attrs.padding.after[$0] }
    let pad = PadAttrs(before: [0] + attrs.padding.before, after: [0] + attrs.padding.after, mode: attrs.paddingMode)
    let paddedTable = IndexTables.pad(input: [1] + spatial, output: [1] + paddedSpatial, attrs: pad)
    let padded = WindowLift.lift(paddedSpatial, fill: 1)
    var table = [Int](repeating: -1, count: plane)
    for d in 0..<min(depth, padded[0]) {
      for h in 0..<min(rows, padded[1]) {
        for phase in 0..<phases {
          for column in 0..<phaseWidth where column * phases + phase < padded[2] {
            table[((d * rows + h) * phases + phase) * phaseWidth + column] = paddedTable[(d * padded[1] + h) * padded[2] + column * phases + phase]
          }
        }
      }
    }
    return table
  }

  /// Index of prepared float (channel c, depth d, row h, phase, column) within the group's block.
  func index(_ ir: IRBuilder, channel c: LLVMValueRef, depth d: LLVMValueRef, row h: LLVMValueRef, phase: Int, column: LLVMValueRef) -> LLVMValueRef {
    let line = ir.add(ir.mul(ir.add(ir.affine(c, depth), d), ir.int(rows)), h)
    return ir.add(ir.affine(line, phases * phaseWidth, phase * phaseWidth), column)
  }

  /// Copies the group's channels from `source` into `k.scratch`, split across threads by channel.
  func emit(_ k: Kernel, source: LLVMValueRef) {
    let table = k.ir.table(table)
    k.parallelLoop(channels, work: plane, capturing: [source]) { k, captured, c in
      let ir = k.ir
      let (from, to) = (ir.element(captured[0], ir.affine(c, inPlane)), ir.element(k.scratch!, ir.affine(c, plane)))
      ir.loop(plane) { q in ir.store(k.gathered(from, table, q), to, q) }
    }
  }
}
