import CLLVM
import Kiln

/// Local response normalisation and its input gradient as loops over `[N, C, inner]`: per sample
/// and channel, the window's channels (from constant tables) in an outer loop and the contiguous
/// spatial positions in the inner one, so the inner loops vectorise.
enum LRNLowering {
  /// y = x·scale^(−β), with `y` first holding the window's sum of squares.
  static func forward(_ k: Kernel, _ a: LRNAttrs) {
    let ir = k.ir
    forEachSample(k, a) { _, _, row in
      ir.loop(k.type.shape[2...].reduce(1, *)) { s in
        let at = ir.add(row, s)
        ir.store(ir.fmul(ir.load(k.inputs[0], at), power(ir, a, sum: ir.load(k.output, at), exponent: -a.beta)), k.output, at)
      }
    }
  }

  /// dx_i = dy_i·scale_i^(−β) − (2αβ/size)·x_i·Σ_c t_c with t_c = dy_c·x_c·scale_c^(−β−1) (one
  /// sample's t in the scratch), over the channels c whose windows hold i.
  static func inputGradient(_ k: Kernel, _ a: LRNAttrs) {
    let ir = k.ir
    let (x, dy, terms) = (k.inputs[0], k.inputs[1], k.scratch!)
    let (channels, inner) = (k.type.shape[1], k.type.shape[2...].reduce(1, *))
    let (readerStarts, readerEnds) = tables(ir, channels) { a.readers($0, channels: channels) }
    let coefficient = ir.float(2 * a.alpha * a.beta / Double(a.size))
    forEachSample(k, a) { _, c, row in
      ir.loop(inner) { s in
        let at = ir.add(row, s)
        let sum = ir.load(k.output, at)
        let scaled = power(ir, a, sum: sum, exponent: -a.beta - 1)
        let gradient = ir.fmul(ir.load(dy, at), scaled)
        ir.store(ir.fmul(gradient, ir.load(x, at)), terms, ir.add(ir.mul(c, ir.int(inner)), s))
        // scale^(−β) = scale^(−β−1)·scale.
        ir.store(ir.fmul(gradient, ir.fadd(ir.float(a.bias), ir.fmul(ir.float(a.alpha / Double(a.size)), sum))), k.output, at)
      }
    } then: { n in
      ir.loop(channels) { i in
        let row = plane(ir, n, i, channels: channels, inner: inner)
        ir.loop(from: ir.loadInt(readerStarts, i), to: ir.loadInt(readerEnds, i)) { c in
          ir.loop(inner) { s in
            let at = ir.add(row, s)
            let term = ir.load(terms, ir.add(ir.mul(c, ir.int(inner)), s))
            ir.store(ir.fsub(ir.load(k.output, at), ir.fmul(coefficient, ir.fmul(ir.load(x, at), term))), k.output, at)
          }
        }
      }
    }
  }

  /// For every sample n: for every channel c, the output's row of c (offset `row`) set to the
  /// window's sums of squares and then `channel(n, c, row)`; then `sample(n)`.
  private static func forEachSample(
    _ k: Kernel, _ a: LRNAttrs, channel: (LLVMValueRef, LLVMValueRef, LLVMValueRef) -> Void,
    then sample: (LLVMValueRef) -> Void = { _ in }
  ) {
    let ir = k.ir
    let (channels, inner) = (k.type.shape[1], k.type.shape[2...].reduce(1, *))
    let (starts, ends) = tables(ir, channels) { a.window($0, channels: channels) }
    ir.loop(k.count / (channels * inner)) { n in
      ir.loop(channels) { c in
        let row = plane(ir, n, c, channels: channels, inner: inner)
        sumOfSquares(k, into: k.output, row: row, from: ir.loadInt(starts, c), to: ir.loadInt(ends, c), sample: n, channels: channels, inner: inner)
        channel(n, c, row)
      }
      sample(n)
    }
  }

  /// Scratch floats of the gradient: one sample's terms.
  static func scratchSize(_ type: TensorType) -> Int { type.shape[1...].reduce(1, *) }

  /// `out[row + s]` = Σ over channels `from..<to` of x² at position s of sample `sample`.
  private static func sumOfSquares(
    _ k: Kernel, into out: LLVMValueRef, row: LLVMValueRef, from: LLVMValueRef, to: LLVMValueRef, sample: LLVMValueRef, channels: Int, inner: Int
  ) {
    let ir = k.ir
    ir.loop(inner) { s in ir.store(ir.float(0), out, ir.add(row, s)) }
    ir.loop(from: from, to: to) { j in
      let source = plane(ir, sample, j, channels: channels, inner: inner)
      ir.loop(inner) { s in
        let value = ir.load(k.inputs[0], ir.add(source, s))
        ir.store(ir.fma(value, value, ir.load(out, ir.add(row, s))), out, ir.add(row, s))
      }
    }
  }

  /// (bias + alpha/size · sum)^exponent.
  private static func power(_ ir: IRBuilder, _ a: LRNAttrs, sum: LLVMValueRef, exponent: Double) -> LLVMValueRef {
    let base = ir.fadd(ir.float(a.bias), ir.fmul(ir.float(a.alpha / Double(a.size)), sum))
    return ir.intrinsic("llvm.pow", [base, ir.float(exponent)])
  }

  /// The offset of channel `c` of sample `n`.
  private static func plane(_ ir: IRBuilder, _ n: LLVMValueRef, _ c: LLVMValueRef, channels: Int, inner: Int) -> LLVMValueRef {
    ir.mul(ir.add(ir.mul(n, ir.int(channels)), c), ir.int(inner))
  }

  /// Constant tables of each channel's range's bounds.
  private static func tables(_ ir: IRBuilder, _ channels: Int, _ range: (Int) -> Range<Int>) -> (LLVMValueRef, LLVMValueRef) {
    let ranges = (0..<channels).map(range)
    return (ir.table(ranges.map(\.lowerBound)), ir.table(ranges.map(\.upperBound)))
  }
}
