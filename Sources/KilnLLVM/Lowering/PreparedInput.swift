import CLLVM
import Kiln

/// A group's input copied into scratch for the direct and Winograd convolutions: padded (any
/// padding mode, through the interpreter's pad table), extended with zeros to `depth` × `rows` ×
/// (`phases` · `phaseWidth`), and with each row split into `phases` column phases, so that column
/// w lands in phase w mod phases at w / phases. Columns `phases` apart then sit side by side, and a
/// kernel reads a run of them as one vector. With a `channelBlock` of b, channels are interleaved
/// in blocks of b (float q of channel c at (c / b)·b·plane + q·b + c mod b), so that b channels'
/// floats at one position are one vector.
///
/// In the `shifted` layout, each channel is instead copied once per filter column kw, (kw, d, h,
/// column), column c of copy kw holding padded column c·stride + kw·dilation: with the copies
/// `phaseWidth` = the output's width, the taps (kh, kw) of a convolution of stride 1 in height
/// read the output plane's positions, row after row, as one run of floats. For a height stride
/// s > 1 each copy's rows are also split by s, (kw, h mod s, d, h / s, column) with `rows` a
/// multiple of s: tap kh then reads phase kh·dilation mod s from row kh·dilation / s on, again one
/// run for the whole plane.
struct PreparedInput {
  /// How a prepared channel is laid out.
  enum Layout: Hashable {
    /// (d, h, phase, column): each row's columns split by the width stride into `phases`.
    case phases
    /// (kw, d, h, column): one copy per filter column (`phases` of them), shifted by kw·dilation,
    /// its rows split by `rowStride` (kw, h mod rowStride, d, h / rowStride, column).
    case shifted(stride: Int, dilation: Int, rowStride: Int)
  }

  let channels, inPlane: Int
  let depth, rows, phases, phaseWidth, channelBlock: Int
  let layout: Layout
  /// The convolution's attributes and the input's spatial sizes (for the pad table).
  private let attrs: ConvAttrs
  private let spatial: [Int]

  /// Floats per prepared channel.
  var plane: Int { depth * rows * phases * phaseWidth }
  /// Floats for the group (its channels rounded up to whole blocks).
  var size: Int { (channels + channelBlock - 1) / channelBlock * channelBlock * plane }

  /// `x`'s spatial sizes are lifted to (D, H, W); `depth` and `rows` may exceed the padded sizes.
  init(_ a: ConvAttrs, x: [Int], channels: Int, depth: Int, rows: Int, phases: Int, phaseWidth: Int, channelBlock: Int = 1, layout: Layout = .phases) {
    self.channels = channels
    self.channelBlock = channelBlock
    self.layout = layout
    (self.depth, self.rows, self.phases, self.phaseWidth) = (depth, rows, phases, phaseWidth)
    attrs = a
    spatial = Array(x[2...])
    inPlane = spatial.reduce(1, *)
  }

  /// Where each padded position along each lifted axis (D, H, W) comes from in the input: its
  /// index along that axis, or −1 for a zero. Padding maps every axis on its own, in every mode.
  private var axisSources: [[Int]] {
    let lifted = WindowGeometry.lift(spatial, fill: 1)
    let (before, after) = (WindowGeometry.lift(attrs.padding.before, fill: 0), WindowGeometry.lift(attrs.padding.after, fill: 0))
    return (0..<3).map { axis in
      let pad = PadAttrs(before: [0, before[axis]], after: [0, after[axis]], mode: attrs.paddingMode)
      return IndexTables.pad(input: [1, lifted[axis]], output: [1, lifted[axis] + before[axis] + after[axis]], attrs: pad)
    }
  }

  /// Rows of a prepared channel's lines are split by this (the `shifted` layout's row stride).
  private var rowStride: Int {
    guard case .shifted(_, _, let rowStride) = layout else { return 1 }
    return rowStride
  }

  /// For each line of a prepared channel (`depth` × `rows` of them, in the order `line(depth:row:)`
  /// gives), the offset in the channel's input plane of the row it copies from, or −1 for a line of
  /// zeros.
  private var lineSources: [Int] {
    let sources = axisSources
    let (height, width) = (WindowGeometry.lift(spatial, fill: 1)[1], WindowGeometry.lift(spatial, fill: 1)[2])
    var lines = [Int](repeating: -1, count: depth * rows)
    for d in 0..<depth {
      for h in 0..<rows where d < sources[0].count && h < sources[1].count && sources[0][d] >= 0 && sources[1][h] >= 0 {
        lines[line(depth: d, row: h)] = (sources[0][d] * height + sources[1][h]) * width
      }
    }
    return lines
  }

  /// The line of padded row `row` at depth `depth` within a prepared channel (or copy):
  /// d·rows + h, or with rows split by a stride s, ((h mod s)·depth + d)·rows/s + h/s.
  private func line(depth d: Int, row h: Int) -> Int {
    rowStride == 1 ? d * rows + h : (h % rowStride * depth + d) * (rows / rowStride) + h / rowStride
  }

