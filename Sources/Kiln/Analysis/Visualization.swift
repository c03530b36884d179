/// Pictures of what a network has learned: the filters of a convolution and the feature maps a
/// layer computes for one input.
public enum Visualization {
  /// The weight `[C_out, C_in, kh, kw]` of convolution `layer` (default: the first convolution).
  public static func filters(_ model: Model, layer: String? = nil) throws -> Tensor<Float> {
    let convolutions = model.graph.nodes.filter { if case .conv = $0.op { return $0.type.rank == 4 } else { return false } }
    guard let conv = layer.map({ name in convolutions.first { $0.name == name } }) ?? convolutions.first else {
      let names = convolutions.map(\.name).joined(separator: ", ")
      throw KilnError.invalidArgument(
        layer.map { "\(model.graph.name) has no 2D convolution called \($0) (there are: \(names))" } ?? "\(model.graph.name) has no 2D convolution")
    }
    guard let weight = model.parameters[model.graph[conv.inputs[1]].name] else {
      throw KilnError.invalidArgument("\(conv.name) has no weight in this model")
    }
    return weight
  }

  /// The feature maps `[C, H, W]` node `layer` computes for `input` (one image, `[1, …]`).
  public static func activations(_ model: Model, input: Tensor<Float>, layer: String) throws -> Tensor<Float> {
    guard let value = model.graph.index(of: layer), model.graph[value].type.rank == 4 else {
      let names = model.graph.nodes.filter { node in
        if case .parameter = node.op { return false }
        return node.type.rank == 4
      }.map(\.name).joined(separator: ", ")
      throw KilnError.invalidArgument("\(model.graph.name) has no layer \(layer) with [N, C, H, W] maps (there are: \(names))")
    }
    guard let name = model.graph.inputs.first.map({ model.graph[$0].name }), input.shape.first == 1 else {
      throw KilnError.invalidArgument("activations need a model with an input and one image [1, C, H, W], got \(input.shape)")
    }
    var feeds = model.parameterFeeds(as: Float.self)
    feeds[name] = input
    let maps = try Interpreter<Float>(model.graph).run(feeds)[value]
    return Tensor(validShape: Array(maps.shape.dropFirst()), scalars: maps.scalars)
  }

  /// Filters as a grid, each upscaled by `scale` and normalised on its own: three input channels
  /// as colour, one channel (or the mean of several) on a blue–white–red scale centred on zero.
  public static func filterGrid(_ weight: Tensor<Float>, scale: Int = 8) -> RGBImage {
    let (count, channels, height, width) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let plane = height * width
    let tiles = (0..<count).map { filter -> RGBImage in
      let values = Array(weight.scalars[(filter * channels * plane)..<((filter + 1) * channels * plane)])
      if channels == 3 {
        let (low, high) = (values.min() ?? 0, values.max() ?? 1)
        let span = high > low ? high - low : 1
        var tile = RGBImage(width: width, height: height)
        for i in 0..<plane {
          func channel(_ c: Int) -> UInt8 { UInt8(((values[c * plane + i] - low) / span * 255).rounded()) }
          tile[i % width, i / width] = (channel(0), channel(1), channel(2))
        }
        return tile
      }
      let mean = (0..<plane).map { i in (0..<channels).map { values[$0 * plane + i] }.reduce(0, +) / Float(channels) }
      let extent = max(mean.map(abs).max() ?? 1, .leastNormalMagnitude)
      return RGBImage.map(mean, width: width, height: height, range: -extent...extent, colormap: RGBImage.diverging)
    }
    return RGBImage.grid(rows(tiles), scale: scale, gap: 2)
  }

  /// Feature maps `[C, H, W]` as a grid of greyscale tiles, each normalised on its own.
  public static func activationGrid(_ maps: Tensor<Float>, scale: Int = 4) -> RGBImage {
    let (channels, height, width) = (maps.shape[0], maps.shape[1], maps.shape[2])
    let tiles = (0..<channels).map { c in
      RGBImage.map(Array(maps.scalars[(c * height * width)..<((c + 1) * height * width)]), width: width, height: height, colormap: RGBImage.hot)
    }
    return RGBImage.grid(rows(tiles), scale: scale, gap: 2)
  }

  /// Image patches (`TopPatches.find`) as a grid of greyscale tiles (the mean over channels),
  /// strongest first, on the images' common scale.
  public static func patchGrid(_ patches: [TopPatches.Patch], scale: Int = 4) -> RGBImage {
    let means = patches.map { patch in
      let (channels, plane) = (patch.pixels.shape[0], patch.pixels.shape[1] * patch.pixels.shape[2])
      return (0..<plane).map { i in (0..<channels).map { patch.pixels.scalars[$0 * plane + i] }.reduce(0, +) / Float(channels) }
    }
    let all = means.joined()
    let range = (all.min() ?? 0)...max(all.max() ?? 1, (all.min() ?? 0) + .leastNormalMagnitude)
    let tiles = zip(patches, means).map { patch, mean in RGBImage.map(mean, width: patch.pixels.shape[2], height: patch.pixels.shape[1], range: range) }
    return RGBImage.grid(rows(tiles), scale: scale, gap: 2)
  }

  /// Tiles in rows of ⌈√count⌉.
  static func rows(_ tiles: [RGBImage]) -> [[RGBImage]] {
    let columns = max(Int(Double(tiles.count).squareRoot().rounded(.up)), 1)
    return stride(from: 0, to: tiles.count, by: columns).map { Array(tiles[$0..<min($0 + columns, tiles.count)]) }
  }
}
