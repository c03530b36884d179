/// Square canvases with items of a data set pasted at random places and sizes over clutter —
/// the localization and detection data of the course, made from real images (as cluttered MNIST
/// is): every canvas comes with the true box and class of each item on it.
///
/// Clutter is fragments (a quarter of an item's side) cut from other items and scattered over
/// the canvas, so a detector cannot find objects by looking for any ink. Items are scaled with
/// bilinear interpolation and drawn over what is there (the brighter pixel wins). A true box is
/// the tight box of the item's visible pixels (above 0.1), not the square it was pasted in.
public struct ObjectScenes: Sendable {
  /// How scenes are laid out.
  public struct Layout: Sendable {
    /// Canvas side in pixels.
    public var side: Int
    /// How many items a canvas holds.
    public var objects: ClosedRange<Int>
    /// The side in pixels items are scaled to.
    public var sizes: ClosedRange<Int>
    /// Clutter fragments per canvas.
    public var clutter: Int
    /// The largest IoU two items' pasting squares may have (placements are redrawn until they
    /// overlap less).
    public var maximumOverlap: Float

    /// A layout of `side`² canvases with `objects` items of `sizes` pixels each and `clutter`
    /// fragments; pasted squares overlap by at most `maximumOverlap` IoU.
    public init(side: Int, objects: ClosedRange<Int>, sizes: ClosedRange<Int>, clutter: Int, maximumOverlap: Float = 0.2) {
      self.side = side
      self.objects = objects
      self.sizes = sizes
      self.clutter = clutter
      self.maximumOverlap = maximumOverlap
    }
  }

  /// The layout the scenes follow.
  public let layout: Layout
  /// Every canvas, `side`² pixels each, one after another (one channel, 0…1).
  public let pixels: [Float]
  /// The items on each canvas: true box (in pixels) and class; score 1.
  public let objects: [[Detection]]

  /// The number of canvases.
  public var count: Int { objects.count }

  /// `count` canvases laid out as `layout` says, of items drawn at random from `items` (whose
  /// pixels must lie in 0…1: load it with `.unit` normalisation), reproducibly from `seed`.
  public init(pasting items: Dataset, count: Int, layout: Layout, seed: UInt64) throws {
    guard items.imageShape.count == 3, items.imageShape[0] == 1, items.count > 0 else {
      throw KilnError.invalidArgument("scenes need one-channel images [1, height, width], got \(items.count) of shape \(items.imageShape)")
    }
    guard layout.objects.lowerBound >= 1, layout.sizes.lowerBound >= 2, layout.sizes.upperBound <= layout.side else {
      throw KilnError.invalidArgument(
        "a scene layout needs at least one object and item sizes from 2 to the canvas side \(layout.side), got \(layout.objects) objects of \(layout.sizes) pixels")
    }
    let (itemHeight, itemWidth) = (items.imageShape[1], items.imageShape[2])
    let side = layout.side
    var generator = SplitMix64(seed: seed)
    func uniform(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(generator.next() % UInt64(range.count)) }
    func item() -> (pixels: ArraySlice<Float>, label: Int) {
      let index = Int(generator.next() % UInt64(items.count))
      return (items.pixels[(index * itemHeight * itemWidth)..<((index + 1) * itemHeight * itemWidth)], items.labels[index])
    }
    var pixels = [Float](repeating: 0, count: count * side * side)
    var objects: [[Detection]] = []
    for scene in 0..<count {
      let canvas = scene * side * side
      func draw(_ value: Float, x: Int, y: Int) {
        guard (0..<side).contains(x), (0..<side).contains(y) else { return }
        pixels[canvas + y * side + x] = max(pixels[canvas + y * side + x], value)
      }
      for _ in 0..<layout.clutter {
        let (source, _) = item()
        let fragment = max(itemWidth / 4, 1)
        let (sx, sy) = (uniform(0...(itemWidth - fragment)), uniform(0...(itemHeight - fragment)))
        let (x, y) = (uniform(0...(side - fragment)), uniform(0...(side - fragment)))
        for dy in 0..<fragment {
          for dx in 0..<fragment { draw(source[source.startIndex + (sy + dy) * itemWidth + sx + dx], x: x + dx, y: y + dy) }
        }
      }
      var placed: [Box] = []
      var found: [Detection] = []
      for _ in 0..<uniform(layout.objects) {
        let (source, label) = item()
        var square = Box(x0: 0, y0: 0, x1: 0, y1: 0)
        for _ in 0..<50 {
          let size = uniform(layout.sizes)
          let (x, y) = (uniform(0...(side - size)), uniform(0...(side - size)))
          square = Box(x0: Float(x), y0: Float(y), x1: Float(x + size), y1: Float(y + size))
          if !placed.contains(where: { $0.iou(square) > layout.maximumOverlap }) { break }
        }
        guard !placed.contains(where: { $0.iou(square) > layout.maximumOverlap }) else { continue }
        placed.append(square)
        let (x0, y0, size) = (Int(square.x0), Int(square.y0), Int(square.width))
        var tight = (x0: Int.max, y0: Int.max, x1: Int.min, y1: Int.min)
        for dy in 0..<size {
          for dx in 0..<size {
            let value = Self.bilinear(source, width: itemWidth, height: itemHeight, x: (Float(dx) + 0.5) * Float(itemWidth) / Float(size) - 0.5,
              y: (Float(dy) + 0.5) * Float(itemHeight) / Float(size) - 0.5)
            draw(value, x: x0 + dx, y: y0 + dy)
            if value > 0.1 { tight = (min(tight.x0, x0 + dx), min(tight.y0, y0 + dy), max(tight.x1, x0 + dx + 1), max(tight.y1, y0 + dy + 1)) }
          }
        }
        if tight.x0 < tight.x1 {
          found.append(Detection(box: Box(x0: Float(tight.x0), y0: Float(tight.y0), x1: Float(tight.x1), y1: Float(tight.y1)), label: label))
        }
      }
      objects.append(found)
    }
    self.layout = layout
    self.pixels = pixels
    self.objects = objects
  }

  /// The canvases at `indices` as a batch `[indices.count, 1, side, side]`.
  public func batch(_ indices: [Int]) throws -> Tensor<Float> {
    let plane = layout.side * layout.side
    return try Tensor(shape: [indices.count, 1, layout.side, layout.side], scalars: indices.flatMap { pixels[($0 * plane)..<(($0 + 1) * plane)] })
  }

  /// The image `source` (`height` × `width`, row-major) at (`x`, `y`), interpolated between the
  /// four nearest pixels; 0 outside.
  static func bilinear(_ source: ArraySlice<Float>, width: Int, height: Int, x: Float, y: Float) -> Float {
    let (left, top) = (Int((x).rounded(.down)), Int((y).rounded(.down)))
    let (fx, fy) = (x - Float(left), y - Float(top))
    func at(_ column: Int, _ row: Int) -> Float {
      (0..<width).contains(column) && (0..<height).contains(row) ? source[source.startIndex + row * width + column] : 0
    }
    let upper = at(left, top) * (1 - fx) + at(left + 1, top) * fx
    let lower = at(left, top + 1) * (1 - fx) + at(left + 1, top + 1) * fx
    return upper * (1 - fy) + lower * fy
  }
}
