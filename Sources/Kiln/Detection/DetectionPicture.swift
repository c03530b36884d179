extension RGBImage {
  /// A one-channel image (`[height, width]`, grey from 0 to 1) upscaled by `scale`, with the
  /// outlines of the true boxes in blue and of `found` in green when it matches a true box of its
  /// class (IoU ≥ 0.5) or red when it does not.
  public static func detections(
    _ pixels: [Float], width: Int, height: Int, truths: [Detection], found: [Detection], scale: Int = 3
  ) -> RGBImage {
    var picture = RGBImage(width: width * scale, height: height * scale)
    picture.draw(map(pixels, width: width, height: height, range: 0...1), x: 0, y: 0, scale: scale)
    for truth in truths { picture.outline(truth.box, scale: scale, colour: (80, 140, 255)) }
    for detection in found {
      let correct = truths.contains { $0.label == detection.label && $0.box.iou(detection.box) >= 0.5 }
      picture.outline(detection.box, scale: scale, colour: correct ? (60, 220, 90) : (240, 60, 60))
    }
    return picture
  }

  /// Draws the one-pixel outline of `box` (in units of the image before upscaling by `scale`),
  /// clipped to the image.
  mutating func outline(_ box: Box, scale: Int, colour: (UInt8, UInt8, UInt8)) {
    let clamp = { (value: Float, limit: Int) in min(max(Int((value * Float(scale)).rounded()), 0), limit - 1) }
    let (left, right) = (clamp(box.x0, width), clamp(box.x1, width))
    let (top, bottom) = (clamp(box.y0, height), clamp(box.y1, height))
    for x in left...right { (self[x, top], self[x, bottom]) = (colour, colour) }
    for y in top...bottom { (self[left, y], self[right, y]) = (colour, colour) }
  }
}
