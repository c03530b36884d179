/// What a filter answers to (Zeiler & Fergus's question): the input patches that make one channel
/// of a layer respond most.
public enum TopPatches {
  /// One strong response and the input patch under its receptive field.
  public struct Patch: Sendable {
    /// Which image (row of the images given).
    public var image: Int
    /// The position of the response in the layer's feature map, per spatial axis.
    public var position: [Int]
    /// The channel's activation there.
    public var activation: Float
    /// The receptive field's window of the image, `[C, h, w]`; parts outside the image hold the
    /// image's smallest value (its background).
    public var pixels: Tensor<Float>
  }

  /// The `count` strongest responses of `channel` of node `layer` over `images` `[N, C, H, W]`,
  /// at most one per image (its strongest position), strongest first, each with the patch of the
  /// image the response's receptive field covers.
  public static func find(_ model: Model, images: Tensor<Float>, layer: String, channel: Int, count: Int) throws -> [Patch] {
    let graph = try model.graph.rebatched(to: images.shape[0])
    let fields = ReceptiveField.compute(graph)
    guard let value = graph.index(of: layer), graph[value].type.rank == 4, let field = fields[value.id], let start = field.start,
      field.jump.allSatisfy({ $0 == $0.rounded() })
    else {
      throw KilnError.invalidArgument(
        "\(layer) is not a layer of \(graph.name) with [N, C, H, W] maps and a receptive field of whole input steps (see `kiln summary`)")
    }
    let shape = graph[value].type.shape
    guard (0..<shape[1]).contains(channel), count >= 1 else {
      throw KilnError.invalidArgument("\(layer) has channels 0..<\(shape[1]); asked for channel \(channel) and \(count) patches")
    }
    guard let input = graph.inputs.first, graph[input].type.shape == images.shape else {
      throw KilnError.invalidArgument("\(graph.name) takes images of shape \(graph.inputs.first.map { graph[$0].type.shape } ?? []), got \(images.shape)")
    }
    let maps = try Interpreter<Float>(graph).run([graph[input].name: images], parameters: model.parameters)[value]
    let (height, width) = (shape[2], shape[3])
    let strongest: [(image: Int, position: [Int], activation: Float)] = (0..<shape[0]).map { n in
      let base = (n * shape[1] + channel) * height * width
      let best = (0..<(height * width)).max { maps.scalars[base + $0] < maps.scalars[base + $1] } ?? 0
      return (n, [best / width, best % width], maps.scalars[base + best])
    }
    return strongest.sorted { $0.activation > $1.activation }.prefix(count).map { response in
      let corner = response.position.indices.map { Int(start[$0]) + response.position[$0] * Int(field.jump[$0]) }
      return Patch(
        image: response.image, position: response.position, activation: response.activation,
        pixels: window(images, image: response.image, corner: corner, size: field.size))
    }
  }

  /// The `size` window of image `image` whose top-left corner is `corner` (may lie outside).
  static func window(_ images: Tensor<Float>, image: Int, corner: [Int], size: [Int]) -> Tensor<Float> {
    let (channels, height, width) = (images.shape[1], images.shape[2], images.shape[3])
    let plane = height * width
    let offset = image * channels * plane
    let background = images.scalars[offset..<(offset + channels * plane)].min() ?? 0
    var pixels: [Float] = []
    pixels.reserveCapacity(channels * size[0] * size[1])
    for c in 0..<channels {
      for y in corner[0]..<(corner[0] + size[0]) {
        for x in corner[1]..<(corner[1] + size[1]) {
          let inside = (0..<height).contains(y) && (0..<width).contains(x)
          pixels.append(inside ? images.scalars[offset + c * plane + y * width + x] : background)
        }
      }
    }
    return Tensor(validShape: [channels] + size, scalars: pixels)
  }
}
