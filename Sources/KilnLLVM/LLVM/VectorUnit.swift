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

  /// Whether this machine's CPU is a Zen 4 (AMD family 19h) with AVX-512, from /proc/cpuinfo.
  static let hostSplitsWideVectors: Bool = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
    func field(_ name: String) -> String? {
      text.split(separator: "\n").first { $0.hasPrefix(name) }?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    }
    return field("vendor_id") == "AuthenticAMD" && field("cpu family") == "25" && (field("flags")?.split(separator: " ").contains("avx512f") ?? false)
  }()
}
