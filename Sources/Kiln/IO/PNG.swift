import CZlib
import Foundation

/// An 8-bit RGB image, written as PNG (for saliency maps, filter grids and other pictures).
public struct RGBImage: Sendable, Equatable {
  /// Width in pixels.
  public let width: Int
  /// Height in pixels.
  public let height: Int
  /// Row-major `[r, g, b]` triples.
  public var pixels: [UInt8]

  /// An image of this size with every channel of every pixel set to `fill`.
  public init(width: Int, height: Int, fill: UInt8 = 0) {
    self.width = width
    self.height = height
    pixels = Array(repeating: fill, count: width * height * 3)
  }

  /// The colour of the pixel at column `x`, row `y`.
  public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
    get {
      let i = (y * width + x) * 3
      return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
    set {
      let i = (y * width + x) * 3
      (pixels[i], pixels[i + 1], pixels[i + 2]) = newValue
    }
  }

  /// Copies `tile` with its top-left corner at (`x`, `y`), upscaled by `scale`.
  public mutating func draw(_ tile: RGBImage, x: Int, y: Int, scale: Int = 1) {
    for ty in 0..<(tile.height * scale) {
      for tx in 0..<(tile.width * scale) where x + tx < width && y + ty < height {
        self[x + tx, y + ty] = tile[tx / scale, ty / scale]
      }
    }
  }

  /// `values` `[height, width]` mapped linearly from `range` (default: their own) to grey (or to
  /// `colormap`).
  public static func map(
    _ values: [Float], width: Int, height: Int, range: ClosedRange<Float>? = nil, colormap: ((Float) -> (UInt8, UInt8, UInt8))? = nil
  ) -> RGBImage {
    let (low, high) = range.map { ($0.lowerBound, $0.upperBound) } ?? (values.min() ?? 0, values.max() ?? 1)
    let span = high > low ? high - low : 1
    var image = RGBImage(width: width, height: height)
    for y in 0..<height {
      for x in 0..<width {
        let t = min(max((values[y * width + x] - low) / span, 0), 1)
        let grey = UInt8((t * 255).rounded())
        image[x, y] = colormap?(t) ?? (grey, grey, grey)
      }
    }
    return image
  }

  /// A diverging colour map for signed values: blue at 0, white at ½, red at 1.
  public static func diverging(_ t: Float) -> (UInt8, UInt8, UInt8) {
    let u = min(max(t, 0), 1)
    func level(_ v: Float) -> UInt8 { UInt8((min(max(v, 0), 1) * 255).rounded()) }
    return u < 0.5 ? (level(2 * u), level(2 * u), 255) : (255, level(2 - 2 * u), level(2 - 2 * u))
  }

  /// The "hot" colour map: black → red → yellow → white as `t` goes 0 → 1.
  public static func hot(_ t: Float) -> (UInt8, UInt8, UInt8) {
    func channel(_ v: Float) -> UInt8 { UInt8((min(max(v, 0), 1) * 255).rounded()) }
    return (channel(3 * t), channel(3 * t - 1), channel(3 * t - 2))
  }

  /// The image as PNG bytes: 8-bit RGB, no filtering, zlib-compressed.
  public func pngData() throws -> Data {
    var raw: [UInt8] = []
    raw.reserveCapacity(height * (width * 3 + 1))
    for y in 0..<height {
      raw.append(0)
      raw.append(contentsOf: pixels[(y * width * 3)..<((y + 1) * width * 3)])
    }
    var compressedSize = compressBound(UInt(raw.count))
    var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
    guard compress2(&compressed, &compressedSize, raw, UInt(raw.count), Z_BEST_COMPRESSION) == Z_OK else {
      throw KilnError.invalidArgument("zlib could not compress a \(width)×\(height) image")
    }
    var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func chunk(_ type: String, _ body: [UInt8]) {
      let typed = Array(type.utf8) + body
      png.append(contentsOf: bigEndian(UInt32(body.count)))
      png.append(contentsOf: typed)
      png.append(contentsOf: bigEndian(UInt32(crc32(0, typed, UInt32(typed.count)))))
    }
    chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
    chunk("IDAT", Array(compressed[0..<Int(compressedSize)]))
    chunk("IEND", [])
    return png
  }

  /// Writes the PNG to `path`, atomically.
  public func writePNG(to path: String) throws {
    try AtomicFile.write(try pngData(), to: path)
  }
}

private func bigEndian(_ value: UInt32) -> [UInt8] {
  [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}
