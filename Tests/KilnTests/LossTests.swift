import Testing

@testable import Kiln

@Suite struct LossTests {
  @Test func softmaxCrossEntropy() throws {
    // Row 0: −log(5/8); row 1 (uniform over 3): log 3.
    let logits = T([2, 3], [0, Double.log(2), Double.log(5), 0, 0, 0])
    let labels = T([2], [2, 0])
    let mean = try apply(.loss(LossAttrs(.softmaxCrossEntropy)), [logits, labels], integer: [1])
    expectClose(mean, [], [(0.4700036292457356 + 1.0986122886681098) / 2], tolerance: 1e-12)
    let sum = try apply(.loss(LossAttrs(.softmaxCrossEntropy, reduction: .sum)), [logits, labels], integer: [1])
    expectClose(sum, [], [1.5686159179138454], tolerance: 1e-12)
    expectError("op", "label 3.0 of sample 0 is outside 0..<3") {
      _ = try apply(.loss(LossAttrs(.softmaxCrossEntropy)), [logits, T([2], [3, 0])], integer: [1])
    }
  }

  @Test func binaryCrossEntropyOnLogitsIsStable() throws {
    // z = 0, t = 1: log 2; z = 2, t = 0: 2 + log(1 + e⁻²); z = −100, t = 0: ≈ 0; z = 100, t = 1: ≈ 0.
    let out = try apply(.loss(LossAttrs(.binaryCrossEntropy)), [T([4], [0, 2, -100, 100]), T([4], [1, 0, 0, 1])])
    expectClose(out, [], [(0.6931471805599453 + 2.1269280110429727) / 4], tolerance: 1e-12)
    #expect(out.scalars[0].isFinite)
  }

  @Test func meanSquaredError() throws {
    let p = T([3], [1, 2, 3])
    let t = T([3], [1, 0, 5])
    expectClose(try apply(.loss(LossAttrs(.meanSquaredError)), [p, t]), [], [8.0 / 3], tolerance: 1e-12)
    expectClose(try apply(.loss(LossAttrs(.meanSquaredError, reduction: .sum)), [p, t]), [], [8])
  }

  /// d = 0.5, −3, 1, 0: ½·0.25, 3 − ½, 1 − ½ (the two branches meet at |d| = 1), 0.
  @Test func smoothL1() throws {
    let p = T([2, 2], [1.5, -1, 2, 4])
    let t = T([2, 2], [1, 2, 1, 4])
    expectClose(try apply(.loss(LossAttrs(.smoothL1, reduction: .sum)), [p, t]), [], [0.125 + 2.5 + 0.5 + 0], tolerance: 1e-12)
    expectClose(try apply(.loss(LossAttrs(.smoothL1)), [p, t]), [], [3.125 / 4], tolerance: 1e-12)
  }
}
