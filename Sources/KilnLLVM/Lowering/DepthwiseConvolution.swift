import CLLVM
import Kiln

/// Depthwise convolution (one input channel per group, zero padding) as direct loops instead of
/// a GEMM per channel, reading the input where it is. Output rows are split, at compile time, into
/// runs whose taps all fall inside the input (the top and bottom rows of a padded map skip the
/// taps above or below it), and so are columns: with strides up to `vectorStrides` along the rows,
/// each output row runs in vectors of the target's lanes (8 for rows of at most 8), a broadcast
/// weight and a vector FMA per tap (strided inputs picked out of contiguous loads), where the
/// vectors at the row's ends read only the lanes inside the input (masked loads) and those between
/// read unchecked; larger strides run a scalar loop over runs of columns. Bias and the fused
/// activation are applied as outputs are stored. Planes are independent and split across threads.
/// Against the zero-bordered copy of each plane this replaced (batch 1, one thread, Zen 4 with
/// AVX-512, layers with the bench's input copies): MobileNet v2 8.75–9.03 → 7.87–8.02 ms, its
/// 96-channel stride-2 layer 0.53 → 0.31 ms, its 960-channel 7×7 ones 0.049 → 0.018 ms.
struct DepthwiseConvolution {
  /// The largest stride along rows that runs in vectors (of every s-th float loaded). MobileNet
  /// v2's 96-channel stride-2 layer (112² → 56², batch 1, one thread, Xeon with AVX-512, with
  /// the layer's own copies) 1.41 → 1.14–1.32 ms; the whole model 7.8–8.2 → 7.7–7.8 ms.
  static let vectorStrides = 4

  /// Output rows computed side by side (sharing the input rows they both read).
  static let rowsPerStep = 4

  static func applies(_ a: ConvAttrs, _ s: ConvolutionShape) -> Bool {
    s.groups > 1 && s.inPerGroup == 1 && (a.paddingMode == .zero || ConvolutionLowering.staysInside(a))
  }

  let s: ConvolutionShape
  let input, output, kernel, stride, dilation, padding: [Int]

  init(_ a: ConvAttrs, _ s: ConvolutionShape, x: [Int], weight: [Int], output outputShape: [Int]) {
    self.s = s
    let window = WindowGeometry(a, x: x, output: outputShape, weight: weight)
    (input, output, kernel, stride, dilation, padding) = (window.input, window.output, window.kernel, window.stride, window.dilation, window.padBefore)
  }

  /// The taps along `axis` that output position `position` reads inside the input.
  func inside(_ axis: Int, _ position: Int) -> [Int] {
    (0..<kernel[axis]).filter { tap in
      let at = position * stride[axis] - padding[axis] + tap * dilation[axis]
      return at >= 0 && at < input[axis]
    }
  }

  /// Consecutive runs of `0..<count` over which `key` stays the same.
  static func runs<Key: Equatable>(_ count: Int, _ key: (Int) -> Key) -> [(start: Int, count: Int, key: Key)] {
    var runs: [(start: Int, count: Int, key: Key)] = []
    for position in 0..<count {
      let value = key(position)
      if let last = runs.last, last.key == value { runs[runs.count - 1].count += 1 } else { runs.append((position, 1, value)) }
    }
    return runs
  }

  /// A tap of a row: its weight's index in the filter and its input's offset from the row's origin
  /// (the input position of tap 0 without padding), both with the tap's column `column`.
  private struct Tap {
    let weight, offset, column: Int
  }

