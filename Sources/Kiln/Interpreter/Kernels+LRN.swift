/// Local response normalisation and its input gradient, over `[N, C, inner]` (see `LRNAttrs`).
enum LRNKernels {
  /// bias + alpha/size · Σ x_j² over the window of every element: the base `y = x·scale^(−β)`
  /// is raised to.
  static func scales<S: KilnScalar>(_ x: Tensor<S>, _ a: LRNAttrs) -> [S] {
    let (channels, inner) = (x.shape[1], x.shape[2...].reduce(1, *))
    var scales = [S](repeating: 0, count: x.count)
    for index in scales.indices {
      let (c, s, base) = ((index / inner) % channels, index % inner, index / (channels * inner) * channels * inner)
      var sum: S = 0
      for j in a.window(c, channels: channels) {
        let value = x.scalars[base + j * inner + s]
        sum += value * value
      }
      scales[index] = S(a.bias) + S(a.alpha / Double(a.size)) * sum
    }
    return scales
  }

  static func lrn<S: KilnScalar>(_ x: Tensor<S>, _ a: LRNAttrs) -> Tensor<S> {
    let scales = scales(x, a)
    return Tensor(validShape: x.shape, scalars: x.scalars.indices.map { x.scalars[$0] * S.pow(scales[$0], S(-a.beta)) })
  }

  /// dx_i = dy_i·scale_i^(−β) − (2αβ/size)·x_i·Σ_c dy_c·x_c·scale_c^(−β−1), over the channels c
  /// whose windows hold i.
  static func lrnGrad<S: KilnScalar>(_ x: Tensor<S>, _ dy: Tensor<S>, _ a: LRNAttrs) -> Tensor<S> {
    let (channels, inner) = (x.shape[1], x.shape[2...].reduce(1, *))
    let scales = scales(x, a)
    let terms = x.scalars.indices.map { dy.scalars[$0] * x.scalars[$0] * S.pow(scales[$0], S(-a.beta - 1)) }
    let coefficient = S(2 * a.alpha * a.beta / Double(a.size))
    return Tensor(validShape: x.shape, scalars: x.scalars.indices.map { index in
      let (i, s, base) = ((index / inner) % channels, index % inner, index / (channels * inner) * channels * inner)
      let spread = a.readers(i, channels: channels).reduce(S(0)) { $0 + terms[base + $1 * inner + s] }
      return dy.scalars[index] * S.pow(scales[index], S(-a.beta)) - coefficient * x.scalars[index] * spread
    })
  }
}
