import RealModule

/// Reference kernels of the elementwise, activation, reduction and normalisation ops.
enum ElementwiseKernels {
  static func binary<S: KilnScalar>(_ a: Tensor<S>, _ b: Tensor<S>, _ op: BinaryOperator, shape: [Int]) -> Tensor<S> {
    let (x, y) = (LayoutKernels.broadcast(a, to: shape), LayoutKernels.broadcast(b, to: shape))
    let f: (S, S) -> S
    switch op {
    case .add: f = (+)
    case .sub: f = (-)
    case .mul: f = (*)
    case .div: f = (/)
    }
    return Tensor(validShape: shape, scalars: zip(x.scalars, y.scalars).map(f))
  }

  /// The steps of `a` one after another on whole tensors, as the ops they stand for would run.
  /// The steps of `a` one after another on whole tensors, as the ops they stand for would run.
  static func fused<S: KilnScalar>(_ inputs: [Tensor<S>], _ a: FusedElementwiseAttrs, shape: [Int]) -> Tensor<S> {
    let result = a.evaluate(inputs, unary: { unary($1, $0) }) { op, left, right in
      // The shape rule has checked that the operands broadcast.
      binary(left, right, op, shape: (try? broadcastShapes(left.shape, right.shape)) ?? shape)
    }
    return Tensor(validShape: shape, scalars: result.scalars)
  }

  static func unary<S: KilnScalar>(_ x: Tensor<S>, _ function: UnaryFunction) -> Tensor<S> {
    let f: (S) -> S
    switch function {
    case .relu: f = { S.propagatingMax($0, 0) }
    case .relu6: f = { S.propagatingMin(S.propagatingMax($0, 0), 6) }
    case .leakyReLU(let slope): f = { $0 > 0 ? $0 : S(slope) * $0 }
    case .elu(let alpha): f = { $0 > 0 ? $0 : S(alpha) * S.expMinusOne($0) }
    case .sigmoid: f = sigmoid
    case .tanh: f = { S.tanh($0) }
    case .affine(let scale, let shift): f = { S(scale) * $0 + S(shift) }
    case .sqrt: f = { S.sqrt($0) }
    case .clamp(let low, let high): f = { S.propagatingMin(S.propagatingMax($0, S(low)), S(high)) }
    case .hardSigmoid(let alpha, let beta): f = { S.propagatingMin(S.propagatingMax(S(alpha) * $0 + S(beta), 0), 1) }
    case .hardSwish: f = { $0 * S.propagatingMin(S.propagatingMax($0 + 3, 0), 6) / 6 }
    case .silu: f = { $0 * sigmoid($0) }
    case .erf: f = { S.erf($0) }
    case .gelu: f = { $0 * (1 + S.erf($0 / S.sqrt(2))) / 2 }
    }
    return Tensor(validShape: x.shape, scalars: x.scalars.map(f))
  }

  /// 1 / (1 + e^−x), evaluated without overflow for large |x|.
  static func sigmoid<S: KilnScalar>(_ x: S) -> S {
    x >= 0 ? 1 / (1 + S.exp(-x)) : S.exp(x) / (1 + S.exp(x))
  }

  static func maxout<S: KilnScalar>(_ x: Tensor<S>, _ a: MaxoutAttrs, shape: [Int]) -> Tensor<S> {
    let (pieces, inner) = (a.pieces, a.inner(x.shape))
    let groups = x.count / (pieces * inner)
    var out: [S] = []
    out.reserveCapacity(groups * inner)
    for g in 0..<groups {
      for i in 0..<inner {
        var best = x.scalars[g * pieces * inner + i]
        for p in 1..<pieces { best = S.propagatingMax(best, x.scalars[(g * pieces + p) * inner + i]) }
        out.append(best)
      }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  /// Softmax or log-softmax along `axis`, shifted by the maximum for stability.
  static func softmax<S: KilnScalar>(_ x: Tensor<S>, axis: Int, log: Bool) -> Tensor<S> {
    let (outer, size, inner) = (x.shape[..<axis].reduce(1, *), x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
    var out = x.scalars
    for o in 0..<outer {
      for i in 0..<inner {
        let base = o * size * inner + i
        var top = -S.infinity
        for k in 0..<size { top = S.propagatingMax(top, x.scalars[base + k * inner]) }
        var total: S = 0
        for k in 0..<size { total += S.exp(x.scalars[base + k * inner] - top) }
        let logTotal = S.log(total)
        for k in 0..<size {
          let shifted = x.scalars[base + k * inner] - top
          out[base + k * inner] = log ? shifted - logTotal : S.exp(shifted - logTotal)
        }
      }
    }
    return Tensor(validShape: x.shape, scalars: out)
  }

  static func reduce<S: KilnScalar>(_ x: Tensor<S>, _ a: ReduceAttrs, shape: [Int]) -> Tensor<S> {
    // Each input element accumulates into the output element it broadcasts from.
    let kept = x.shape.indices.map { a.axes.contains($0) ? 1 : x.shape[$0] }
    let target = Gather.offsets(Gather.broadcastTables(source: kept, target: x.shape))
    let count = kept.reduce(1, *)
    var out = Array(repeating: a.kind == .max ? -S.infinity : 0, count: count)
    for (value, slot) in zip(x.scalars, target) {
      out[slot] = a.kind == .max ? S.propagatingMax(out[slot], value) : out[slot] + value
    }
    let n = S(x.count / max(count, 1))
    if a.kind == .mean || a.kind == .variance { out = out.map { $0 / n } }
    if a.kind == .variance {
      let mean = out
      out = Array(repeating: 0, count: count)
      for (value, slot) in zip(x.scalars, target) { out[slot] += (value - mean[slot]) * (value - mean[slot]) }
      out = out.map { $0 / n }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  static func globalPool<S: KilnScalar>(_ x: Tensor<S>, kind: PoolKind, shape: [Int]) -> Tensor<S> {
    let axes = Array(2..<x.rank)
    return reduce(x, ReduceAttrs(kind == .max ? .max : .mean, axes: axes, keepDims: true), shape: shape)
  }

  static func batchNorm<S: KilnScalar>(
    _ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>, mean: Tensor<S>, variance: Tensor<S>,
    epsilon: Double
  ) -> Tensor<S> {
    let channels = x.shape[1]
    let inner = x.shape[2...].reduce(1, *)
    var out = x.scalars
    for (index, value) in x.scalars.enumerated() {
      let c = (index / inner) % channels
      let scale = gamma.scalars[c] / S.sqrt(variance.scalars[c] + S(epsilon))
      out[index] = (value - mean.scalars[c]) * scale + beta.scalars[c]
    }
    return Tensor(validShape: x.shape, scalars: out)
  }

  /// Whether dropout keeps element `index` at `step` (see `DropoutAttrs`).
  static func dropoutKeeps(_ a: DropoutAttrs, step: UInt64, index: Int) -> Bool {
    let bits = SplitMix64.mix(a.seed ^ SplitMix64.mix(step &+ SplitMix64.mix(UInt64(index))))
    return Double(bits >> 11) * 0x1p-53 >= a.rate
  }

  static func dropout<S: KilnScalar>(_ x: Tensor<S>, _ a: DropoutAttrs, step: UInt64) -> Tensor<S> {
    guard a.training, a.rate > 0 else { return x }
    let scale = 1 / S(1 - a.rate)
    let scalars = x.scalars.enumerated().map { index, value in
      dropoutKeeps(a, step: step, index: index) ? value * scale : 0
    }
    return Tensor(validShape: x.shape, scalars: scalars)
  }
}
