import CLLVM
import Kiln

/// Depthwise convolution (one input channel per group, zero padding) as direct loops instead of
/// a GEMM per channel. Padded inputs are first copied into zero-bordered planes (scratch), so
/// every output reads its taps unchecked. With strides up to `vectorStrides` along the rows, each
/// output row runs in vectors of the target's lanes (the last one masked), a broadcast weight and
/// a vector FMA per tap (strided inputs picked out of contiguous loads); larger strides run a
/// scalar loop. Bias and the fused activation are applied as outputs are
/// stored. Planes are independent and split across threads.
struct DepthwiseConvolution {
  /// The largest stride along rows that runs in vectors (of every s-th float loaded). MobileNet
  /// v2's 96-channel stride-2 layer (112² → 56², batch 1, one thread, Xeon with AVX-512, with
  /// the layer's own copies) 1.41 → 1.14–1.32 ms; the whole model 7.8–8.2 → 7.7–7.8 ms.
  static let vectorStrides = 4

  static func applies(_ a: ConvAttrs, _ s: ConvolutionShape) -> Bool {
    s.groups > 1 && s.inPerGroup == 1 && (a.paddingMode == .zero || ConvolutionLowering.staysInside(a))
  }

  let s: ConvolutionShape
  let input, output, kernel, stride, dilation, padding: [Int]
  /// The planes the taps read: the input's, or the zero-bordered copies' (covering every tap).
  let planes: [Int]
  let copiesInput: Bool

  init(_ a: ConvAttrs, _ s: ConvolutionShape, x: [Int], weight: [Int], output outputShape: [Int]) {
    self.s = s
    input = WindowLift.lift(x[2...], fill: 1)
    output = WindowLift.lift(outputShape[2...], fill: 1)
    kernel = WindowLift.lift(weight[2...], fill: 1)
    stride = WindowLift.lift(a.stride, fill: 1)
    dilation = WindowLift.lift(a.dilation, fill: 1)
    padding = WindowLift.lift(a.padding.before, fill: 0)
    copiesInput = !ConvolutionLowering.staysInside(a)
    var planes = input
    if copiesInput {
      for axis in 0..<3 {
        let reach: Int = (output[axis] - 1) * stride[axis] + (kernel[axis] - 1) * dilation[axis] + 1
        planes[axis] = max(reach, padding[axis] + input[axis])
      }
    }
    self.planes = planes
  }

  /// Scratch: the zero-bordered copies of every input plane, when the convolution pads.
  var scratchSize: Int { copiesInput ? s.batch * s.inChannels * planes.reduce(1, *) : 0 }

