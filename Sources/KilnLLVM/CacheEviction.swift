import Foundation

/// Empties a core's caches by writing a buffer of several times the last-level cache and reading
/// it, so that the next run finds its weights and inputs in memory only.
final class CacheEviction {
  /// Floats of the buffer: four times the largest cache the kernel reports (sysfs), at least 64 MiB.
  private let buffer: UnsafeMutableBufferPointer<Float>

  init() {
    let largest = (0..<8).compactMap { Self.cacheBytes(index: $0) }.max() ?? 0
    buffer = .allocate(capacity: max(4 * largest, 64 << 20) / MemoryLayout<Float>.size)
    buffer.initialize(repeating: 0)
  }

  deinit { buffer.deallocate() }

  /// Reads and writes a float of every cache line of the buffer.
  func run() {
    for i in stride(from: 0, to: buffer.count, by: 16) { buffer[i] += 1 }
  }

  /// Size of cpu0's cache number `index` in bytes, from sysfs ("32768K" or "1M"), or nil.
  private static func cacheBytes(index: Int) -> Int? {
    guard let text = try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cache/index\(index)/size", encoding: .utf8) else { return nil }
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    let unit = [Character("K"): 1 << 10, "M": 1 << 20, "G": 1 << 30][trimmed.last ?? " "] ?? 1
    return Int(trimmed.filter(\.isNumber)).map { $0 * unit }
  }
}
