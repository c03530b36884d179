import RealModule

/// Reference kernels of the losses.
enum LossKernels {
  static func loss<S: KilnScalar>(_ prediction: Tensor<S>, _ target: Tensor<S>, _ a: LossAttrs, node: String) throws -> Tensor<S> {
    var terms: [S]
    switch a.kind {
    case .softmaxCrossEntropy:
      let classes = prediction.shape[1]
      let logProbabilities = ElementwiseKernels.softmax(prediction, axis: 1, log: true)
      terms = try target.scalars.enumerated().map { row, value in
        guard let label = Int(exactly: value), (0..<classes).contains(label) else {
          throw KilnError.runtime(node: node, message: "label \(value) of sample \(row) is outside 0..<\(classes)")
        }
        return -logProbabilities.scalars[row * classes + label]
      }
    case .binaryCrossEntropy:
      terms = zip(prediction.scalars, target.scalars).map { z, t in
        max(z, 0) - z * t + S.log(onePlus: S.exp(-abs(z)))
      }
    case .meanSquaredError:
      terms = zip(prediction.scalars, target.scalars).map { p, t in (p - t) * (p - t) }
    case .smoothL1:
      terms = zip(prediction.scalars, target.scalars).map { p, t in abs(p - t) < 1 ? (p - t) * (p - t) / 2 : abs(p - t) - 0.5 }
    }
    let total = terms.reduce(0, +)
    return Tensor(validShape: [], scalars: [a.reduction == .mean ? total / S(terms.count) : total])
  }
}
