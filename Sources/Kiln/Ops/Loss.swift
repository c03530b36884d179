/// Which loss a `LossAttrs` computes.
public enum LossKind: String, Codable, Hashable, Sendable {
  /// `logits` `[N, C]`, integer `labels` `[N]`: −log softmax(logits)[label] per sample.
  case softmaxCrossEntropy
  /// `logits` and 0…1 `targets` of one shape: max(z, 0) − z·t + log(1 + e^−|z|) per element
  /// (the numerically stable form of cross-entropy after a sigmoid).
  case binaryCrossEntropy
  /// `predictions` and `targets` of one shape: (p − t)² per element.
  case meanSquaredError
  /// `predictions` and `targets` of one shape: ½d² where |d| < 1, else |d| − ½, for d = p − t per
  /// element (Fast R-CNN's box regression loss; PyTorch's `SmoothL1Loss` with β = 1).
  case smoothL1
}

/// How per-sample (or per-element) losses become one number.
public enum Reduction: String, Codable, Hashable, Sendable {
  /// The mean over samples (or elements).
  case mean
  /// The sum over samples (or elements).
  case sum
}

/// A loss as a graph op: two inputs, a scalar (shape `[]`) output.
public struct LossAttrs: OpAttributes {
  /// Which loss.
  public var kind: LossKind
  /// How per-sample losses become one number.
  public var reduction: Reduction

  /// The loss `kind`, reduced by `reduction`.
  public init(_ kind: LossKind, reduction: Reduction = .mean) {
    self.kind = kind
    self.reduction = reduction
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 2...2)
    let (prediction, target) = (inputs[0], inputs[1])
    try requireFloat(prediction, "prediction")
    switch kind {
    case .softmaxCrossEntropy:
      try require(prediction.rank == 2, "logits must be [N, classes], got \(prediction)")
      try require(target.dtype == .i32, "labels must be i32 class indices, got \(target)")
      try require(
        target.shape == [prediction.shape[0]],
        "labels \(target) must be [\(prediction.shape[0])], one per row of the logits")
    case .binaryCrossEntropy, .meanSquaredError, .smoothL1:
      try requireFloat(target, "target")
      try require(
        target.shape == prediction.shape,
        "target \(target) must have the shape of the prediction \(prediction)")
    }
    return TensorType([])
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int { 4 * inputs[0].elementCount }

  public var attributeText: [String] { [kind.rawValue, reduction.rawValue] }
}
