extension Zoo {
  /// The sentence classifier of Kim 2014: token ids `[N, length]` → embedding `[N, length, dim]` →
  /// convolutions over time of widths 3, 4 and 5 (`filters` each, ReLU) → max over time →
  /// concatenation → dropout 0.5 → dense `classes`.
  public static func textCNN(
    length: Int = 64, vocabulary: Int = 10_000, dim: Int = 128, filters: Int = 100, classes: Int = 2, batch: Int = 1
  ) throws -> Graph {
    try Graph(name: "textcnn", input: [batch, length], inputType: .i32) { tokens in
      let embedded = try tokens.apply(Embedding(vocabulary: vocabulary, dim: dim, name: "embedding")).transposed([0, 2, 1])
      let features = try [3, 4, 5].map { width in
        try embedded.apply(Conv1D(filters, kernel: width, activation: .relu, name: "conv\(width)")).globalMaxPool().flattened()
      }
      return try Symbol.concat(features, axis: 1).apply(Dropout(0.5, name: "dropout")).apply(Dense(classes, name: "fc"))
    }
  }
}
