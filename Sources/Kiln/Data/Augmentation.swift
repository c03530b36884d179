/// Random changes to training images that keep their class, drawn from a seed so a run (and a
/// resumed run) sees the same images: shifted crops, mirror images.
///
/// `Augmentation("crop4,flip")`: pad by 4 pixels and crop a random window of the original size
/// (a shift of up to ±4 pixels; the padding is the image's background, its smallest value, so
/// normalised images stay natural), then mirror half of the images left to right.
public struct Augmentation: Sendable, Equatable, CustomStringConvertible {
  /// One change applied to every training image.
  public enum Step: Sendable, Equatable {
    /// Pad by `padding` pixels on every side, crop a random window of the original size.
    case crop(padding: Int)
    /// Shift by up to ±`pixels` along each axis, repeating the edge pixels into the uncovered
    /// border (for images whose border is not one background colour).
    case translate(pixels: Int)
    /// Mirror left–right with probability ½.
    case flip
  }

  /// The changes, in the order they apply.
  public var steps: [Step]

  /// An augmentation of these steps.
  public init(_ steps: [Step]) { self.steps = steps }

  /// Parses `crop4`, `translate2` and `flip`, comma-separated.
  public init(_ text: String) throws {
    steps = try text.split(separator: ",").map { part in
      let word = part.trimmingPrefix(while: { $0 == " " })
      if word == "flip" { return .flip }
      for (prefix, make) in [("crop", Step.crop), ("translate", Step.translate)] as [(String, (Int) -> Step)] where word.hasPrefix(prefix) {
        if let amount = Int(word.dropFirst(prefix.count)), amount >= 1 { return make(amount) }
      }
      throw KilnError.invalidArgument("augmentation \(word) is not one of cropN, translateN or flip (N ≥ 1 pixels), e.g. crop4,flip")
    }
  }

  public var description: String {
    steps.map { step in
      switch step {
      case .crop(let padding): return "crop\(padding)"
      case .translate(let pixels): return "translate\(pixels)"
      case .flip: return "flip"
      }
    }.joined(separator: ",")
  }

  /// Every image of `batch` `[N, C, H, W]` augmented, with random choices from `seed`.
  public func apply(to batch: Tensor<Float>, seed: UInt64) -> Tensor<Float> {
    guard !steps.isEmpty else { return batch }
    let (count, channels, height, width) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
    let size = channels * height * width
    var generator = SplitMix64(seed: seed)
    var scalars = batch.scalars
    for image in 0..<count {
      var pixels = Array(scalars[(image * size)..<((image + 1) * size)])
      let background = pixels.min() ?? 0
      for step in steps {
        switch step {
        case .crop(let amount), .translate(let amount):
          // A crop from the padded image at (dy, dx) ∈ [0, 2·padding]² is a shift by (padding − dy, padding − dx).
          let dy = Int(generator.next() % UInt64(2 * amount + 1)) - amount
          let dx = Int(generator.next() % UInt64(2 * amount + 1)) - amount
          let fill: Float? = if case .crop = step { background } else { nil }
          pixels = Self.shifted(pixels, channels: channels, height: height, width: width, by: (dy, dx), fill: fill)
        case .flip:
          guard generator.next() & 1 == 1 else { continue }
          pixels = (0..<size).map { i in pixels[i - i % width + (width - 1 - i % width)] }
        }
      }
      scalars.replaceSubrange((image * size)..<((image + 1) * size), with: pixels)
    }
    return Tensor(validShape: batch.shape, scalars: scalars)
  }

  /// `pixels` moved down by `dy` and right by `dx`; uncovered pixels set to `fill`, or to the
  /// nearest edge pixel without one.
  static func shifted(_ pixels: [Float], channels: Int, height: Int, width: Int, by shift: (dy: Int, dx: Int), fill: Float?) -> [Float] {
    (0..<pixels.count).map { i in
      let (c, y, x) = (i / (height * width), i / width % height, i % width)
      let (sy, sx) = (y - shift.dy, x - shift.dx)
      if let fill, !((0..<height).contains(sy) && (0..<width).contains(sx)) { return fill }
      return pixels[(c * height + min(max(sy, 0), height - 1)) * width + min(max(sx, 0), width - 1)]
    }
  }
}