  func emit(_ k: Kernel) {
    let (inPlane, paddedPlane, outPlane, multiplier) = (s.inPlane, planes.reduce(1, *), s.outPlane, s.outPerGroup)
    let taps = (0..<kernel[0]).flatMap { kd in (0..<kernel[1]).flatMap { kh in (0..<kernel[2]).map { kw in [kd, kh, kw] } } }
    let (input, planes, padding) = (self.input, self.planes, self.padding)
    /// Input plane `plane` into its zero-bordered copy.
    func copyPlane(_ k: Kernel, _ plane: LLVMValueRef) {
      let ir = k.ir
      let target = ir.element(k.scratch!, ir.affine(plane, paddedPlane))
      ir.loop(paddedPlane) { i in ir.store(ir.float(0), target, i) }
      let source = ir.element(k.inputs[0], ir.affine(plane, inPlane))
      ir.loop(input[0]) { d in
        ir.loop(input[1]) { h in
          let from = ir.mul(ir.add(ir.mul(d, ir.int(input[1])), h), ir.int(input[2]))
          let row = ir.add(ir.mul(ir.add(d, ir.int(padding[0])), ir.int(planes[1])), ir.add(h, ir.int(padding[1])))
          ir.copy(input[2], from: ir.element(source, from), to: ir.element(target, ir.affine(row, planes[2], padding[2])))
        }
      }
    }
    // With one filter per channel, each plane is copied just before its outputs are computed,
    // while the copy is in cache; planes read by several filters are all copied first.
    let copiesAlongside = copiesInput && multiplier == 1
    if copiesInput && !copiesAlongside {
      k.parallelLoop(s.batch * s.inChannels, work: paddedPlane) { k, _, plane in copyPlane(k, plane) }
    }
    let (output, stride, dilation, lanes) = (self.output, self.stride, self.dilation, k.lanes)
    // Padding is in the copies: tap (kd, kh, kw) of output (od, oh, ow) reads copy position
    // (od·s + kd·d, oh·s + kh·d, ow·s + kw·d).
    let offsets = taps.map { ($0[0] * dilation[0] * planes[1] + $0[1] * dilation[1]) * planes[2] + $0[2] * dilation[2] }
    let copied = copiesInput
    k.parallelLoop(s.batch * s.outChannels, work: outPlane * taps.count) { k, _, plane in
      let ir = k.ir
      // Plane n·C_out + c reads input plane n·groups + c / multiplier and filter c.
      let sourcePlane = ir.udiv(plane, ir.int(multiplier))
      if copiesAlongside { copyPlane(k, sourcePlane) }
      let source = copied
        ? ir.element(k.scratch!, ir.affine(sourcePlane, paddedPlane)) : ir.element(k.inputs[0], ir.affine(sourcePlane, inPlane))
      let channel = ir.urem(plane, ir.int(s.outChannels))
      let filter = ir.element(k.inputs[1], ir.affine(channel, s.taps))
      let bias = k.inputs.count > 2 ? ir.load(k.inputs[2], channel) : nil
      let out = ir.element(k.output, ir.affine(plane, outPlane))
      let weights = taps.indices.map { ir.load(filter, ir.int($0)) }
      /// Bias and activation on a finished sum (a float or a vector), as it is stored.
      func finished(_ sum: LLVMValueRef) -> LLVMValueRef {
        let biased = bias.map { b in ir.fadd(sum, LLVMGetTypeKind(LLVMTypeOf(sum)) == LLVMVectorTypeKind ? ir.splat(b, lanes: lanes) : b) } ?? sum
        return k.activated(biased)
      }
      ir.loop(output[0]) { od in
        ir.loop(output[1]) { oh in
          let rowOut = ir.mul(ir.add(ir.mul(od, ir.int(output[1])), oh), ir.int(output[2]))
          let rowIn = ir.mul(ir.add(ir.mul(ir.mul(od, ir.int(stride[0])), ir.int(planes[1])), ir.mul(oh, ir.int(stride[1]))), ir.int(planes[2]))
          /// The sum over taps of `lanes` outputs from column `column`, `count` of them real. A
          /// tap's inputs for a stride s > 1 are every s-th of the (lanes − 1)·s + 1 floats from
          /// the first (read masked, so nothing past them is touched).
          func vector(_ column: LLVMValueRef, count: Int?) {
            let (step, real) = (stride[2], count ?? lanes)
            let start = ir.add(rowIn, ir.mul(column, ir.int(step)))
            let sum = zip(offsets, weights).reduce(ir.zeroVector(lanes)) { sum, tap in
              let at = ir.add(start, ir.int(tap.0))
              let values = step == 1
                ? ir.loadVector(source, at, lanes: lanes, count: count)
                : ir.everyNth(ir.loadVector(source, at, lanes: lanes * step, count: (real - 1) * step + 1), step, lanes: lanes)
              return ir.vectorFMA(ir.splat(tap.1, lanes: lanes), values, sum)
            }
            ir.storeVector(finished(sum), out, ir.add(rowOut, column), count: count)
          }
          if stride[2] <= Self.vectorStrides {
            let full = output[2] / lanes
            if full > 0 { ir.loop(full) { block in vector(ir.mul(block, ir.int(lanes)), count: nil) } }
            if output[2] % lanes > 0 { vector(ir.int(full * lanes), count: output[2] % lanes) }
          } else {
            ir.loop(output[2]) { ow in
              let start = ir.add(rowIn, ir.mul(ow, ir.int(stride[2])))
              let sum = zip(offsets, weights).reduce(ir.float(0)) { sum, tap in ir.fma(tap.1, ir.load(source, ir.add(start, ir.int(tap.0))), sum) }
              ir.store(finished(sum), out, ir.add(rowOut, ow))
            }
          }
        }
      }
    }
  }
}
