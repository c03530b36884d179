/// A sliding window's geometry lifted to three spatial axes (D, H, W: size-1 axes prepended, no
/// padding on them), so that one loop nest serves 1D, 2D and 3D. The interpreter's kernels and
/// index tables and the code generator's kernels all take their window arithmetic from here.
package struct WindowGeometry: Sendable {
  package let input, output, kernel, stride, dilation, padBefore, padAfter: [Int]

  /// The window of `input`'s spatial sizes into `output`'s, each list one entry per spatial axis.
  package init(
    input: some Collection<Int>, output: some Collection<Int>, kernel: some Collection<Int>, stride: [Int], dilation: [Int], padding: Padding
  ) {
    self.input = Self.lift(input, fill: 1)
    self.output = Self.lift(output, fill: 1)
    self.kernel = Self.lift(kernel, fill: 1)
    self.stride = Self.lift(stride, fill: 1)
    self.dilation = Self.lift(dilation, fill: 1)
    padBefore = Self.lift(padding.before, fill: 0)
    padAfter = Self.lift(padding.after, fill: 0)
  }

  /// The window of convolution `a` of `x` (N, C, spatial…) by `weight` (O, C / groups, kernel…)
  /// into `output`.
  package init(_ a: ConvAttrs, x: [Int], output: [Int], weight: [Int]) {
    self.init(input: x[2...], output: output[2...], kernel: weight[2...], stride: a.stride, dilation: a.dilation, padding: a.padding)
  }

  /// The window of transposed convolution `a` of `x` by `weight` (C, O / groups, kernel…) into
  /// `output` (`scatterTable` maps its input positions to output positions).
  package init(_ a: ConvTransposeAttrs, x: [Int], output: [Int], weight: [Int]) {
    self.init(input: x[2...], output: output[2...], kernel: weight[2...], stride: a.stride, dilation: a.dilation, padding: a.padding)
  }

  /// The window of pooling `a` of `x` into `output` (both N, C, spatial…).
  package init(_ a: PoolAttrs, x: [Int], output: [Int]) {
    self.init(input: x[2...], output: output[2...], kernel: a.kernel, stride: a.stride, dilation: a.dilation, padding: a.padding)
  }

  /// `values` with `fill` prepended up to three entries.
  package static func lift(_ values: some Collection<Int>, fill: Int) -> [Int] {
    Array(repeating: fill, count: 3 - values.count) + values
  }

  /// For output position o (flattened over D, H, W) and tap t (flattened over the kernel), the
  /// flattened input position a convolution reads at `[o·taps + t]`, or −1 for a zero.
  package func gatherTable(mode: PaddingMode) -> [Int] {
    let perAxis = Self.sourceTables(input: input, output: output, kernel: kernel, stride: stride, dilation: dilation, padBefore: padBefore, mode: mode)
    return Self.flatten(perAxis, positions: output, kernel: kernel, target: input)
  }

  /// For input position i and tap t, the flattened output position a transposed convolution
  /// writes at `[i·taps + t]`, or −1: the same arithmetic with the roles swapped.
  package func scatterTable() -> [Int] {
    let perAxis = Self.sourceTables(input: output, output: input, kernel: kernel, stride: stride, dilation: dilation, padBefore: padBefore, mode: .zero)
    return Self.flatten(perAxis, positions: input, kernel: kernel, target: output)
  }

  /// Per axis, for output index `o` and kernel tap `k`, the input index read at `[o·K + k]`
  /// (−1 for a zero from padding), with padding made up as `mode` says.
  private static func sourceTables(
    input: [Int], output: [Int], kernel: [Int], stride: [Int], dilation: [Int], padBefore: [Int], mode: PaddingMode
  ) -> [[Int]] {
    (0..<3).map { axis in
      (0..<(output[axis] * kernel[axis])).map { slot in
        let (o, k) = slot.quotientAndRemainder(dividingBy: kernel[axis])
        let position = o * stride[axis] - padBefore[axis] + k * dilation[axis]
        return mode.source(position, size: input[axis]) ?? -1
      }
    }
  }

  /// Combines per-axis tables (`[p·K + k]` → index on that axis, or −1) into one table over
  /// flattened positions and taps (`[p·taps + t]` → flattened index into `target`, or −1).
  private static func flatten(_ perAxis: [[Int]], positions: [Int], kernel: [Int], target: [Int]) -> [Int] {
    var table: [Int] = []
    table.reserveCapacity(positions.reduce(1, *) * kernel.reduce(1, *))
    for pd in 0..<positions[0] {
      for ph in 0..<positions[1] {
        for pw in 0..<positions[2] {
          for kd in 0..<kernel[0] {
            let d = perAxis[0][pd * kernel[0] + kd]
            for kh in 0..<kernel[1] {
              let h = perAxis[1][ph * kernel[1] + kh]
              for kw in 0..<kernel[2] {
                let w = perAxis[2][pw * kernel[2] + kw]
                table.append(d < 0 || h < 0 || w < 0 ? -1 : (d * target[1] + h) * target[2] + w)
              }
            }
          }
        }
      }
    }
    return table
  }
}
