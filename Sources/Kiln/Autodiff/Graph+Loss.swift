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

  /// This graph with a loss that `objective` builds from its outputs: for losses that are not one
  /// `LossKind`, such as a two-headed model's cross-entropy plus box regression, or a detector's.
  /// `objective` receives the outputs as symbols, may add inputs (targets, masks) and nodes, and
  /// returns a one-element value: it becomes the first output, and the graph's outputs follow.
  ///
  /// ```swift
  /// let training = try model.graph.withObjective { outputs in
  ///   let labels = try outputs[0].builder.input("labels", shape: [batch], dtype: .i32)
  ///   let boxes = try outputs[1].builder.input("boxes", shape: outputs[1].shape)
  ///   return try outputs[0].softmaxCrossEntropy(labels: labels) + outputs[1].smoothL1(targets: boxes)
  /// }
  /// ```
  public func withObjective(_ objective: ([Symbol]) throws -> Symbol) throws -> Graph {
    let builder = GraphBuilder(extending: self)
    let loss = try objective(outputs.map(builder.symbol))
    guard loss.type.elementCount == 1, loss.type.dtype == .f32 else {
      throw KilnError.invalidArgument(
        "the objective of \(name) must be a float scalar, but \(builder.graph[loss.value].name) is \(loss.type); reduce it with a loss or reduced(.sum, …)")
    }
    builder.setOutputs([loss] + outputs.map(builder.symbol))
    return builder.graph
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
