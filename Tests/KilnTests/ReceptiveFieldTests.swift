import Testing

@testable import Kiln

/// The receptive fields `Summary` computes against the empirical ones: the input pixels whose
/// gradient is non-zero for one output element, found through the autodiff.
@Suite struct ReceptiveFieldTests {
  /// Per spatial axis, the extent of the input pixels that the middle element of channel 0 of
  /// `layer` depends on, the first of them, and whether that extent touches the input's border
  /// (then it may be clipped). Max pools become average pools of the same geometry and every weight and input is
  /// positive, so no ReLU, tie or cancellation hides a pixel that the element depends on.
  func empiricalField(_ graph: Graph, layer: String) throws -> [(extent: Int, first: Int, clipped: Bool)] {
    var g = try graph.rewritten { node, inputs, result in
      guard case .pool(var attrs) = node.op, attrs.kind == .max else { return try result.append(copyOf: node, inputs: inputs) }
      attrs.kind = .average
      return try result.append(node.name, .pool(attrs), inputs: inputs)
    }
    guard let value = g.index(of: layer) else { throw KilnError.invalidArgument("no layer \(layer)") }
    let shape = g[value].type.shape
    // The loss: the middle element of channel 0, picked by a one-hot mask.
    let mask = try g.append("mask", .input(InputAttrs(TensorType(shape))))
    let picked = try g.append("picked", .binary(BinaryAttrs(.mul)), inputs: [value, mask])
    let loss = try g.append("loss", .reduce(ReduceAttrs(.sum, axes: Array(shape.indices))), inputs: [picked])
    g.outputs = [loss]
    let input = g.inputs[0]
    let differentiated = try g.differentiated(loss: loss, withRespectTo: [input])
    var feeds: [String: Tensor<Double>] = [:]
    for parameter in graph.parameters {
      feeds[g[parameter].name] = try Tensor(shape: g[parameter].type.shape, scalars: Array(repeating: 0.1, count: g[parameter].type.elementCount))
    }
    let inputShape = g[input].type.shape
    feeds[g[input].name] = try Tensor(shape: inputShape, scalars: Array(repeating: 1, count: inputShape.reduce(1, *)))
    var hot = [Double](repeating: 0, count: shape.reduce(1, *))
    hot[shape[2...].reduce(0) { $0 * $1 + $1 / 2 }] = 1
    feeds["mask"] = try Tensor(shape: shape, scalars: hot)
    let gradient = try Interpreter<Double>(differentiated.graph).run(feeds)[differentiated.gradients[g[input].name]!]
    // Bounding box of the non-zero gradient, per spatial axis (over the first sample and channel).
    let spatial = Array(inputShape[2...])
    var (low, high) = (spatial, [Int](repeating: -1, count: spatial.count))
    for flat in 0..<spatial.reduce(1, *) where gradient.scalars[flat] != 0 {
      var rest = flat
      for axis in spatial.indices.reversed() {
        let coordinate = rest % spatial[axis]
        rest /= spatial[axis]
        low[axis] = min(low[axis], coordinate)
        high[axis] = max(high[axis], coordinate)
      }
    }
    return spatial.indices.map { (high[$0] - low[$0] + 1, low[$0], low[$0] == 0 || high[$0] == spatial[$0] - 1) }
  }

  /// Every layer with a receptive field: equal to the empirical extent, and starting where it
  /// starts, where that is not clipped by the border; at least as large where it is. Returns how
  /// many layers matched exactly.
  func check(_ graph: Graph, layers: [String]) throws -> Int {
    let fields = Dictionary(uniqueKeysWithValues: Summary(graph).rows.compactMap { row in row.receptiveField.map { (row.name, $0) } })
    var exact = 0
    for layer in layers {
      let field = try #require(fields[layer], "\(layer) has no receptive field")
      let empirical = try empiricalField(graph, layer: layer)
      let shape = try #require(graph.index(of: layer).map { graph[$0].type.shape })
      for (axis, (extent, first, clipped)) in empirical.enumerated() {
        if clipped {
          #expect(field.size[axis] >= extent, "\(layer) axis \(axis): field \(field.size[axis]) < empirical \(extent)")
        } else {
          #expect(field.size[axis] == extent, "\(layer) axis \(axis): field \(field.size[axis]), empirical \(extent)")
          let start = try #require(field.start, "\(layer) has no start")[axis] + Double(shape[2 + axis] / 2) * field.jump[axis]
          #expect(start == Double(first), "\(layer) axis \(axis): field starts at \(start), empirical \(first)")
        }
      }
      if !empirical.contains(where: \.clipped) { exact += 1 }
    }
    return exact
  }

  @Test func lenet5() throws {
    #expect(try check(Zoo.lenet5(), layers: ["conv1", "pool1", "conv2", "pool2"]) == 4)
  }

  @Test func vgg11() throws {
    let graph = try Zoo.vgg(.vgg11, input: [1, 3, 48, 48])
    let layers = ["features.0", "features.2", "features.3", "features.5", "features.6", "features.8"]
    #expect(try check(graph, layers: layers) >= 4)
  }

  @Test func dilatedStack() throws {
    let graph = try Graph(name: "dilated", input: [1, 1, 40, 40]) {
      Conv2D(2, kernel: 3, padding: 1, name: "d1")
      Conv2D(2, kernel: 3, padding: 2, dilation: 2, name: "d2")
      Conv2D(2, kernel: 3, padding: 4, dilation: 4, name: "d4")
      Conv2D(2, kernel: 3, padding: 8, dilation: 8, name: "d8")
    }
    #expect(try check(graph, layers: ["d1", "d2", "d4", "d8"]) == 4)
  }
}
