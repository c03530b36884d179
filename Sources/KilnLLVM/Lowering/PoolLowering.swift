import CLLVM
import Kiln

/// Max and average pooling and their gradients as loops over output rows with the window's taps
/// unrolled and addressed affinely, one plane (sample × channel) per parallel iteration.
///
/// Spatial axes are lifted to three (D, H, W). For an output row (od, oh) the rows of the window,
/// (kd, kh), are either inside the input or not, checked once per row; along W the output
/// columns whose windows stay inside the input (`inside`) load without checks, so the loop over
/// them vectorises (strided loads); the few columns at the edges check every tap. Taps run in
/// the interpreter's order (kd, kh, kw), so sums and first maxima are the interpreter's.
struct PoolLowering {
  let attrs: PoolAttrs
  /// Lifted spatial sizes and window settings.
  let input, output, kernel, stride, dilation, padBefore: [Int]
  /// Output columns whose every tap column is inside the input.
  let inside: Range<Int>

  init(_ a: PoolAttrs, x: [Int], y: [Int]) {
    attrs = a
    let window = WindowGeometry(a, x: x, output: y)
    (input, output, kernel, stride, dilation, padBefore) = (window.input, window.output, window.kernel, window.stride, window.dilation, window.padBefore)
    // Column o is inside when o·s − p ≥ 0 and o·s − p + d·(k − 1) ≤ W − 1.
    let (s, p, reach) = (stride[2], padBefore[2], dilation[2] * (kernel[2] - 1))
    let first = (p + s - 1) / s
    let last = input[2] - 1 + p - reach < 0 ? -1 : (input[2] - 1 + p - reach) / s
    inside = first <= min(last, output[2] - 1) ? first..<(min(last, output[2] - 1) + 1) : 0..<0
  }

  /// The longest output row whose first maxima are kept on the stack (16 KiB: compiled models
  /// run on their host's threads, whose stacks may be small).
  static let bufferedColumns = 1 << 11

  /// Whether the windows cover the input exactly, without overlap or padding: stride = kernel,
  /// no dilation, and output × stride = input along every axis.
  var tilesInput: Bool {
    stride == kernel && dilation.allSatisfy { $0 == 1 } && padBefore.allSatisfy { $0 == 0 }
      && zip(output, zip(stride, input)).allSatisfy { $0 * $1.0 == $1.1 }
  }

  var inPlane: Int { input.reduce(1, *) }
  var outPlane: Int { output.reduce(1, *) }
  var taps: Int { kernel.reduce(1, *) }

  /// One tap of a window: the input position it reads (relative to the plane) and whether it is
  /// inside the input (nil: known to be).
  typealias Tap = (position: LLVMValueRef, valid: LLVMValueRef?)

  /// `body(row, ow, taps)` for every output row (od, oh) and output column `ow` of the row,
  /// where `taps` are the window's taps in order; `rowEnd(row)` after each row's columns.
  private func forEachWindow(
    _ ir: IRBuilder, rowEnd: ((_ row: LLVMValueRef) -> Void)? = nil, _ body: (_ row: LLVMValueRef, _ ow: LLVMValueRef, _ taps: [Tap]) -> Void
  ) {
    ir.loop(output[0]) { od in
      ir.loop(output[1]) { oh in
        // The window's rows: their offset in the plane (0 outside) and whether they are inside.
        var rows: [(offset: LLVMValueRef, valid: LLVMValueRef)] = []
        for kd in 0..<kernel[0] {
          let id = ir.add(ir.mul(od, ir.int(stride[0])), ir.int(kd * dilation[0] - padBefore[0]))
          for kh in 0..<kernel[1] {
            let ih = ir.add(ir.mul(oh, ir.int(stride[1])), ir.int(kh * dilation[1] - padBefore[1]))
            let valid = ir.and(within(ir, id, input[0]), within(ir, ih, input[1]))
            rows.append((ir.select(valid, ir.mul(ir.add(ir.mul(id, ir.int(input[1])), ih), ir.int(input[2])), ir.int(0)), valid))
          }
        }
        let row = ir.add(ir.mul(od, ir.int(output[1])), oh)
        let edges = inside.isEmpty ? [0..<output[2]] : [0..<inside.lowerBound, inside.upperBound..<output[2]].filter { !$0.isEmpty }
        for (columns, checksColumns) in (inside.isEmpty ? [] : [(inside, false)]) + edges.map({ ($0, true) }) {
          ir.loop(from: ir.int(columns.lowerBound), to: ir.int(columns.upperBound), knownNonEmpty: true) { ow in
            var windowTaps: [Tap] = []
            for (offset, rowValid) in rows {
              for kw in 0..<kernel[2] {
                let iw = ir.add(ir.mul(ow, ir.int(stride[2])), ir.int(kw * dilation[2] - padBefore[2]))
                if checksColumns {
                  let valid = ir.and(rowValid, within(ir, iw, input[2]))
                  windowTaps.append((ir.add(offset, ir.select(valid, iw, ir.int(0))), valid))
                } else {
                  windowTaps.append((ir.add(offset, iw), rowValid))
                }
              }
            }
            body(row, ow, windowTaps)
          }
        }
        rowEnd?(row)
      }
    }
  }

