import CLLVM
import Kiln

/// The input gradient of a stride-1 convolution run as a forward convolution, so that training
/// uses the forward kernels (Winograd, direct, depthwise) instead of a GEMM and col2im.
///
/// With stride 1 and zero padding, dx = conv(dy, W′): dy padded by d·(k − 1) − p on each side
/// (d the dilation, k the filter size, p the forward padding on that side), W′ the filter
/// flipped along every spatial axis with input and output channels swapped within each group,
/// W′[g·Cin/G + ci][co][t] = W[g·Cout/G + co][ci][taps − 1 − t] (flipping every axis of a
/// row-major window reverses its flat tap index). The kernel writes W′ into scratch on every run
/// (the weights change between training steps; it is a small fraction of the product) and runs
/// the forward convolution on it, by the algorithm `ConvolutionLowering.Algorithm` picks for the
/// transposed shapes.
///
/// It applies where that algorithm is one of Kiln's own kernels and the padding adds little
/// work. The convolution multiplies every tap by dy's padding too: it does dx positions × taps
/// multiply-adds per channel pair where GEMM + col2im does dy positions × taps, so convolutions
/// that shrink their maps by more than `wasteLimit` keep GEMM + col2im (LeNet-5's 5×5 → 1×1
/// layer, 5² → 1²). Where the
/// algorithm would be im2col + GEMM too (small maps, few positions), the input gradient stays
/// GEMM + col2im, the same products without a gather. Strided convolutions (whose gradients are
/// convolutions with holes) and the other padding modes (whose gradients fold the padding back
/// onto the edges) stay there too.
struct InputGradientConvolution {
  /// The convolution computing dx from dy, and W′'s shape.
  let attrs: ConvAttrs
  let flipped: [Int]
  let dy, dx, weight: [Int]
  let algorithm: ConvolutionLowering.Algorithm

  init?(_ a: ConvInputGradAttrs, dy: [Int], weight: [Int], vectors: VectorUnit) {
    let c = a.conv
    guard c.stride.allSatisfy({ $0 == 1 }), c.paddingMode == .zero || ConvolutionLowering.staysInside(c) else { return nil }
    let reach = zip(weight[2...], c.dilation).map { ($0 - 1) * $1 }
    let (before, after) = (zip(reach, c.padding.before).map(-), zip(reach, c.padding.after).map(-))
    guard (before + after).allSatisfy({ $0 >= 0 }),
      Double(a.inputShape[2...].reduce(1, *)) <= Self.wasteLimit * Double(dy[2...].reduce(1, *))
    else { return nil }
    attrs = ConvAttrs(stride: c.stride, padding: Padding(before: before, after: after), dilation: c.dilation, groups: c.groups)
    flipped = [a.inputShape[1], weight[0] / c.groups] + weight[2...]
    (self.dy, dx, self.weight) = (dy, a.inputShape, weight)
    // W′ is written on every run.
    algorithm = ConvolutionLowering.Algorithm(attrs, x: dy, weight: flipped, output: dx, vectors: vectors, weightsChange: true)
    if case .columns = algorithm { return nil }
  }

  /// The most dx positions per dy position the convolution takes on: twice the multiply-adds
  /// still beat GEMM's scalar col2im on LeNet-5's second layer (14² → 10², 1.96), batch 64, Xeon,
  /// one thread: 0.81 → 0.49–0.51 ms, training step 3.55–3.63 → 3.21 ms. With older kernels (a
  /// limit of 1.25) the same layer had made the step slower, 9.0–11.1 ms instead of 6.8–7.9.
  static let wasteLimit = 2.0

  /// Where the forward convolution's scratch starts: after W′, rounded to a cache line.
  var flippedSize: Int { (flipped.reduce(1, *) + 15) / 16 * 16 }

  /// Scratch: W′, then the forward convolution's.
  var scratchSize: Int { flippedSize + algorithm.scratchSize(attrs, x: dy, weight: flipped, output: dx) }

  /// Memory the forward convolution keeps between runs (Winograd's transformed W′).
  var persistentSize: Int { algorithm.persistentSize }

  /// dx = conv(dy, W′) into `k.output`. Inputs: dy, W.
  func emit(_ k: Kernel) {
    let ir = k.ir
    guard let scratch = k.scratch else { return }
    let (outPerGroup, inPerGroup, taps) = (weight[0] / attrs.groups, weight[1], weight[2...].reduce(1, *))
    ir.loop(weight[0]) { row in
      // Source row g·Cout/G + co holds W[row][ci][·]; it becomes W′[g·Cin/G + ci][co][·] reversed.
      let (group, co) = (ir.udiv(row, ir.int(outPerGroup)), ir.urem(row, ir.int(outPerGroup)))
      ir.loop(inPerGroup) { ci in
        let source = ir.element(k.inputs[1], ir.affine(ir.add(ir.mul(row, ir.int(inPerGroup)), ci), taps))
        let target = ir.element(scratch, ir.affine(ir.add(ir.mul(ir.add(ir.mul(group, ir.int(inPerGroup)), ci), ir.int(outPerGroup)), co), taps))
        ir.loop(taps) { t in ir.store(ir.load(source, ir.sub(ir.int(taps - 1), t)), target, t) }
      }
    }
    var forward = Kernel(
      ir: ir, node: k.node, inputTypes: [TensorType(dy), TensorType(flipped)], inputs: [k.inputs[0], scratch], output: k.output,
      scratch: ir.element(scratch, ir.int(flippedSize)), step: k.step, epilogue: k.epilogue, pool: k.pool, vectors: k.vectors)
    forward.persistent = k.persistent
    forward.weightsChange = true
    ConvolutionLowering.forward(forward, attrs)
  }
}
