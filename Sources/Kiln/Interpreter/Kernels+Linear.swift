/// Reference kernels of dense, matmul and embedding.
enum LinearKernels {
  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func dense<S: KilnScalar>(_ x: Tensor<S>, _ w: Tensor<S>, _ bias: Tensor<S>?, shape: [Int]) -> Tensor<S> {
    let (outFeatures, inFeatures) = (w.shape[0], w.shape[1])
    let rows = x.count / inFeatures
    var out = [S](repeating: 0, count: rows * outFeatures)
    for r in 0..<rows {
      for o in 0..<outFeatures {
        var sum: S = bias?.scalars[o] ?? 0
        for i in 0..<inFeatures { sum += x.scalars[r * inFeatures + i] * w.scalars[o * inFeatures + i] }
        out[r * outFeatures + o] = sum
      }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  @_specialize(where S == Float)
  @_specialize(where S == Double)
  static func matmul<S: KilnScalar>(_ a: Tensor<S>, _ b: Tensor<S>, shape: [Int]) -> Tensor<S> {
    let (m, k, n) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 1])
    let batchShape = Array(shape.dropLast(2))
    // Offsets (in matrices) of each output batch entry's operands, after broadcasting.
    func matrixOffsets(_ t: Tensor<S>) -> [Int] {
      Gather.offsets(Gather.broadcastTables(source: Array(t.shape.dropLast(2)), target: batchShape))
    }
    let (aOffsets, bOffsets) = (matrixOffsets(a), matrixOffsets(b))
    var out = [S](repeating: 0, count: shape.reduce(1, *))
    for batch in aOffsets.indices {
      let (aBase, bBase, oBase) = (aOffsets[batch] * m * k, bOffsets[batch] * k * n, batch * m * n)
      for i in 0..<m {
        for p in 0..<k {
          let left = a.scalars[aBase + i * k + p]
          for j in 0..<n { out[oBase + i * n + j] += left * b.scalars[bBase + p * n + j] }
        }
      }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  static func embedding<S: KilnScalar>(_ indices: Tensor<S>, _ table: Tensor<S>, node: String, shape: [Int]) throws -> Tensor<S> {
    let (vocabulary, dim) = (table.shape[0], table.shape[1])
    var out: [S] = []
    out.reserveCapacity(indices.count * dim)
    for value in indices.scalars {
      guard let index = Int(exactly: value), (0..<vocabulary).contains(index) else {
        throw KilnError.runtime(node: node, message: "index \(value) is outside the vocabulary 0..<\(vocabulary)")
      }
      out.append(contentsOf: table.scalars[(index * dim)..<((index + 1) * dim)])
    }
    return Tensor(validShape: shape, scalars: out)
  }
}
