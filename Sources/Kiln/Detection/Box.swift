/// An axis-aligned box in pixels: corners (`x0`, `y0`) top left and (`x1`, `y1`) bottom right.
public struct Box: Hashable, Sendable, Codable {
  /// The left edge.
  public var x0: Float
  /// The top edge.
  public var y0: Float
  /// The right edge.
  public var x1: Float
  /// The bottom edge.
  public var y1: Float

  /// The box with these corners.
  public init(x0: Float, y0: Float, x1: Float, y1: Float) {
    (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1)
  }

  /// The box of `width` × `height` centred on (`centerX`, `centerY`).
  public init(centerX: Float, centerY: Float, width: Float, height: Float) {
    self.init(x0: centerX - width / 2, y0: centerY - height / 2, x1: centerX + width / 2, y1: centerY + height / 2)
  }

  /// `x1 − x0`, or 0 for an empty box.
  public var width: Float { max(x1 - x0, 0) }
  /// `y1 − y0`, or 0 for an empty box.
  public var height: Float { max(y1 - y0, 0) }
  /// The horizontal centre.
  public var centerX: Float { (x0 + x1) / 2 }
  /// The vertical centre.
  public var centerY: Float { (y0 + y1) / 2 }
  /// `width · height`.
  public var area: Float { width * height }

  /// Intersection over union: the area both boxes cover over the area either covers (0 when
  /// they do not touch; 0 for two empty boxes).
  public func iou(_ other: Box) -> Float {
    let overlap = Box(x0: max(x0, other.x0), y0: max(y0, other.y0), x1: min(x1, other.x1), y1: min(y1, other.y1)).area
    let union = area + other.area - overlap
    return union > 0 ? overlap / union : 0
  }
}

/// A labelled box: what an image holds (ground truth), or what a detector found, with its score.
public struct Detection: Hashable, Sendable, Codable {
  /// Where.
  public var box: Box
  /// The class index.
  public var label: Int
  /// The detector's confidence, 0…1 (1 for ground truth).
  public var score: Float

  /// A detection of class `label` at `box` with confidence `score`.
  public init(box: Box, label: Int, score: Float = 1) {
    self.box = box
    self.label = label
    self.score = score
  }
}
