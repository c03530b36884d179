extension Graph {
  /// Seeded random values for every input, for benchmarks, smoke runs and tests: standard normal
  /// for float inputs; for i32 inputs, whole numbers below the vocabulary of the embedding they
  /// index (token ids) or below 2 (labels).
  public func sampleInputs(seed: UInt64) -> [String: Tensor<Float>] {
    var generator = SplitMix64(seed: seed)
    return Dictionary(uniqueKeysWithValues: inputs.map { value in
      let type = self[value].type
      let bound = UInt64(integerBound(of: value))
      let scalars = (0..<type.elementCount).map { _ in
        type.dtype == .i32 ? Float(generator.next() % bound) : Float(generator.nextNormal())
      }
      return (self[value].name, Tensor(validShape: type.shape, scalars: scalars))
    })
  }

  /// The smallest embedding vocabulary `value` indexes, or 2.
  private func integerBound(of value: ValueID) -> Int {
    let vocabularies = nodes.compactMap { node -> Int? in
      guard case .embedding = node.op, node.inputs.first == value else { return nil }
      return self[node.inputs[1]].type.shape[0]
    }
    return vocabularies.min() ?? 2
  }
}
