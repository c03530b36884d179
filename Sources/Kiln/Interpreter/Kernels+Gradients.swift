import RealModule

/// Reference kernels of the backward ops (see `Ops/Gradients.swift`).
enum GradientKernels {
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func convInputGrad<S: KilnScalar>(_ dy: Tensor<S>, _ w: Tensor<S>, _ a: ConvInputGradAttrs) -> Tensor<S> {
    let conv = a.conv
    let geometry = WindowGeometry(conv, x: a.inputShape, output: dy.shape, weight: w.shape)
    // The forward op gathered input[table[o·taps + t]] into output o; its adjoint scatters back.
    return WindowKernels.scatter(
      dy, w, table: geometry.gatherTable(mode: conv.paddingMode), taps: geometry.kernel.reduce(1, *),
      outPlane: geometry.input.reduce(1, *), groups: conv.groups, shape: a.inputShape)
  }

  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func convWeightGrad<S: KilnScalar>(_ x: Tensor<S>, _ dy: Tensor<S>, _ a: ConvWeightGradAttrs, shape: [Int]) -> Tensor<S> {
    let conv = a.conv
    let geometry = WindowGeometry(conv, x: x.shape, output: dy.shape, weight: shape)
    let table = geometry.gatherTable(mode: conv.paddingMode)
    let (batch, inChannels, outChannels) = (x.shape[0], x.shape[1], dy.shape[1])
    let (inPerGroup, outPerGroup) = (inChannels / conv.groups, outChannels / conv.groups)
    let (inPlane, outPlane, taps) = (geometry.input.reduce(1, *), geometry.output.reduce(1, *), geometry.kernel.reduce(1, *))
    var dw = [S](repeating: 0, count: shape.reduce(1, *))
    x.scalars.withUnsafeBufferPointer { xs in
      dy.scalars.withUnsafeBufferPointer { dys in
        table.withUnsafeBufferPointer { table in
          dw.withUnsafeMutableBufferPointer { dw in
            for n in 0..<batch {
              for oc in 0..<outChannels {
                let group = oc / outPerGroup
                let dyBase = (n * outChannels + oc) * outPlane
                for o in 0..<outPlane {
                  let gradient = dys[dyBase + o]
                  for icInGroup in 0..<inPerGroup {
                    let xBase = (n * inChannels + group * inPerGroup + icInGroup) * inPlane
                    let wBase = (oc * inPerGroup + icInGroup) * taps
                    for t in 0..<taps {
                      let source = table[o * taps + t]
                      if source >= 0 { dw[wBase + t] += gradient * xs[xBase + source] }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return Tensor(validShape: shape, scalars: dw)
  }

  /// For each element of `x`, the element of the (keep-dims) reduction output it contributes to.
  static func reductionSlots(_ shape: [Int], axes: [Int]) -> (slots: [Int], count: Int) {
    let kept = shape.indices.map { axes.contains($0) ? 1 : shape[$0] }
    return (Gather.offsets(Gather.broadcastTables(source: kept, target: shape)), kept.reduce(1, *))
  }

  static func reduceGrad<S: KilnScalar>(_ x: Tensor<S>, _ dy: Tensor<S>, _ a: ReduceAttrs) -> Tensor<S> {
    let (slots, count) = reductionSlots(x.shape, axes: a.axes)
    switch a.kind {
    case .sum:
      return Tensor(validShape: x.shape, scalars: slots.map { dy.scalars[$0] })
    case .mean:
      let n = S(x.count / max(count, 1))
      return Tensor(validShape: x.shape, scalars: slots.map { dy.scalars[$0] / n })
    case .variance:
      // ∂/∂xᵢ of Σ(x − μ)²/n is 2(xᵢ − μ)/n (the mean's own dependence sums to zero).
      let n = S(x.count / max(count, 1))
      let kept = x.shape.indices.map { a.axes.contains($0) ? 1 : x.shape[$0] }
      let mean = ElementwiseKernels.reduce(x, ReduceAttrs(.mean, axes: a.axes, keepDims: true), shape: kept).scalars
      return Tensor(validShape: x.shape, scalars: zip(x.scalars, slots).map { value, slot in dy.scalars[slot] * 2 * (value - mean[slot]) / n })
    case .max:
      var winner = [Int](repeating: -1, count: count)
      for (index, slot) in slots.enumerated() where winner[slot] < 0 || S.isPreferredMaximum(x.scalars[index], over: x.scalars[winner[slot]]) {
        winner[slot] = index
      }
      var dx = [S](repeating: 0, count: x.count)
      for (slot, index) in winner.enumerated() { dx[index] += dy.scalars[slot] }
      return Tensor(validShape: x.shape, scalars: dx)
    }
  }

  static func unaryGrad<S: KilnScalar>(_ x: Tensor<S>, _ y: Tensor<S>, _ dy: Tensor<S>, _ function: UnaryFunction) -> Tensor<S> {
    let derivative: (S, S) -> S
    switch function {
    case .relu: derivative = { x, _ in x > 0 ? 1 : 0 }
    case .relu6: derivative = { x, _ in x > 0 && x < 6 ? 1 : 0 }
    case .leakyReLU(let slope): derivative = { x, _ in x > 0 ? 1 : S(slope) }
    // y = α(eˣ − 1) for x ≤ 0, so y′ = αeˣ = y + α.
    case .elu(let alpha): derivative = { x, y in x > 0 ? 1 : y + S(alpha) }
    case .sigmoid: derivative = { _, y in y * (1 - y) }
    case .tanh: derivative = { _, y in 1 - y * y }
    case .affine(let scale, _): derivative = { _, _ in S(scale) }
    case .sqrt: derivative = { _, y in 1 / (2 * y) }
    case .clamp(let low, let high): derivative = { x, _ in x > S(low) && x < S(high) ? 1 : 0 }
    case .hardSigmoid(let alpha, let beta):
      derivative = { x, _ in
        let z = S(alpha) * x + S(beta)
        return z > 0 && z < 1 ? S(alpha) : 0
      }
    case .hardSwish: derivative = { x, _ in x < -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6 }
    case .silu:
      derivative = { x, _ in
        let s = ElementwiseKernels.sigmoid(x)
        return s * (1 + x * (1 - s))
      }
    case .erf: derivative = { x, _ in 2 / S.sqrt(S.pi) * S.exp(-x * x) }
    // Φ(x) + x·φ(x).
    case .gelu: derivative = { x, _ in (1 + S.erf(x / S.sqrt(2))) / 2 + x * S.exp(-x * x / 2) / S.sqrt(2 * S.pi) }
    }
    return Tensor(validShape: x.shape, scalars: x.scalars.indices.map { derivative(x.scalars[$0], y.scalars[$0]) * dy.scalars[$0] })
  }

  static func maxoutGrad<S: KilnScalar>(_ x: Tensor<S>, _ dy: Tensor<S>, _ a: MaxoutAttrs) -> Tensor<S> {
    let (pieces, inner) = (a.pieces, a.inner(x.shape))
    var dx = [S](repeating: 0, count: x.count)
    for g in 0..<(dy.count / inner) {
      for i in 0..<inner {
        var best = g * pieces * inner + i
        for p in 1..<pieces {
          let candidate = (g * pieces + p) * inner + i
          if x.scalars[candidate] > x.scalars[best] { best = candidate }
        }
        dx[best] += dy.scalars[g * inner + i]
      }
    }
    return Tensor(validShape: x.shape, scalars: dx)
  }

  static func embeddingGrad<S: KilnScalar>(_ indices: Tensor<S>, _ dy: Tensor<S>, shape: [Int], node: String) throws -> Tensor<S> {
    let (vocabulary, dim) = (shape[0], shape[1])
    var table = [S](repeating: 0, count: vocabulary * dim)
    for (row, value) in indices.scalars.enumerated() {
      let index = Int(value)
      guard (0..<vocabulary).contains(index) else {
        throw KilnError.runtime(node: node, message: "index \(value) is outside the vocabulary 0..<\(vocabulary)")
      }
      for d in 0..<dim { table[index * dim + d] += dy.scalars[row * dim + d] }
    }
    return Tensor(validShape: shape, scalars: table)
  }

  /// Adds each element of `dy` into `x`-shaped zeros at the offset it was gathered from.
  static func scatterAdd<S: KilnScalar>(_ dy: Tensor<S>, offsets: [Int], shape: [Int]) -> Tensor<S> {
    var dx = [S](repeating: 0, count: shape.reduce(1, *))
    for (value, offset) in zip(dy.scalars, offsets) where offset >= 0 { dx[offset] += value }
    return Tensor(validShape: shape, scalars: dx)
  }

  /// `sums`: the gradients of γ and β, which `.inputWithStatistics` takes its sums from.
  static func batchNormGrad<S: KilnScalar>(
    _ x: Tensor<S>, gamma: Tensor<S>, mean: Tensor<S>, variance: Tensor<S>, dy: Tensor<S>, sums: (gamma: Tensor<S>, beta: Tensor<S>)?,
    _ a: BatchNormGradAttrs
  ) -> Tensor<S> {
    let channels = x.shape[1]
    let inner = x.shape[2...].reduce(1, *)
    let inverse = variance.scalars.map { 1 / S.sqrt($0 + S(a.epsilon)) }
    let channel = { (index: Int) in (index / inner) % channels }
    if a.operand == .input {
      return Tensor(validShape: x.shape, scalars: dy.scalars.indices.map { dy.scalars[$0] * gamma.scalars[channel($0)] * inverse[channel($0)] })
    }
    if a.operand == .inputWithStatistics, let sums {
      // Per channel, over its n values: Σ dy is β's gradient, Σ dy·x̂ is γ's.
      let count = S(x.count / channels)
      return Tensor(
        validShape: x.shape,
        scalars: x.scalars.indices.map { index in
          let c = channel(index)
          let normalised = (x.scalars[index] - mean.scalars[c]) * inverse[c]
          return gamma.scalars[c] * inverse[c] * (dy.scalars[index] - sums.beta.scalars[c] / count - normalised * sums.gamma.scalars[c] / count)
        })
    }
    var sums = [S](repeating: 0, count: channels)
    for index in x.scalars.indices {
      let c = channel(index)
      let centered = x.scalars[index] - mean.scalars[c]
      switch a.operand {
      case .input, .inputWithStatistics: break
      case .gamma: sums[c] += dy.scalars[index] * centered * inverse[c]
      case .beta: sums[c] += dy.scalars[index]
      case .mean: sums[c] -= dy.scalars[index] * gamma.scalars[c] * inverse[c]
      // ∂/∂σ² of γ(x − μ)(σ² + ε)^(−1/2) is −½·γ(x − μ)(σ² + ε)^(−3/2).
      case .variance: sums[c] -= dy.scalars[index] * gamma.scalars[c] * centered * inverse[c] * inverse[c] * inverse[c] / 2
      }
    }
    return Tensor(validShape: [channels], scalars: sums)
  }

  static func lossGrad<S: KilnScalar>(_ prediction: Tensor<S>, _ target: Tensor<S>, _ dy: Tensor<S>, _ a: LossGradAttrs) -> Tensor<S> {
    let count = a.loss.kind == .softmaxCrossEntropy ? prediction.shape[0] : prediction.count
    let scale = dy.scalars[0] / (a.loss.reduction == .mean ? S(count) : 1)
    var gradient: [S]
    switch a.loss.kind {
    case .softmaxCrossEntropy:
      let classes = prediction.shape[1]
      gradient = ElementwiseKernels.softmax(prediction, axis: 1, log: false).scalars
      for (row, label) in target.scalars.enumerated() { gradient[row * classes + Int(label)] -= 1 }
      return Tensor(validShape: prediction.shape, scalars: gradient.map { $0 * scale })
    case .binaryCrossEntropy:
      // ∂/∂z = σ(z) − t; ∂/∂t = −z.
      gradient = zip(prediction.scalars, target.scalars).map { z, t in
        a.operand == .prediction ? ElementwiseKernels.sigmoid(z) - t : -z
      }
    case .meanSquaredError:
      gradient = zip(prediction.scalars, target.scalars).map { p, t in a.operand == .prediction ? 2 * (p - t) : 2 * (t - p) }
    case .smoothL1:
      // ∂/∂p = d clamped to [−1, 1]; ∂/∂t = −∂/∂p.
      gradient = zip(prediction.scalars, target.scalars).map { p, t in
        let slope = min(max(p - t, -1), 1)
        return a.operand == .prediction ? slope : -slope
      }
    }
    return Tensor(validShape: prediction.shape, scalars: gradient.map { $0 * scale })
  }
}
