import CLLVM
import Kiln

/// Depthwise convolution (one input channel per group, zero padding) as direct loops instead of
/// a GEMM per channel. Output positions whose every tap reads inside the input (the interior,
/// known at compile time) run a loop with the taps unrolled, no bounds checks and a contiguous
/// innermost loop over output columns that vectorises; the border positions run a checked loop
/// that skips taps outside the input. Output planes are independent and split across threads.
enum DepthwiseConvolution {
  static func applies(_ a: ConvAttrs, _ s: ConvolutionShape) -> Bool {
    s.groups > 1 && s.inPerGroup == 1 && (a.paddingMode == .zero || ConvolutionLowering.staysInside(a))
  }

  static func emit(_ k: Kernel, _ a: ConvAttrs, _ s: ConvolutionShape) {
    let input = WindowLift.lift(k.inputTypes[0].shape[2...], fill: 1)
    let output = WindowLift.lift(k.type.shape[2...], fill: 1)
    let kernel = WindowLift.lift(k.inputTypes[1].shape[2...], fill: 1)
    let stride = WindowLift.lift(a.stride, fill: 1)
    let dilation = WindowLift.lift(a.dilation, fill: 1)
    let padding = WindowLift.lift(a.padding.before, fill: 0)
    // Along each axis, the outputs whose taps all read inside the input.
    let interior = (0..<3).map { axis -> Range<Int> in
      let low = max(0, divide(padding[axis], stride[axis], roundingUp: true))
      let reach = input[axis] - 1 + padding[axis] - (kernel[axis] - 1) * dilation[axis]
      let high = min(output[axis], divide(reach, stride[axis], roundingUp: false) + 1)
      return low..<max(low, high)
    }
    let taps = (0..<kernel[0]).flatMap { kd in (0..<kernel[1]).flatMap { kh in (0..<kernel[2]).map { kw in [kd, kh, kw] } } }
    let (inPlane, outPlane, multiplier) = (s.inPlane, s.outPlane, s.outPerGroup)
    k.parallelLoop(s.batch * s.outChannels, work: outPlane * taps.count) { k, _, plane in
      let ir = k.ir
      // Plane n·C_out + c reads input plane n·groups + c / multiplier and filter c.
      let source = ir.element(k.inputs[0], ir.affine(LLVMBuildUDiv(ir.builder, plane, ir.int(multiplier), "")!, inPlane))
      let filter = ir.element(k.inputs[1], ir.affine(LLVMBuildURem(ir.builder, plane, ir.int(s.outChannels), "")!, s.taps))
      let out = ir.element(k.output, ir.affine(plane, outPlane))
      let weights = taps.indices.map { ir.load(filter, ir.int($0)) }
      /// The input coordinate along `axis` of output `o` for tap offset `tap`.
      func coordinate(_ axis: Int, _ o: LLVMValueRef, _ tap: Int) -> LLVMValueRef {
        ir.affine(o, stride[axis], tap * dilation[axis] - padding[axis])
      }
      func outIndex(_ od: LLVMValueRef, _ oh: LLVMValueRef, _ ow: LLVMValueRef) -> LLVMValueRef {
        ir.add(ir.mul(ir.add(ir.mul(od, ir.int(output[1])), oh), ir.int(output[2])), ow)
      }
      func inIndex(_ id: LLVMValueRef, _ ih: LLVMValueRef, _ iw: LLVMValueRef) -> LLVMValueRef {
        ir.add(ir.mul(ir.add(ir.mul(id, ir.int(input[1])), ih), ir.int(input[2])), iw)
      }
      // Border: every output outside the interior, each tap checked.
      ir.loop(output[0]) { od in
        ir.loop(output[1]) { oh in
          ir.loop(output[2]) { ow in
            let positions = [od, oh, ow]
            /// Whether every axis's value lies in its range.
            func within(_ values: [LLVMValueRef], _ ranges: [Range<Int>]) -> LLVMValueRef {
              let checks = zip(values, ranges).map { value, range in
                ir.and(ir.icmp(LLVMIntSGE, value, ir.int(range.lowerBound)), ir.icmp(LLVMIntSLT, value, ir.int(range.upperBound)))
              }
              return checks.dropFirst().reduce(checks[0], ir.and)
            }
            ir.when(LLVMBuildNot(ir.builder, within(positions, interior), "")!) {
              let sum = zip(taps, weights).reduce(ir.float(0)) { sum, tap in
                let coordinates = (0..<3).map { coordinate($0, positions[$0], tap.0[$0]) }
                let inside = within(coordinates, input.map { 0..<$0 })
                let value = ir.load(source, ir.select(inside, inIndex(coordinates[0], coordinates[1], coordinates[2]), ir.int(0)))
                return ir.fadd(sum, ir.select(inside, ir.fmul(tap.1, value), ir.float(0)))
              }
              ir.store(sum, out, outIndex(od, oh, ow))
            }
          }
        }
      }
      // Interior: no checks; the innermost loop runs over contiguous output columns.
      guard interior.allSatisfy({ !$0.isEmpty }) else { return }
      func loop(_ axis: Int, _ body: (LLVMValueRef) -> Void) {
        ir.loop(from: ir.int(interior[axis].lowerBound), to: ir.int(interior[axis].upperBound), knownNonEmpty: true, body)
      }
      loop(0) { od in
        loop(1) { oh in
          loop(2) { ow in
            let sum = zip(taps, weights).reduce(ir.float(0)) { sum, tap in
              let (kd, kh, kw) = (tap.0[0], tap.0[1], tap.0[2])
              return ir.fma(tap.1, ir.load(source, inIndex(coordinate(0, od, kd), coordinate(1, oh, kh), coordinate(2, ow, kw))), sum)
            }
            ir.store(sum, out, outIndex(od, oh, ow))
          }
        }
      }
    }
  }

  /// a / b for b > 0, rounded down or up (also for negative a).
  static func divide(_ a: Int, _ b: Int, roundingUp: Bool) -> Int {
    let quotient = a / b
    let exact = quotient * b == a
    if roundingUp { return exact || a < 0 ? quotient : quotient + 1 }
    return exact || a >= 0 ? quotient : quotient - 1
  }
}
