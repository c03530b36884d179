import CLLVM
import Kiln

/// Convolutions with few output positions (7×7 maps at batch 1) computed transposed, vectors
/// along output channels: Yᵀ = colsᵀ·Wᵀ, with cols the im2col matrix [depth, positions] (a
/// pointwise convolution's input itself) read as a transposed A, and Wᵀ kept in the panels of a
/// `RegisterProduct`, packed once from the weights behind a flag (like Winograd's U: whoever
/// writes parameters clears it, `Program.keptFlags`). Rows of 49 positions fill 49 of 56 lanes
/// (vectors of 8) or 64 (of 16), where channel counts fill them all. Each thread takes whole
/// panels of output channels, all positions, so the weights are read once whatever the thread
/// count; a panel's Yᵀ is then written back into the output's planes with bias, the fused
/// shortcut and the activation, while it is in cache.
struct ChannelVectorConvolution {
  let s: ConvolutionShape
  let product: RegisterProduct

  /// The plan for a convolution `a` with shapes `s`, or nil where it does not apply
  /// or does not pay: weights that stay fixed between runs (packing them on every run would cost
  /// as much as the product), one group, more positions than the skinny product takes, and
  /// either at most `Algorithm.unpackedProductColumns` positions in all (a block of all samples)
  /// whose output channels fill a tenth more of the lanes than the positions do, or a strided
  /// convolution (`strided`) whose output channels fill whole vectors.
  init?(_ a: ConvAttrs, _ s: ConvolutionShape, vectors unit: VectorUnit, weightsChange: Bool) {
    let positions = s.batch * s.outPlane
    guard !weightsChange, s.groups == 1, !SkinnyProduct.applies(m: s.outChannels, n: positions, k: s.depth) else { return nil }
    func filled(_ width: Int) -> Double {
      let lanes = unit.lanes(forRow: width)
      return Double(width) / Double((width + lanes - 1) / lanes * lanes)
    }
    let few = positions <= ConvolutionLowering.Algorithm.unpackedProductColumns && filled(s.outChannels) > 1.1 * filled(positions)
    guard few || Self.strided(a, s) && filled(s.outChannels) == 1 else { return nil }
    let lanes = unit.lanes(forRow: s.outChannels)
    let row = (s.outChannels + lanes - 1) / lanes * lanes + lanes
    self.s = s
    product = RegisterProduct(
      m: positions, n: s.outChannels, k: s.depth, lda: positions, ldb: nil, ldc: row, lanes: lanes, registers: unit.registers, transposedA: true,
      prefetchRows: Self.prefetchRows)
  }

  /// Rows of a weight panel ahead that the first block of positions asks the caches for: such
  /// layers' weights (ResNet-50's layer4: 15 MB) come from memory on every run, faster than the
  /// hardware fetches them for a product this short. ResNet-50's layer4 with cold caches, one
  /// thread, Zen 4: 16.1-16.2 -> 14.9-15.2 ms (16 rows ahead: 15.1-15.3); the whole model, five
  /// alternating rounds, 62.9-69.1 -> 62.1-63.2 ms. (Winograd's products, whose U is as cold,
  /// got slower with it: ResNet-50's layer3.1.conv2 cold 1.19 -> 1.24-1.30 ms.)
  static let prefetchRows = 32

  /// Whether `a` is a strided convolution of more than one tap with at most `stridedPositions`
  /// positions and `stridedColumns` floats of columns, which run transposed where their output
  /// channels fill whole vectors: the direct kernel takes strided windows from copies of the
  /// input split by phase, in vectors along rows (ResNet-50's layer3.0.conv2: 14-wide rows fill
  /// 14 of 16 lanes). One thread, Zen 4, min of two alternating rounds:
  /// ResNet-50's layer3.0.conv2 2.39-2.41 -> 2.10-2.11 ms, ZFNet's 5×5 stride-2 96 -> 256 layer
  /// at 26×26 9.12-9.21 -> 7.72-7.76 ms, ResNet-18's layer3.0.conv1 1.10 -> 1.06 ms.
  static func strided(_ a: ConvAttrs, _ s: ConvolutionShape) -> Bool {
    s.taps > 1 && a.stride.contains { $0 > 1 } && s.batch * s.outPlane <= stridedPositions && s.batch * s.outPlane * s.depth <= stridedColumns
  }

