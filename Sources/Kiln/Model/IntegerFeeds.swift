extension Graph {
  /// Checks that every name in `integers` is an integer input of this graph with the tensor's
  /// shape, so a label fed to an image input or a typo fails with the node's name.
  package func checkIntegerFeeds(_ integers: [String: Tensor<Int32>]) throws {
    for (name, tensor) in integers.sorted(by: { $0.key < $1.key }) {
      guard let value = index(of: name), case .input = self[value].op else {
        let integerInputs = inputs.filter { self[$0].type.dtype == .i32 }.map { self[$0].name }
        throw KilnError.invalidArgument(
          "\(self.name) has no input called \(name); its integer inputs are \(integerInputs.isEmpty ? "none" : integerInputs.joined(separator: ", "))")
      }
      guard self[value].type.dtype == .i32 else {
        throw KilnError.runtime(node: name, message: "the input is \(self[value].type), not integers; feed it floats")
      }
      guard tensor.shape == self[value].type.shape else {
        throw KilnError.runtime(node: name, message: "the input expects shape \(self[value].type) but was given \(TensorType(tensor.shape))")
      }
    }
  }

  /// `feeds` with `integers` added as whole-number scalars, after `checkIntegerFeeds`.
  package func feeds<Scalar: KilnScalar>(_ feeds: [String: Tensor<Scalar>], integers: [String: Tensor<Int32>]) throws -> [String: Tensor<Scalar>] {
    guard !integers.isEmpty else { return feeds }
    try checkIntegerFeeds(integers)
    return feeds.merging(integers.mapValues { Tensor<Scalar>($0) }) { _, integer in integer }
  }
}
