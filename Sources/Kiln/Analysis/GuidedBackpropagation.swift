/// The projection of one activation back to the input by guided backpropagation (Springenberg et
/// al. 2015): the gradient of the activation with respect to the input, except that at every ReLU
/// only positive gradients pass back (where the forward input was positive too). The plain
/// saliency map (`Saliency.gradient`) lets negative gradients through, so evidence against the
/// activation cancels evidence for it; ZFNet's deconvnet keeps the positive gradients but ignores
/// the forward input's sign. Guided backpropagation keeps both rules, which leaves the input
/// pattern that excites the unit.
public enum GuidedBackpropagation {
  /// d(activation of `channel` of node `layer`, summed over positions or at `position`) / d(input)
  /// for one image `[1, …]`, with ReLUs passing positive gradients only — or, with `guided` false,
  /// the plain gradient, for comparison.
  public static func projection(
    _ model: Model, input: Tensor<Float>, layer: String, channel: Int, position: [Int]? = nil, guided: Bool = true
  ) throws -> Tensor<Float> {
    var graph = model.graph
    guard let value = graph.index(of: layer), graph[value].type.rank >= 3 else {
      throw KilnError.invalidArgument("\(layer) is not a layer of \(graph.name) with [N, C, …] maps (see `kiln summary`)")
    }
    let shape = graph[value].type.shape
    guard shape[0] == 1, (0..<shape[1]).contains(channel), position.map({ $0.count == shape.count - 2 && zip($0, shape[2...]).allSatisfy { (0..<$1).contains($0) } }) ?? true else {
      throw KilnError.invalidArgument(
        "guided backpropagation needs one image, a channel in 0..<\(shape[1]) and a position inside \(Array(shape[2...])) of \(layer) \(graph[value].type)")
    }
    var selected = try graph.append("guided.channel", .slice(SliceAttrs(axis: 1, start: channel, end: channel + 1)), inputs: [value])
    for (axis, index) in (position ?? []).enumerated() {
      selected = try graph.append("guided.axis\(axis)", .slice(SliceAttrs(axis: axis + 2, start: index, end: index + 1)), inputs: [selected])
    }
    graph.outputs = [try graph.append("guided.score", .reduce(ReduceAttrs(.sum, axes: Array(shape.indices))), inputs: [selected])]
    return try Saliency.inputGradient(of: graph, parameters: model.parameters, input: input, guided: guided)
  }
}
