import CZlib
import Foundation

/// An IDX file (the MNIST format): a big-endian header with the element type and dimensions,
/// then unsigned bytes. Gzip-compressed files (`.gz`, as Debian ships them) are read as they are.
public struct IDXFile: Sendable {
  /// The size of each axis.
  public var dimensions: [Int]
  /// The elements, row-major.
  public var bytes: [UInt8]

  /// Reads and checks `path`: magic number, unsigned-byte type, and exactly as much data as the
  /// dimensions say. Errors name the file and what is wrong with it.
  public init(path: String) throws {
    let raw = try IDXFile.inflate(path)
    func fail(_ message: String) -> KilnError { .file(path: path, message: message) }
    guard raw.count >= 4 else { throw fail("is \(raw.count) bytes long, too short for an IDX header") }
    guard raw[0] == 0, raw[1] == 0 else { throw fail("is not an IDX file (bad magic number)") }
    guard raw[2] == 0x08 else { throw fail("holds IDX element type 0x\(String(raw[2], radix: 16)); only unsigned bytes (0x08) are supported") }
    let rank = Int(raw[3])
    guard rank >= 1, raw.count >= 4 + 4 * rank else { throw fail("is truncated inside its header of \(rank) dimensions") }
    dimensions = (0..<rank).map { axis in
      (0..<4).reduce(0) { $0 << 8 | Int(raw[4 + 4 * axis + $1]) }
    }
    let available = raw.count - 4 - 4 * rank
    guard let expected = Checked.product(dimensions), available == expected else {
      throw fail("has \(available) data bytes but its dimensions \(dimensions) need \(Checked.describeProduct(dimensions)); the file is truncated or corrupt")
    }
    bytes = Array(raw[(4 + 4 * rank)...])
  }

  /// The whole decompressed contents (plain files pass through zlib unchanged).
  private static func inflate(_ path: String) throws -> [UInt8] {
    guard FileManager.default.fileExists(atPath: path) else {
      throw KilnError.file(path: path, message: "no such file; install the Debian package dataset-fashion-mnist or pass --data-dir")
    }
    guard let file = gzopen(path, "rb") else { throw KilnError.file(path: path, message: "cannot be opened") }
    defer { gzclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
      if count < 0 {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
        throw KilnError.file(path: path, message: "is corrupt: \(message)")
      }
      if count == 0 { break }
      result.append(contentsOf: chunk[0..<Int(count)])
    }
    // gzread stops quietly at a truncated gzip stream; gzeof alone cannot tell, so ask zlib.
    var code: Int32 = 0
    _ = gzerror(file, &code)
    if code != Z_OK && code != Z_STREAM_END {
      throw KilnError.file(path: path, message: "is corrupt or truncated (zlib error \(code))")
    }
    return result
  }
}