  /// 0 ≤ i < size.
  private func within(_ ir: IRBuilder, _ i: LLVMValueRef, _ size: Int) -> LLVMValueRef {
    ir.icmp(LLVMIntULT, i, ir.int(size))
  }

  /// Each window's average divisor, for average pooling.
  private func divisors(_ ir: IRBuilder, x: [Int], y: [Int]) -> LLVMValueRef? {
    attrs.kind == .average ? ir.table(IndexTables.poolDivisors(input: x, output: y, attrs: attrs)) : nil
  }

  /// Floats of a padded line for `separable` windows: the input row with the padding on both
  /// sides, as far as the last window reaches.
  private var lineLength: Int { max(padBefore[2] + input[2], (output[2] - 1) * stride[2] + dilation[2] * (kernel[2] - 1) + 1) }

  /// Whether windows are combined a row of taps at a time (planar windows, lines of at most
  /// `bufferedColumns` floats): each output row first combines its window's input rows column by
  /// column into a padded line (contiguous, vectorised), then each window reads its taps along
  /// the line.
  /// Values are the interpreter's; an average's sum is taken in another order.
  private var separable: Bool { kernel[0] == 1 && output[0] == 1 && lineLength <= Self.bufferedColumns }

  /// y = pool(x).
  func forward(_ k: Kernel) {
    if let tiled = TiledPool(self, outputs: k.count) { return tiled.forward(k) }
    let divisorTable = divisors(k.ir, x: k.inputTypes[0].shape, y: k.type.shape)
    let combine = Lowering.accumulation(k.ir, maximum: attrs.kind == .max)
    let identity = attrs.kind == .max ? -Double.infinity : 0
    k.parallelLoop(k.count / outPlane, work: outPlane * taps) { k, _, plane in
      let ir = k.ir
      let x = ir.element(k.inputs[0], ir.mul(plane, ir.int(inPlane)))
      let y = ir.element(k.output, ir.mul(plane, ir.int(outPlane)))
      func store(_ result: LLVMValueRef, _ o: LLVMValueRef) {
        ir.store(divisorTable.map { ir.fdiv(result, ir.toFloat(ir.loadInt($0, o))) } ?? result, y, o)
      }
      if separable && attrs.kind == .max {
        maximaByRows(k, x: x, y: y)
        return
      }
      if separable {
        // Rows outside the input read a row of the identity instead. The line and that row take
        // at most 16 KiB of stack together.
        let (line, outside) = (ir.stackSlot(count: lineLength), ir.stackSlot(count: input[2]))
        ir.loop(lineLength) { i in ir.store(ir.float(identity), line, i) }
        ir.loop(input[2]) { i in ir.store(ir.float(identity), outside, i) }
        let target = ir.element(line, ir.int(padBefore[2]))
        ir.loop(output[1]) { oh in
          let rows = (0..<kernel[1]).map { kh in
            let ih = ir.add(ir.mul(oh, ir.int(stride[1])), ir.int(kh * dilation[1] - padBefore[1]))
            return ir.select(within(ir, ih, input[1]), ir.element(x, ir.mul(ih, ir.int(input[2]))), outside)
          }
          ir.loop(input[2]) { iw in ir.store(rows.reduce(ir.float(identity)) { combine($0, ir.load($1, iw)) }, target, iw) }
          ir.loop(output[2]) { ow in
            let start = ir.mul(ow, ir.int(stride[2]))
            let result = (0..<kernel[2]).reduce(ir.float(identity)) { total, kw in combine(total, ir.load(line, ir.add(start, ir.int(kw * dilation[2])))) }
            store(result, ir.add(ir.mul(oh, ir.int(output[2])), ow))
          }
        }
        return
      }
      forEachWindow(ir) { row, ow, taps in
        var result = ir.float(identity)
        for tap in taps {
          let combined = combine(result, ir.load(x, tap.position))
          result = tap.valid.map { ir.select($0, combined, result) } ?? combined
        }
        store(result, ir.add(ir.mul(row, ir.int(output[2])), ow))
      }
    }
  }