  /// The most output positions (samples × plane) of a strided convolution run transposed: ResNet-50's
  /// 28×28 stride-2 layer (784) gained 2% this way, VGG-11-CIFAR's 32×32 first layer (1,024,
  /// stride 1) lost half its speed.
  static let stridedPositions = 1024

  /// The most floats of im2col columns a strided convolution run transposed may take: every
  /// panel of output channels reads them all, so they must stay in the last-level cache
  /// (8 MiB; ZFNet's layer takes 6.5 MiB).
  static let stridedColumns = 1 << 21

  /// Where Yᵀ starts in scratch: after what the columns take (`ConvolutionShape.scratchSize`).
  func transposedOffset(_ a: ConvAttrs, x: [Int]) -> Int { s.scratchSize(a, x: x) }

  /// Scratch: the columns, then Yᵀ.
  func scratchSize(_ a: ConvAttrs, x: [Int]) -> Int { transposedOffset(a, x: x) + s.batch * s.outPlane * product.ldc }

  /// Kept between runs: the flag (and the rest of its cache line), then Wᵀ in panels.
  var persistentSize: Int { WinogradConvolution.flagSize + product.packedSize }

  /// y = f(conv(x, W) + b + shortcut) into `k.output`.
  func emit(_ k: Kernel, _ a: ConvAttrs) {
    let ir = k.ir
    guard let scratch = k.scratch, let persistent = k.persistent else { return }
    let (x, weight) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let packed = ir.element(persistent, ir.int(WinogradConvolution.flagSize))
    pack(k, weights: k.inputs[1], flag: persistent, into: packed)
    let columns = ConvolutionLowering.blockColumns(
      k, a, x: x, weight: weight, output: k.type.shape, input: k.inputs[0], scratch: scratch, first: ir.int(0), count: s.batch, group: ir.int(0), shape: s)
    let transposed = ir.element(scratch, ir.int(transposedOffset(a, x: x)))
    let bias = k.inputs.count > 2 ? [k.inputs[2]] : []
    let residual = k.residual.map { [$0] } ?? []
    let product = self.product
    product.forEachPanel(k, rows: s.batch * s.outPlane, capturing: [columns, packed, transposed] + bias + residual) { k, captured, column, width in
      product.emitPanel(k.ir, a: captured[0], b: captured[1], c: captured[2], count: s.batch * s.outPlane, column: column, width: width)
      store(k, transposed: captured[2], column: column, width: width, bias: bias.isEmpty ? nil : captured[3], residual: residual.isEmpty ? nil : captured[3 + bias.count])
    }
  }

  /// Wᵀ into its panels when `flag` is zero (then set): W is [outputs, depth] row-major, so
  /// output channel o's weights are column o of Wᵀ.
  private func pack(_ k: Kernel, weights: LLVMValueRef, flag: LLVMValueRef, into packed: LLVMValueRef) {
    let ir = k.ir
    let (depth, product) = (s.depth, product)
    ir.when(ir.fcmp(LLVMRealOEQ, ir.load(flag, ir.int(0)), ir.float(0))) {
      ir.loop(s.outChannels) { output in
        ir.loop(depth) { row in
          ir.store(ir.load(weights, ir.add(ir.mul(output, ir.int(depth)), row)), packed, product.packedIndex(ir, row: row, column: output))
        }
      }
      ir.store(ir.float(1), flag, ir.int(0))
    }
  }

  /// Output channels `column`…+`width` of every sample from Yᵀ, rows (sample j, position p) at
  /// (j·P + p)·ldc: plus bias and shortcut, activated.
  private func store(_ k: Kernel, transposed: LLVMValueRef, column: LLVMValueRef, width: Int, bias: LLVMValueRef?, residual: LLVMValueRef?) {
    let ir = k.ir
    let (plane, channels, ldc) = (s.outPlane, s.outChannels, product.ldc)
    ir.loop(width) { i in
      let channel = ir.add(column, i)
      let shift = bias.map { ir.load($0, channel) }
      ir.loop(s.batch) { sample in
        let first = ir.add(ir.mul(sample, ir.int(channels * plane)), ir.mul(channel, ir.int(plane)))
        ir.loop(plane) { p in
          let at = ir.add(first, p)
          var value = ir.load(transposed, ir.add(ir.mul(ir.add(ir.mul(sample, ir.int(plane)), p), ir.int(ldc)), channel))
          if let shift { value = ir.fadd(value, shift) }
          if let residual { value = ir.fadd(value, ir.load(residual, at)) }
          ir.store(k.activated(value), k.output, at)
        }
      }
    }
  }
}
