extension Graph {
  /// This graph with a loss on its first output: a second input (`labels`, i32 `[N]`, for softmax
  /// cross-entropy; `targets` of the output's shape otherwise) and a loss node `loss`, which
  /// becomes the only output.
  public func withLoss(_ kind: LossKind, reduction: Reduction = .mean) throws -> Graph {
    guard let output = outputs.first else {
      throw KilnError.invalidArgument("graph \(name) has no output to put a loss on")
    }
    var result = self
    let type = self[output].type
    let target: ValueID
    switch kind {
    case .softmaxCrossEntropy:
      guard type.rank == 2 else {
        throw KilnError.invalidArgument("softmax cross-entropy needs logits [N, classes], but \(name) outputs \(type); flatten it first")
      }
      target = try result.append("labels", .input(InputAttrs(TensorType([type.shape[0]], .i32))))
    case .binaryCrossEntropy, .meanSquaredError, .smoothL1:
      target = try result.append("targets", .input(InputAttrs(TensorType(type.shape))))
    }
    result.outputs = [try result.append("loss", .loss(LossAttrs(kind, reduction: reduction)), inputs: [output, target])]
    return result
  }

  /// The trainable weights (`.weight` parameters) whose names do not start with one of
  /// `frozenPrefixes`.
  public func trainableParameters(frozenPrefixes: [String] = []) -> [ValueID] {
    parameters.filter { value in
      guard case .parameter(let attrs) = self[value].op, attrs.role == .weight else { return false }
      let name = self[value].name
      return !frozenPrefixes.contains { name == $0 || name.hasPrefix($0 + ".") }
    }
  }
}
