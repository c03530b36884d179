import Testing

@testable import Kiln

@Suite struct AugmentationTests {
  let image = Tensor<Float>(validShape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])

  @Test func parsesAndPrints() throws {
    let augmentation = try Augmentation("crop4, flip,translate2")
    #expect(augmentation.steps == [.crop(padding: 4), .flip, .translate(pixels: 2)])
    #expect(augmentation.description == "crop4,flip,translate2")
    expectError("augmentation crop0 is not one of cropN, translateN or flip") { _ = try Augmentation("crop0") }
    expectError("augmentation rotate is not one of") { _ = try Augmentation("flip,rotate") }
  }

  @Test func shiftsFillWithTheBackgroundOrTheEdge() {
    // Down by one: the top row is uncovered.
    #expect(Augmentation.shifted(image.scalars, channels: 1, height: 3, width: 3, by: (1, 0), fill: 0) == [0, 0, 0, 1, 2, 3, 4, 5, 6])
    // Right by one, repeating the left edge.
    #expect(Augmentation.shifted(image.scalars, channels: 1, height: 3, width: 3, by: (0, 1), fill: nil) == [1, 1, 2, 4, 4, 5, 7, 7, 8])
  }

  @Test func flipsAndCropsAreSeededAndKeepTheImage() throws {
    let flip = try Augmentation("flip")
    let mirrored: [Float] = [3, 2, 1, 6, 5, 4, 9, 8, 7]
    let results = (0..<16).map { flip.apply(to: image, seed: UInt64($0)).scalars }
    #expect(results.allSatisfy { $0 == image.scalars || $0 == mirrored })
    #expect(results.contains(image.scalars) && results.contains(mirrored))
    // A crop is one of the nine shifts by at most one pixel, background (the minimum, 1) around.
    let crop = try Augmentation("crop1")
    let shifts = (-1...1).flatMap { dy in (-1...1).map { dx in Augmentation.shifted(image.scalars, channels: 1, height: 3, width: 3, by: (dy, dx), fill: 1) } }
    let crops = (0..<32).map { crop.apply(to: image, seed: UInt64($0)).scalars }
    #expect(crops.allSatisfy { shifts.contains($0) })
    #expect(Set(crops.map { $0.map(\.bitPattern) }).count > 3)
    #expect(crop.apply(to: image, seed: 7) == crop.apply(to: image, seed: 7))
  }
}
