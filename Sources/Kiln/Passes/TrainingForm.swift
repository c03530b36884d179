extension Graph {
  /// The training form of this (inference) graph: batch norm normalises with the batch's own
  /// statistics and updates its running statistics (`stateUpdates`), and dropout is active.
  ///
  /// The batch statistics are ordinary nodes (mean and biased variance over every axis but the
  /// channels), so differentiating the training graph differentiates through them. The running
  /// variance is updated with the unbiased variance, as PyTorch does.
  ///
  /// For one process of a data-parallel job, `statisticsShare` (its part of the global batch)
  /// synchronises batch norm: the mean and the variance are the whole batch's, each summed over
  /// the processes from their weighted local means by an `allReduce` node — whose gradient is the
  /// same exchange, so the backward pass is synchronised too (PyTorch's SyncBatchNorm).
  /// `process` (a process's index in a data-parallel job) is mixed into every dropout seed, so
  /// that processes drop different units, reproducibly; process 0 keeps the model's seeds.
  public func forTraining(statisticsShare: Double? = nil, process: Int = 0) throws -> Graph {
    try rewritten { node, inputs, result in
      switch node.op {
      case .batchNorm(let attrs):
        return try result.appendTrainingBatchNorm(node.name, attrs, inputs: inputs, share: statisticsShare)
      case .dropout(var attrs):
        attrs.training = true
        if process != 0 { attrs.seed = SplitMix64.mix(attrs.seed ^ SplitMix64.mix(UInt64(process))) }
        return try result.append(node.name, .dropout(attrs), inputs: inputs)
      case .input, .parameter, .conv, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .binary, .unary,
        .fusedElementwise, .maxout, .softmax, .reduce, .concat, .slice, .reshape, .transpose, .pad, .resize, .lrn, .loss,
        .allReduce, .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad,
        .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
        return try result.append(copyOf: node, inputs: inputs)
      }
    }
  }

  private mutating func appendTrainingBatchNorm(_ name: String, _ attrs: BatchNormAttrs, inputs: [ValueID], share: Double?) throws -> ValueID {
    let (x, gamma, beta, runningMean, runningVariance) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4])
    let shape = self[x].type.shape
    let channels = [shape[1]]
    let axes = [0] + Array(2..<shape.count)
    let count = axes.map { shape[$0] }.reduce(1, *)
    guard count > 1 else {
      throw KilnError.shape(node: name, op: "BatchNorm", message: "training needs more than one value per channel, got input \(self[x].type); use a larger batch")
    }
    /// A mean over the batch: this process's, or the job's (the processes' means weighted by share).
    func batchMean(_ what: String, _ value: ValueID) throws -> ValueID {
      let local = try append("\(name).\(what)\(share == nil ? "" : "_local")", .reduce(ReduceAttrs(.mean, axes: axes, keepDims: true)), inputs: [value])
      guard let share else { return local }
      return try append("\(name).\(what)", .allReduce(AllReduceAttrs(weight: share)), inputs: [local])
    }
    let meanKept = try batchMean("batch_mean_kept", x)
    let varianceKept: ValueID
    if share == nil {
      varianceKept = try append("\(name).batch_var_kept", .reduce(ReduceAttrs(.variance, axes: axes, keepDims: true)), inputs: [x])
    } else {
      // The job's variance: the processes' means of squared deviations from the job's mean.
      let centered = try append("\(name).centered", .binary(BinaryAttrs(.sub)), inputs: [x, meanKept])
      let squares = try append("\(name).squares", .binary(BinaryAttrs(.mul)), inputs: [centered, centered])
      varianceKept = try batchMean("batch_var_kept", squares)
    }
    let mean = try append("\(name).batch_mean", .reshape(ReshapeAttrs(shape: channels)), inputs: [meanKept])
    let variance = try append("\(name).batch_var", .reshape(ReshapeAttrs(shape: channels)), inputs: [varianceKept])
    // Unsynchronised, the statistics are x's own, and the batch norm differentiates through them
    // itself; synchronised, the all-reduce nodes carry their gradients between the processes.
    var attrs = attrs
    attrs.batchStatistics = share == nil
    let y = try append(name, .batchNorm(attrs), inputs: [x, gamma, beta, mean, variance])
    // The values per channel the statistics cover: the job's, when synchronised.
    let total = share.map { (Double(count) / $0).rounded() } ?? Double(count)
    let unbiased = total / (total - 1)
    try addStateUpdate(state: runningMean, newValue: try appendMovingAverage("\(name).new_running_mean", runningMean, mean, attrs.momentum, 1))
    try addStateUpdate(
      state: runningVariance, newValue: try appendMovingAverage("\(name).new_running_var", runningVariance, variance, attrs.momentum, unbiased))
    return y
  }

  /// `(1 − momentum)·old + momentum·scale·batch`.
  private mutating func appendMovingAverage(
    _ name: String, _ old: ValueID, _ batch: ValueID, _ momentum: Double, _ scale: Double
  ) throws -> ValueID {
    let kept = try append("\(name).old", .unary(UnaryAttrs(.affine(scale: 1 - momentum, shift: 0))), inputs: [old])
    let added = try append("\(name).batch", .unary(UnaryAttrs(.affine(scale: momentum * scale, shift: 0))), inputs: [batch])
    return try append(name, .binary(BinaryAttrs(.add)), inputs: [kept, added])
  }
}
