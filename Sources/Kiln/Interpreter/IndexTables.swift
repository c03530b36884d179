/// The index arithmetic of the window and layout ops, shared with the code generators so that
/// they build their constant tables from the very functions the reference interpreter uses.
package enum IndexTables {
  /// For output position o (flattened spatial) and tap t (flattened kernel), the flattened input
  /// position a convolution reads at `[o·taps + t]`, or −1 for a zero.
  package static func convolutionGather(input: [Int], output: [Int], weight: [Int], attrs: ConvAttrs) -> [Int] {
    WindowGeometry(attrs, x: input, output: output, weight: weight).gatherTable(mode: attrs.paddingMode)
  }

  /// For input position i and tap t of a transposed convolution, the flattened output position
  /// it adds into at `[i·taps + t]`, or −1.
  package static func transposedConvolutionScatter(input: [Int], output: [Int], weight: [Int], attrs: ConvTransposeAttrs) -> [Int] {
    WindowGeometry(attrs, x: input, output: output, weight: weight).scatterTable()
  }

  /// For average pooling: each window's divisor (its cell count, or the whole window's with
  /// `countIncludePad`).
  package static func poolDivisors(input: [Int], output: [Int], attrs: PoolAttrs) -> [Int] {
    var divisors = [Int](repeating: 0, count: output[2...].reduce(1, *))
    WindowKernels.forEachWindow(attrs, input: [1, 1] + input[2...], output: [1, 1] + output[2...]) { index, _, divisor in
      divisors[index] = divisor
    }
    return divisors
  }

  /// Offsets into a tensor of `source` shape broadcast (numpy rules) to `target`.
  package static func broadcast(source: [Int], target: [Int]) -> [Int] {
    Gather.offsets(Gather.broadcastTables(source: source, target: target))
  }

  package static func slice(input: [Int], output: [Int], attrs: SliceAttrs) -> [Int] {
    LayoutKernels.sliceOffsets(attrs, input: input, output: output)
  }

  /// Offsets of the input element each padded element reads (−1 for zeros).
  package static func pad(input: [Int], output: [Int], attrs: PadAttrs) -> [Int] {
    LayoutKernels.padOffsets(attrs, input: input, output: output)
  }

  /// For each input element, the (keep-dims) output element a reduction over `axes` adds it to.
  package static func reductionSlots(input: [Int], axes: [Int]) -> [Int] {
    GradientKernels.reductionSlots(input, axes: axes).slots
  }
}
