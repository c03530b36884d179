/// Reference kernels of the sliding-window ops, on windows lifted to three spatial axes
/// (`WindowGeometry`).
enum WindowKernels {
  /// Convolution as a gather: each output sums weight × input over its taps (table from
  /// `WindowGeometry.gatherTable`), for the input channels of its group.
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func conv<S: KilnScalar>(
    _ x: Tensor<S>, _ w: Tensor<S>, _ bias: Tensor<S>?, _ a: ConvAttrs, shape: [Int]
  ) -> Tensor<S> {
    let (batch, inChannels, outChannels) = (x.shape[0], x.shape[1], shape[1])
    let (inPerGroup, outPerGroup) = (inChannels / a.groups, outChannels / a.groups)
    let geometry = WindowGeometry(a, x: x.shape, output: shape, weight: w.shape)
    let table = geometry.gatherTable(mode: a.paddingMode)
    let (inPlane, outPlane, taps) = (geometry.input.reduce(1, *), geometry.output.reduce(1, *), geometry.kernel.reduce(1, *))
    var out = [S](repeating: 0, count: shape.reduce(1, *))
    x.scalars.withUnsafeBufferPointer { xs in
      w.scalars.withUnsafeBufferPointer { ws in
        table.withUnsafeBufferPointer { table in
          out.withUnsafeMutableBufferPointer { out in
            for n in 0..<batch {
              for oc in 0..<outChannels {
                let group = oc / outPerGroup
                let outBase = (n * outChannels + oc) * outPlane
                for o in 0..<outPlane {
                  var sum: S = bias?.scalars[oc] ?? 0
                  for icInGroup in 0..<inPerGroup {
                    let xBase = (n * inChannels + group * inPerGroup + icInGroup) * inPlane
                    let wBase = (oc * inPerGroup + icInGroup) * taps
                    for t in 0..<taps {
                      let source = table[o * taps + t]
                      if source >= 0 { sum += xs[xBase + source] * ws[wBase + t] }
                    }
                  }
                  out[outBase + o] = sum
                }
              }
            }
          }
        }
      }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  /// Transposed convolution: every input element adds its kernel-weighted copy into the outputs
  /// it reaches.
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func convTranspose<S: KilnScalar>(
    _ x: Tensor<S>, _ w: Tensor<S>, _ bias: Tensor<S>?, _ a: ConvTransposeAttrs, shape: [Int]
  ) -> Tensor<S> {
    let geometry = WindowGeometry(a, x: x.shape, output: shape, weight: w.shape)
    var out = scatter(x, w, table: geometry.scatterTable(), taps: geometry.kernel.reduce(1, *), outPlane: geometry.output.reduce(1, *), groups: a.groups, shape: shape)
    if let bias {
      let plane = geometry.output.reduce(1, *)
      for index in out.scalars.indices { out.scalars[index] += bias.scalars[(index / plane) % shape[1]] }
    }
    return out
  }

  /// The adjoint of a convolution's gather: each element of `source` `[N, C_s, *positions]` adds
  /// `source · w[c_s, c_d, t]` into flattened position `table[p·taps + t]` (skipped where −1) of
  /// every channel `c_d` of its group in a `shape` = `[N, C_d, …]` tensor. `w` is
  /// `[C_s, C_d / groups, *kernel]`. Transposed convolution and a convolution's input gradient
  /// are both this.
  static func scatter<S: KilnScalar>(
    _ source: Tensor<S>, _ w: Tensor<S>, table: [Int], taps: Int, outPlane: Int, groups: Int, shape: [Int]
  ) -> Tensor<S> {
    let (batch, inChannels, outChannels) = (source.shape[0], source.shape[1], shape[1])
    let (inPerGroup, outPerGroup) = (inChannels / groups, w.shape[1])
    let inPlane = source.count / max(batch * inChannels, 1)
    var out = [S](repeating: 0, count: shape.reduce(1, *))
    source.scalars.withUnsafeBufferPointer { xs in
      w.scalars.withUnsafeBufferPointer { ws in
        table.withUnsafeBufferPointer { table in
          out.withUnsafeMutableBufferPointer { out in
            for n in 0..<batch {
              for ic in 0..<inChannels {
                let group = ic / inPerGroup
                let xBase = (n * inChannels + ic) * inPlane
                for i in 0..<inPlane {
                  let value = xs[xBase + i]
                  for ocInGroup in 0..<outPerGroup {
                    let outBase = (n * outChannels + group * outPerGroup + ocInGroup) * outPlane
                    let wBase = (ic * outPerGroup + ocInGroup) * taps
                    for t in 0..<taps {
                      let target = table[i * taps + t]
                      if target >= 0 { out[outBase + target] += value * ws[wBase + t] }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  /// The extent of one pooling window along one axis: the real elements it covers, and how many
  /// positions it covers counting padding (PyTorch's divisor with `count_include_pad`).
  struct Extent {
    var positions: [Int]
    var paddedCount: Int
  }

  static func extents(input: Int, output: Int, kernel: Int, stride: Int, dilation: Int, before: Int, after: Int) -> [Extent] {
    (0..<output).map { o in
      let taps = (0..<kernel).map { o * stride - before + $0 * dilation }.filter { $0 < input + after }
      return Extent(positions: taps.filter { $0 >= 0 && $0 < input }, paddedCount: taps.count)
    }
  }

  /// Calls `body` for every pooling window in output order with the input offsets the window
  /// covers (row-major, real elements only) and the average's divisor.
  static func forEachWindow(_ a: PoolAttrs, input shape: [Int], output outShape: [Int], _ body: (_ output: Int, _ cells: [Int], _ divisor: Int) -> Void) {
    let g = WindowGeometry(a, x: shape, output: outShape)
    let axes = (0..<3).map {
      extents(input: g.input[$0], output: g.output[$0], kernel: g.kernel[$0], stride: g.stride[$0], dilation: g.dilation[$0], before: g.padBefore[$0], after: g.padAfter[$0])
    }
    let (planes, inPlane) = (outShape[0] * outShape[1], g.input.reduce(1, *))
    var cells: [Int] = []
    var index = 0
    for plane in 0..<planes {
      let base = plane * inPlane
      for d in axes[0] {
        for h in axes[1] {
          for w in axes[2] {
            cells.removeAll(keepingCapacity: true)
            for id in d.positions {
              for ih in h.positions {
                for iw in w.positions { cells.append(base + (id * g.input[1] + ih) * g.input[2] + iw) }
              }
            }
            let divisor =
              a.countIncludePad ? d.paddedCount * h.paddedCount * w.paddedCount : max(cells.count, 1)
            body(index, cells, divisor)
            index += 1
          }
        }
      }
    }
  }

  /// The offset of the first maximum among `cells` of `x` (the first NaN, if any).
  static func firstMaximum<S: KilnScalar>(_ x: Tensor<S>, _ cells: [Int]) -> Int {
    var best = cells[0]
    for cell in cells.dropFirst() where S.isPreferredMaximum(x.scalars[cell], over: x.scalars[best]) { best = cell }
    return best
  }

  /// Max or average pooling. A max takes the first of equal maxima in row-major window order.
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func pool<S: KilnScalar>(_ x: Tensor<S>, _ a: PoolAttrs, shape: [Int]) -> Tensor<S> {
    var out = [S](repeating: 0, count: shape.reduce(1, *))
    forEachWindow(a, input: x.shape, output: shape) { index, cells, divisor in
      switch a.kind {
      case .max: out[index] = x.scalars[firstMaximum(x, cells)]
      case .average: out[index] = cells.reduce(S(0)) { $0 + x.scalars[$1] } / S(divisor)
      }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  /// The gradient of `pool`: each window's `dy` goes to its first maximum, or is spread over its
  /// real elements by the forward divisor.
  static func poolGrad<S: KilnScalar>(_ x: Tensor<S>, _ dy: Tensor<S>, _ a: PoolAttrs) -> Tensor<S> {
    var dx = [S](repeating: 0, count: x.count)
    forEachWindow(a, input: x.shape, output: dy.shape) { index, cells, divisor in
      switch a.kind {
      case .max: dx[firstMaximum(x, cells)] += dy.scalars[index]
      case .average: for cell in cells { dx[cell] += dy.scalars[index] / S(divisor) }
      }
    }
    return Tensor(validShape: x.shape, scalars: dx)
  }
}