  /// A stretch of a line: `count` columns from `column` on, copying input columns `source`,
  /// `source` + `step`, … of the line's row, or zeros (a nil source).
  private struct Run {
    var column, count: Int
    var source: Int?
    var step = 0
  }

  /// The runs of the lines of `phase` (the same for every line of a phase), left to right, each
  /// as long as it can be: the zeros or edge columns of padding, and the columns inside the input.
  private func runs(phase: Int) -> [Run] {
    let columns = axisSources[2]
    let (step, first) = switch layout {
    case .phases: (phases, phase)
    case .shifted(let stride, let dilation, _): (stride, phase * dilation)
    }
    var runs: [Run] = []
    for column in 0..<phaseWidth {
      let position = first + column * step
      let source = position < columns.count && columns[position] >= 0 ? columns[position] : nil
      if var last = runs.last {
        switch (last.source, source) {
        case (nil, nil):
          runs[runs.count - 1].count += 1
          continue
        case (let start?, let next?) where last.count == 1 || next == start + last.count * last.step:
          if last.count == 1 { last.step = next - start }
          last.count += 1
          runs[runs.count - 1] = last
          continue
        default: break
        }
      }
      runs.append(Run(column: column, count: 1, source: source))
    }
    return runs
  }

  /// Floats between copies kw and kw + 1 of a channel in the `shifted` layout.
  var shiftedCopy: Int { depth * rows * phaseWidth }

  /// Index of prepared float (channel c, depth d, row h, phase, column) within the group's block
  /// (channels not interleaved).
  func index(_ ir: IRBuilder, channel c: LLVMValueRef, depth d: LLVMValueRef, row h: LLVMValueRef, phase: Int, column: LLVMValueRef) -> LLVMValueRef {
    switch layout {
    case .phases:
      let line = ir.add(ir.mul(ir.add(ir.affine(c, depth), d), ir.int(rows)), h)
      return ir.add(ir.affine(line, phases * phaseWidth, phase * phaseWidth), column)
    case .shifted:
      // (c, kw, [h mod s,] d, h [/ s]) as `line(depth:row:)` orders a copy's lines.
      let copy = ir.affine(c, phases, phase)
      let within = rowStride == 1
        ? ir.add(ir.affine(d, rows), h)
        : ir.add(ir.affine(ir.add(ir.affine(ir.urem(h, ir.int(rowStride)), depth), d), rows / rowStride), ir.udiv(h, ir.int(rowStride)))
      return ir.add(ir.affine(ir.add(ir.affine(copy, depth * rows), within), phaseWidth), column)
    }
  }

  /// Copies the group's channels from `source` into `target` (by default the start of
  /// `k.scratch`), split across threads by channel block (the last block's missing channels are
  /// left as they are): line by line, each line's runs (`runs(phase:)`) as loops that read the
  /// input row's columns in order.
  func emit(_ k: Kernel, source: LLVMValueRef, into target: LLVMValueRef? = nil) {
    let lines = k.ir.table(lineSources)
    let runs = (0..<phases).map(runs(phase:))
    let (block, whole, rest) = (channelBlock, channels / channelBlock, channels % channelBlock)
    k.parallelLoop(whole + (rest > 0 ? 1 : 0), work: plane * block, capturing: [source, target ?? k.scratch!]) { k, captured, index in
      let ir = k.ir
      func copy(_ count: Int) {
        let from = (0..<count).map { ir.element(captured[0], ir.affine(ir.affine(index, block, $0), inPlane)) }
        let to = ir.element(captured[1], ir.affine(index, block * plane))
        /// value(lane, i) into the `count` columns from `column` on of the line's phase.
        func fill(_ line: LLVMValueRef, phase: Int, column: Int, count columns: Int, _ value: (Int, LLVMValueRef) -> LLVMValueRef) {
          let start = switch layout {
          case .phases: ir.affine(ir.affine(line, phases, phase), phaseWidth, column)
          case .shifted: ir.affine(line, phaseWidth, phase * depth * rows * phaseWidth + column)
          }
          ir.loop(columns) { i in
            let at = ir.affine(ir.add(start, i), block)
            for lane in 0..<count { ir.store(value(lane, i), to, ir.add(at, ir.int(lane))) }
          }
        }
        ir.loop(depth * rows) { line in
          let row = ir.loadInt(lines, line)
          ir.ifElse(ir.icmp(LLVMIntSGE, row, ir.int(0))) {
            for (phase, phaseRuns) in runs.enumerated() {
              for run in phaseRuns {
                fill(line, phase: phase, column: run.column, count: run.count) { lane, i in
                  run.source.map { ir.load(from[lane], ir.add(row, ir.affine(i, run.step, $0))) } ?? ir.float(0)
                }
              }
            }
          } otherwise: {
            for phase in 0..<phases { fill(line, phase: phase, column: 0, count: phaseWidth) { _, _ in ir.float(0) } }
          }
        }
      }
      ir.forBlock(index, whole: whole, size: block, rest: rest, copy)
    }
  }
}
