/// What a classifier looks at: the gradient of a class score with respect to the input, and the
/// drop in that score when patches of the input are hidden.
public enum Saliency {
  /// ∂ logits[0, `class`] / ∂ input for a single-image model (input `[1, …]`, logits `[1, classes]`),
  /// computed through the backward graph.
  public static func gradient(_ model: Model, input: Tensor<Float>, class target: Int) throws -> Tensor<Float> {
    try inputGradient(of: scoreGraph(model.graph, class: target), parameters: model.parameters, input: input)
  }

  /// ∂ score / ∂ input, where `graph`'s first output is the scalar score and its first input the
  /// image. With `guided`, every ReLU passes back only the positive part of its incoming gradient
  /// (guided backpropagation).
  static func inputGradient(of graph: Graph, parameters: ParameterStore, input: Tensor<Float>, guided: Bool = false) throws -> Tensor<Float> {
    guard let inputValue = graph.inputs.first, let score = graph.outputs.first else {
      throw KilnError.invalidArgument("\(graph.name) needs an input and a score to differentiate")
    }
    let differentiated = try graph.differentiated(loss: score, withRespectTo: [inputValue])
    let backward = try differentiated.graph.rewritten { node, inputs, result in
      guard guided, case .unaryGrad(let a) = node.op, a.function == .relu else { return try result.append(copyOf: node, inputs: inputs) }
      // Inputs x, y, dy: only the positive part of dy passes back.
      let positive = try result.append("\(node.name).positive", .unary(UnaryAttrs(.relu)), inputs: [inputs[2]])
      return try result.append(node.name, node.op, inputs: [inputs[0], inputs[1], positive])
    }
    let name = graph[inputValue].name
    guard let gradient = try Interpreter<Float>(backward).run([name: input], parameters: parameters).results.gradients[name] else {
      throw KilnError.invalidGraph("\(graph.name) lost the input gradient")
    }
    return gradient
  }

  /// For every position of a `patch`×`patch` square sliding by `stride` over the image, the class
  /// score minus the score with that square set to `fill`; each pixel gets the mean drop of the
  /// squares covering it. Input `[1, C, H, W]`; result `[H, W]`.
  public static func occlusion(
    _ model: Model, input: Tensor<Float>, class target: Int, patch: Int = 4, stride: Int = 2, fill: Float = 0
  ) throws -> Tensor<Float> {
    guard input.rank == 4, input.shape[0] == 1, patch >= 1, stride >= 1 else {
      throw KilnError.invalidArgument("occlusion needs one image [1, C, H, W] and a positive patch and stride, got \(input.shape)")
    }
    let (channels, height, width) = (input.shape[1], input.shape[2], input.shape[3])
    func score(_ image: Tensor<Float>) throws -> Float { try model.predict(image)[0, target] }
    let base = try score(input)
    var drop = [Float](repeating: 0, count: height * width)
    var covered = [Float](repeating: 0, count: height * width)
    for top in Swift.stride(from: 0, to: max(height - patch, 0) + 1, by: stride) {
      for left in Swift.stride(from: 0, to: max(width - patch, 0) + 1, by: stride) {
        var occluded = input
        for c in 0..<channels {
          for y in top..<min(top + patch, height) {
            for x in left..<min(left + patch, width) { occluded[0, c, y, x] = fill }
          }
        }
        let change = base - (try score(occluded))
        for y in top..<min(top + patch, height) {
          for x in left..<min(left + patch, width) {
            drop[y * width + x] += change
            covered[y * width + x] += 1
          }
        }
      }
    }
    return Tensor(validShape: [height, width], scalars: zip(drop, covered).map { $1 > 0 ? $0 / $1 : 0 })
  }

  /// `graph` with its logits reduced to the scalar logits[0, `class`].
  static func scoreGraph(_ graph: Graph, class target: Int) throws -> Graph {
    guard let logits = graph.outputs.first, graph[logits].type.rank == 2, graph[logits].type.shape[0] == 1,
      (0..<graph[logits].type.shape[1]).contains(target)
    else {
      throw KilnError.invalidArgument("saliency needs a single-image classifier with logits [1, classes] and a class inside them")
    }
    var result = graph
    let score = try result.append("saliency.score", .slice(SliceAttrs(axis: 1, start: target, end: target + 1)), inputs: [logits])
    result.outputs = [try result.append("saliency.sum", .reduce(ReduceAttrs(.sum, axes: [0, 1])), inputs: [score])]
    return result
  }
}