  /// Max pooling of one plane (`separable` windows) in vectors: each output row takes the
  /// maximum of its window's rows into a line padded with −∞, then each vector of outputs the
  /// maximum of its taps along the line (loads `stride` vectors wide, split by `everyNth`, for a
  /// stride); rows are covered by whole vectors (`IRBuilder.overlappingVectors`). GoogLeNet's
  /// 3×3 pools, one thread, Zen 4: stride 1, 512 channels at 14×14 0.212 → 0.122 ms; stride 2,
  /// 480 channels at 28×28 0.252 → 0.160 ms; all thirteen 2.5 → 1.6 ms.
  private func maximaByRows(_ k: Kernel, x: LLVMValueRef, y: LLVMValueRef) {
    let ir = k.ir
    let (inputLanes, outputLanes) = (k.vectors.lanes(covering: input[2]), k.vectors.lanes(covering: output[2]))
    // A stride's wide loads read up to stride − 1 floats past a vector's last tap.
    let length = lineLength + stride[2] - 1
    let line = ir.stackSlot(count: length)
    ir.loop(length) { i in ir.store(ir.float(-.infinity), line, i) }
    let target = ir.element(line, ir.int(padBefore[2]))
    ir.loop(output[1]) { oh in
      let rows = (0..<kernel[1]).map { kh in
        let ih = ir.add(ir.mul(oh, ir.int(stride[1])), ir.int(kh * dilation[1] - padBefore[1]))
        let valid = within(ir, ih, input[1])
        return (valid, ir.element(x, ir.mul(ir.select(valid, ih, ir.int(0)), ir.int(input[2]))))
      }
      let lowest = ir.splat(ir.float(-.infinity), lanes: inputLanes)
      ir.overlappingVectors(input[2], lanes: inputLanes) { column in
        let combined = rows.reduce(lowest) { total, row in ir.select(row.0, ir.fmax(total, ir.loadVector(row.1, column, lanes: inputLanes)), total) }
        ir.storeVector(combined, target, column)
      }
      let out = ir.element(y, ir.mul(oh, ir.int(output[2])))
      ir.overlappingVectors(output[2], lanes: outputLanes) { column in
        let start = ir.mul(column, ir.int(stride[2]))
        let taps = (0..<kernel[2]).map { kw in
          let at = ir.add(start, ir.int(kw * dilation[2]))
          return stride[2] == 1
            ? ir.loadVector(line, at, lanes: outputLanes)
            : ir.everyNth(ir.loadVector(line, at, lanes: outputLanes * stride[2]), stride[2], lanes: outputLanes)
        }
        ir.storeVector(taps.dropFirst().reduce(taps[0]) { ir.fmax($0, $1) }, out, column)
      }
    }
  }