  func emit(_ k: Kernel) {
    let (inPlane, outPlane, multiplier) = (s.inPlane, s.outPlane, s.outPerGroup)
    let (input, output, kernel, stride, dilation, padding) = (self.input, self.output, self.kernel, self.stride, self.dilation, self.padding)
    // Only rows of at most 8 take 8 lanes, not every row `VectorUnit.lanes(forRow:)` would give
    // them to on a half-width unit: a tap here is a load per FMA, and 8-float vectors double the
    // loads (MobileNet v2's 56-wide layers on Zen 4: 0.31 → 0.36 ms and 0.111 → 0.119 ms).
    let lanes = k.lanes > 8 && output[2] <= 8 ? 8 : k.lanes
    let (depthRuns, rowRuns) = (Self.runs(output[0]) { inside(0, $0) }, Self.runs(output[1]) { inside(1, $0) })
    k.parallelLoop(s.batch * s.outChannels, work: outPlane * s.taps) { k, _, plane in
      let ir = k.ir
      // Plane n·C_out + c reads input plane n·groups + c / multiplier and filter c.
      let source = ir.element(k.inputs[0], ir.affine(ir.udiv(plane, ir.int(multiplier)), inPlane))
      let channel = ir.urem(plane, ir.int(s.outChannels))
      let filter = ir.element(k.inputs[1], ir.affine(channel, s.taps))
      let bias = k.inputs.count > 2 ? ir.load(k.inputs[2], channel) : nil
      let out = ir.element(k.output, ir.affine(plane, outPlane))
      let weights = (0..<s.taps).map { ir.load(filter, ir.int($0)) }
      /// Bias and activation on a finished sum (a float or a vector), as it is stored.
      func finished(_ sum: LLVMValueRef) -> LLVMValueRef {
        let biased = bias.map { b in ir.fadd(sum, ir.isVector(sum) ? ir.splat(b, lanes: lanes) : b) } ?? sum
        return k.activated(biased)
      }
      /// `rows` consecutive output rows (from `rowIn` and `rowOut`, sharing `taps`) in vectors:
      /// the vectors whose taps all read inside the row in a loop, those at its ends peeled,
      /// reading only their lanes inside the input. The rows' sums are formed side by side, so
      /// an input vector two rows read (one row's tap below, the next row's above) is loaded
      /// once.
      func vectorRows(_ ir: IRBuilder, taps: [Tap], rowIn: LLVMValueRef, rowOut: LLVMValueRef, rows: Int) {
        let (step, whole, rest) = (stride[2], output[2] / lanes, output[2] % lanes)
        let reach = (lanes - 1) * step + (kernel[2] - 1) * dilation[2]
        /// Whether every tap of the whole vector from output column `column` reads inside the row.
        func unchecked(_ column: Int) -> Bool { column * step - padding[2] >= 0 && column * step - padding[2] + reach < input[2] }
        let inner = (0..<whole).filter { unchecked($0 * lanes) }
        /// The vector from output column `column` (a constant where `constant` says which), `real`
        /// of its lanes stored.
        func vector(_ column: LLVMValueRef, constant: Int?, real: Int) {
          let start = ir.add(rowIn, ir.mul(column, ir.int(step)))
          let span = (real - 1) * step + 1
          var sums = Array(repeating: ir.zeroVector(lanes), count: rows)
          for tap in taps {
            var reading = 0..<span
            if let constant {
              let first = constant * step + tap.column
              reading = max(0, -first)..<min(span, input[2] - first)
              if reading.isEmpty { continue }
            }
            let weight = ir.splat(weights[tap.weight], lanes: lanes)
            for row in 0..<rows {
              // One constant from `start`, so that equal addresses are equal values.
              let at = ir.add(start, ir.int(row * stride[1] * input[2] + tap.offset))
              let values = step == 1
                ? ir.loadVector(source, at, lanes: lanes, reading: reading)
                : ir.everyNth(ir.loadVector(source, at, lanes: lanes * step, reading: reading), step, lanes: lanes)
              sums[row] = ir.vectorFMA(weight, values, sums[row])
            }
          }
          for (row, sum) in sums.enumerated() {
            ir.storeVector(finished(sum), out, ir.add(rowOut, ir.add(column, ir.int(row * output[2]))), count: real)
          }
        }
        let peeled = (0..<whole).filter { !inner.contains($0) }.map { ($0 * lanes, lanes) } + (rest > 0 ? [(whole * lanes, rest)] : [])
        for (column, real) in peeled where column < (inner.first ?? whole) * lanes { vector(ir.int(column), constant: column, real: real) }
        if let first = inner.first {
          ir.loop(inner.count) { block in vector(ir.mul(ir.add(block, ir.int(first)), ir.int(lanes)), constant: nil, real: lanes) }
        }
        for (column, real) in peeled where column >= (inner.first ?? whole) * lanes { vector(ir.int(column), constant: column, real: real) }
      }

      /// One output row one float at a time, over runs of columns that read the same taps.
      func scalarRow(_ ir: IRBuilder, taps: [Tap], rowIn: LLVMValueRef, rowOut: LLVMValueRef) {
        for columns in Self.runs(output[2], { inside(2, $0) }) {
          let read = taps.filter { columns.key.contains(($0.column + padding[2]) / dilation[2]) }
          ir.loop(columns.count) { i in
            let ow = ir.add(i, ir.int(columns.start))
            let start = ir.add(rowIn, ir.mul(ow, ir.int(stride[2])))
            let sum = read.reduce(ir.float(0)) { sum, tap in ir.fma(weights[tap.weight], ir.load(source, ir.add(start, ir.int(tap.offset))), sum) }
            ir.store(finished(sum), out, ir.add(rowOut, ow))
          }
        }
      }

      for depths in depthRuns {
        ir.loop(depths.count) { i in
          let od = ir.add(i, ir.int(depths.start))
          for rows in rowRuns {
            // Rows of a run share their taps: vector rows go `rowsPerStep` at a time.
            let group = stride[2] <= Self.vectorStrides ? min(Self.rowsPerStep, rows.count) : 1
            let (groups, rest) = (rows.count / group, rows.count % group)
            /// `count` output rows from row `oh`.
            func outputRows(_ oh: LLVMValueRef, count: Int) {
              let rowOut = ir.mul(ir.add(ir.mul(od, ir.int(output[1])), oh), ir.int(output[2]))
              let rowIn = ir.mul(
                ir.add(ir.mul(ir.mul(od, ir.int(stride[0])), ir.int(input[1])), ir.mul(oh, ir.int(stride[1]))), ir.int(input[2]))
              let taps = depths.key.flatMap { kd in
                rows.key.flatMap { kh in
                  (0..<kernel[2]).map { kw in
                    Tap(
                      weight: (kd * kernel[1] + kh) * kernel[2] + kw,
                      offset: ((kd * dilation[0] - padding[0]) * input[1] + kh * dilation[1] - padding[1]) * input[2] + kw * dilation[2]
                        - padding[2],
                      column: kw * dilation[2] - padding[2])
                  }
                }
              }
              if stride[2] <= Self.vectorStrides {
                vectorRows(ir, taps: taps, rowIn: rowIn, rowOut: rowOut, rows: count)
              } else {
                scalarRow(ir, taps: taps, rowIn: rowIn, rowOut: rowOut)
              }
            }
            ir.loop(groups) { j in outputRows(ir.add(ir.mul(j, ir.int(group)), ir.int(rows.start)), count: group) }
            if rest > 0 { outputRows(ir.int(rows.start + groups * group), count: rest) }
          }
        }
      }
    }
  }
}
