import Foundation

/// The vector unit kernels are planned for: floats per register (8 with AVX2, 16 with AVX-512),
/// and whether 512-bit instructions run as two 256-bit halves, as on AMD's Zen 4 — half the
/// multiply-adds per clock of an Intel AVX-512 core against the same memory, which changes which
/// convolution algorithm wins (`ConvolutionLowering.Algorithm`).
struct VectorUnit: Hashable, Sendable {
  let lanes: Int
  let halfWidth: Bool

  init(lanes: Int, halfWidth: Bool = false) {
    self.lanes = lanes
    self.halfWidth = halfWidth
  }

  /// Vector registers: 16 with AVX2, 32 with AVX-512 (of either width).
  var registers: Int { lanes > 8 ? 32 : 16 }

  /// Floats per vector for rows of `width` floats: the unit's, or 8 (AVX-512's 256-bit form,
  /// with as many registers) where that leaves fewer lanes idle: rows of at most 8 on any
  /// AVX-512 unit, and on a half-width one, which does as many multiply-adds per clock in 8-float
  /// vectors, every row whose last 16-float vector would be at most half full (49 floats: 7
  /// vectors of 8, not 4 of 16). MobileNet v2's 7×7 pointwise layers at batch 1, one thread,
  /// Zen 4: 160 → 960 channels 0.183 → 0.160 ms, 320 → 1280 0.466 → 0.41 ms.
  func lanes(forRow width: Int) -> Int {
    guard lanes > 8 else { return lanes }
    return width <= 8 || (halfWidth && (width + 7) / 8 * 8 < (width + 15) / 16 * 16) ? 8 : lanes
  }

  /// Floats per vector for rows of `width` floats covered by whole vectors only, the last one
  /// overlapping the one before (`IRBuilder.overlappingVectors`): `lanes(forRow:)`, halved
  /// until it is at most the row.
  func lanes(covering width: Int) -> Int {
    var lanes = lanes(forRow: width)
    while lanes > width && lanes > 1 { lanes /= 2 }
    return lanes
  }

  /// Whether this machine's CPU is a Zen 4 (AMD family 19h) with AVX-512, from /proc/cpuinfo.
  static let hostSplitsWideVectors: Bool = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
    func field(_ name: String) -> String? {
      text.split(separator: "\n").first { $0.hasPrefix(name) }?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    }
    return field("vendor_id") == "AuthenticAMD" && field("cpu family") == "25" && (field("flags")?.split(separator: " ").contains("avx512f") ?? false)
  }()
}