  /// dx from x and dy: each window's gradient goes to its first maximum, or is shared evenly
  /// among its taps inside the input. Inputs: x, dy.
  func gradient(_ k: Kernel) {
    if let tiled = TiledPool(self, outputs: k.inputTypes[1].elementCount) { return tiled.gradient(k) }
    let divisorTable = divisors(k.ir, x: k.inputTypes[0].shape, y: k.inputTypes[1].shape)
    k.parallelLoop(k.count / inPlane, work: outPlane * taps) { k, _, plane in
      let ir = k.ir
      let x = ir.element(k.inputs[0], ir.mul(plane, ir.int(inPlane)))
      let dy = ir.element(k.inputs[1], ir.mul(plane, ir.int(outPlane)))
      let dx = ir.element(k.output, ir.mul(plane, ir.int(inPlane)))
      if !(attrs.kind == .max && tilesInput) { ir.loop(inPlane) { i in ir.store(ir.float(0), dx, i) } }
      /// The position of the first maximum of a window's valid taps (−1 if none is valid).
      func firstMaximum(_ taps: [Tap]) -> LLVMValueRef {
        var (best, bestIndex) = (ir.float(-.infinity), ir.int(-1))
        for tap in taps {
          let v = ir.load(x, tap.position)
          var better = ir.or(ir.icmp(LLVMIntSLT, bestIndex, ir.int(0)), ir.isPreferredMaximum(v, over: best))
          if let valid = tap.valid { better = ir.and(better, valid) }
          (best, bestIndex) = (ir.select(better, v, best), ir.select(better, tap.position, bestIndex))
        }
        return bestIndex
      }
      switch attrs.kind {
      case .max where tilesInput:
        // Every input is in exactly one window: it gets the window's gradient or zero, written
        // once (LeNet-5's and VGG's 2×2 pools).
        forEachWindow(ir) { row, ow, taps in
          let (best, gradient) = (firstMaximum(taps), ir.load(dy, ir.add(ir.mul(row, ir.int(output[2])), ow)))
          for tap in taps { ir.store(ir.select(ir.icmp(LLVMIntEQ, tap.position, best), gradient, ir.float(0)), dx, tap.position) }
        }
      case .max:
        // A row's first maxima, then their gradients added: windows overlap, and a loop of its
        // own keeps the search free of stores into dx, so it vectorises. Rows too long for the
        // stack add each gradient as its maximum is found.
        let buffered = output[2] <= Self.bufferedColumns
        let maxima = buffered ? ir.stackSlot(type: ir.i64, count: output[2]) : nil
        let addGradient = { (row: LLVMValueRef, column: LLVMValueRef, position: LLVMValueRef) in
          ir.when(ir.icmp(LLVMIntSGE, position, ir.int(0))) {
            ir.store(ir.fadd(ir.load(dx, position), ir.load(dy, ir.add(ir.mul(row, ir.int(output[2])), column))), dx, position)
          }
        }
        let addRow = maxima.map { maxima in
          { (row: LLVMValueRef) in
            ir.loop(output[2]) { column in addGradient(row, column, ir.load(ir.i64, from: ir.element(maxima, column, type: ir.i64))) }
          }
        }
        forEachWindow(ir, rowEnd: addRow) { row, ow, taps in
          let bestIndex = firstMaximum(taps)
          if let maxima { ir.store(bestIndex, to: ir.element(maxima, ow, type: ir.i64)) } else { addGradient(row, ow, bestIndex) }
        }
      case .average:
        forEachWindow(ir) { row, ow, taps in
          let o = ir.add(ir.mul(row, ir.int(output[2])), ow)
          let share = ir.fdiv(ir.load(dy, o), ir.toFloat(ir.loadInt(divisorTable!, o)))
          for tap in taps {
            let add = { ir.store(ir.fadd(ir.load(dx, tap.position), share), dx, tap.position) }
            if let valid = tap.valid { ir.when(valid, add) } else { add() }
          }
        }
      }
    }
  }
}
