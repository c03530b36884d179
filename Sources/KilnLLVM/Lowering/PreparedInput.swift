import CLLVM
import Kiln

/// A group's input copied into scratch for the direct and Winograd convolutions: padded (any
/// padding mode, through the interpreter's pad table), extended with zeros to `depth` × `rows` ×
/// (`phases` · `phaseWidth`), and with each row split into `phases` column phases, so that column
/// w lands in phase w mod phases at w / phases. Columns `phases` apart then sit side by side, and a
/// kernel reads a run of them as one vector. With a `channelBlock` of b, channels are interleaved
/// in blocks of b (float q of channel c at (c / b)·b·plane + q·b + c mod b), so that b channels'
/// floats at one position are one vector.
struct PreparedInput {
  let channels, inPlane: Int
  let depth, rows, phases, phaseWidth, channelBlock: Int
  /// The convolution's attributes and the input's spatial sizes (for the pad table).
  private let attrs: ConvAttrs
  private let spatial: [Int]

  /// Floats per prepared channel.
  var plane: Int { depth * rows * phases * phaseWidth }
  /// Floats for the group (its channels rounded up to whole blocks).
  var size: Int { (channels + channelBlock - 1) / channelBlock * channelBlock * plane }

  /// `x`'s spatial sizes are lifted to (D, H, W); `depth` and `rows` may exceed the padded sizes.
  init(_ a: ConvAttrs, x: [Int], channels: Int, depth: Int, rows: Int, phases: Int, phaseWidth: Int, channelBlock: Int = 1) {
    self.channels = channels
    self.channelBlock = channelBlock
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

  /// Index of prepared float (channel c, depth d, row h, phase, column) within the group's block
  /// (channels not interleaved).
  func index(_ ir: IRBuilder, channel c: LLVMValueRef, depth d: LLVMValueRef, row h: LLVMValueRef, phase: Int, column: LLVMValueRef) -> LLVMValueRef {
    let line = ir.add(ir.mul(ir.add(ir.affine(c, depth), d), ir.int(rows)), h)
    return ir.add(ir.affine(line, phases * phaseWidth, phase * phaseWidth), column)
  }

  /// Copies the group's channels from `source` into `target` (by default the start of
  /// `k.scratch`), split across threads by channel block (the last block's missing channels are
  /// left as they are).
  func emit(_ k: Kernel, source: LLVMValueRef, into target: LLVMValueRef? = nil) {
    let table = k.ir.table(table)
    let (block, whole, rest) = (channelBlock, channels / channelBlock, channels % channelBlock)
    k.parallelLoop(whole + (rest > 0 ? 1 : 0), work: plane * block, capturing: [source, target ?? k.scratch!]) { k, captured, index in
      let ir = k.ir
      func copy(_ count: Int) {
        let from = (0..<count).map { ir.element(captured[0], ir.affine(ir.affine(index, block, $0), inPlane)) }
        let to = ir.element(captured[1], ir.affine(index, block * plane))
        ir.loop(plane) { q in
          for (lane, channel) in from.enumerated() { ir.store(k.gathered(channel, table, q), to, ir.affine(q, block, lane)) }
        }
      }
      ir.forBlock(index, whole: whole, size: block, rest: rest, copy)
    }
  }
}
