import CZlib
import Foundation
import Testing

@testable import Kiln

@Suite struct SaliencyTests {
  @Test func pngLayoutAndPixels() throws {
    var image = RGBImage(width: 3, height: 2)
    image[0, 0] = (255, 0, 0)
    image[2, 1] = (1, 2, 3)
    let png = [UInt8](try image.pngData())
    #expect(png.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    // IHDR: length 13, width 3, height 2, 8-bit RGB.
    #expect(Array(png[8..<16]) == [0, 0, 0, 13] + Array("IHDR".utf8))
    #expect(Array(png[16..<29]) == [0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0])
    // Inflate IDAT and compare the scanlines (filter byte 0, then RGB).
    let idatLength = Int(png[33]) << 24 | Int(png[34]) << 16 | Int(png[35]) << 8 | Int(png[36])
    #expect(Array(png[37..<41]) == Array("IDAT".utf8))
    var size = UInt(2 * (1 + 9))
    var raw = [UInt8](repeating: 0, count: Int(size))
    #expect(uncompress(&raw, &size, Array(png[41..<(41 + idatLength)]), UInt(idatLength)) == Z_OK)
    #expect(raw == [0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
    #expect(Array(png.suffix(12).prefix(8)) == [0, 0, 0, 0] + Array("IEND".utf8))
  }

  @Test func hotColourMap() {
    #expect(RGBImage.hot(0) == (0, 0, 0))
    #expect(RGBImage.hot(0.5) == (255, 128, 0))
    #expect(RGBImage.hot(1) == (255, 255, 255))
  }

  @Test func gradientSaliencyMatchesFiniteDifferences() throws {
    let model = try Model(graph: Zoo.lenet5(), seed: 3)
    let image = Tensor<Float>(random([1, 1, 32, 32], seed: 4))
    let gradient = try Saliency.gradient(model, input: image, class: 2)
    #expect(gradient.shape == [1, 1, 32, 32])
    // Central differences in Double, with a step too small to cross a ReLU kink.
    let exact = Tensor<Double>(image)
    for (y, x) in [(10, 12), (16, 16), (20, 7)] {
      var (plus, minus) = (exact, exact)
      plus[0, 0, y, x] += 1e-6
      minus[0, 0, y, x] -= 1e-6
      let numeric = (try model.predict(plus)[0, 2] - model.predict(minus)[0, 2]) / 2e-6
      #expect(abs(numeric - Double(gradient[0, 0, y, x])) < 1e-4 + 1e-3 * abs(numeric), "at \(y),\(x): \(numeric) vs \(gradient[0, 0, y, x])")
    }
  }

  @Test func occlusionOfAnIrrelevantModelIsZero() throws {
    // A model that only reads the top-left pixel: hiding anything else changes nothing.
    let model = try Model(name: "corner", input: [1, 1, 8, 8]) { x in
      try x.sliced(axis: 2, 0..<1).sliced(axis: 3, 0..<1).flattened().apply(Dense(2, weightInitializer: .ones))
    }
    let image = try Tensor<Float>(shape: [1, 1, 8, 8], repeating: 1)
    let map = try Saliency.occlusion(model, input: image, class: 0, patch: 2, stride: 2)
    #expect(map.shape == [8, 8])
    #expect(map[0, 0] == 1 && map[1, 1] == 1 && map[2, 2] == 0 && map[7, 7] == 0)
    expectError("saliency needs a single-image classifier") { _ = try Saliency.gradient(model, input: image, class: 5) }
  }
}
