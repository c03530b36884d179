/// Winograd's minimal filtering F(m×m, 3×3) (Lavin & Gray 2016): an m×m block of outputs from an
/// (m + 2)×(m + 2) block of input in (m + 2)² multiplies per channel pair instead of 9m², through
/// the input transform Bᵀ·d·B, the weight transform G·g·Gᵀ and the output transform Aᵀ·M·A.
struct WinogradTransforms: Equatable {
  /// m: outputs along each side of a tile.
  let outputTile: Int
  /// Bᵀ ((m + 2) × (m + 2)), G ((m + 2) × 3) and Aᵀ (m × (m + 2)).
  let input, weight, output: [[Double]]

  /// Inputs along each side of a tile: m + 2.
  var inputTile: Int { outputTile + 2 }
  /// The tile's points ξ, (m + 2)²: the products per channel pair.
  var points: Int { inputTile * inputTile }

  /// F(4×4, 3×3) with interpolation points 0, ±1, ±2 and ∞: 36 multiplies for 16 outputs (4×
  /// fewer than the direct sum), U 4× the weights.
  static let f4 = WinogradTransforms(
    outputTile: 4,
    input: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
    weight: [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6], [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]],
    output: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]])

  /// F(2×2, 3×3) with interpolation points 0, ±1 and ∞: 16 multiplies for 4 outputs (2.25× fewer),
  /// U 16/9 of the weights; for maps too small for enough 4×4 tiles. Zen 4, one thread, against
  /// the direct kernel or the product on the weights as they are: ResNet-18's 7×7 512-channel
  /// layers at batch 1 2.46–2.56 → 1.92 ms, GoogLeNet's inception5b 3×3 0.75 → 0.42 ms,
  /// DenseNet-121's 7×7 128 → 32 layers 0.053 → 0.028 ms, VGG-11-CIFAR's 2×2 layers at batch 64
  /// 17.9 / 14.8 → 6.6 / 6.4 ms.
  static let f2 = WinogradTransforms(
    outputTile: 2,
    input: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    weight: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    output: [[1, 1, 1, 0], [0, 1, -1, -1]])
}
