extension Graph {
  /// The same graph for another batch size: every input's first axis, and every reshape whose
  /// first axis is the batch, becomes `batch`; shapes are inferred again. Fails with the node's
  /// name where a shape does not follow the batch.
  public func rebatched(to batch: Int) throws -> Graph {
    guard batch >= 1 else { throw KilnError.invalidArgument("batch size must be at least 1, got \(batch)") }
    guard let first = inputs.first, let old = self[first].type.shape.first else {
      throw KilnError.invalidArgument("graph \(name) has no batched input")
    }
    if old == batch { return self }
    return try rewritten { node, inputs, result in
      var op = node.op
      switch node.op {
      case .input(var attrs) where attrs.type.rank >= 1:
        attrs.type.shape[0] = batch
        op = .input(attrs)
      case .reshape(var attrs) where attrs.shape.first == old:
        attrs.shape[0] = batch
        op = .reshape(attrs)
      case .input, .reshape, .parameter, .conv, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .binary, .unary,
        .fusedElementwise, .maxout, .softmax, .reduce, .concat, .slice, .transpose, .pad, .resize, .batchNorm, .lrn, .dropout,
        .loss, .allReduce, .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad,
        .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
        break
      }
      return try result.append(node.name, op, inputs: inputs)
    }
  }
}
