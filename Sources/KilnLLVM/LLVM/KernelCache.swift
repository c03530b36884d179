import CLLVM
import Foundation
import Kiln

/// Object files of modules compiled before, kept on disk, so that compiling a model again (the
/// next `kiln bench`, `kiln train` or test run, the `.so` of a model already benchmarked) skips
/// LLVM's optimisation and code generation for every module it has seen.
///
/// An entry is named by a hash of its key — the module's IR before optimisation, the target
/// (triple, CPU, features) and LLVM's version and options — and holds the whole key, compared on
/// every use, so a hash collision is a miss, never the wrong code; and a checksum of the entry, so
/// a damaged file is a miss too (and is replaced). Entries are written whole and renamed into
/// place (`AtomicFile`), so processes compiling at once share the cache.
///
/// The directory is `KILN_CACHE_DIR` (set but empty: no cache), else
/// `$XDG_CACHE_HOME/kiln/kernels`, else `~/.cache/kiln/kernels`. It may be deleted at any time;
/// past `sizeLimit` the least recently used entries are removed.
struct KernelCache: Sendable {
  let directory: String

  /// The cache the environment names, or nil when it is switched off.
  static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> KernelCache? {
    if let directory = environment["KILN_CACHE_DIR"] { return directory.isEmpty ? nil : KernelCache(directory: directory) }
    let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
    return KernelCache(directory: base + "/kiln/kernels")
  }

  /// What decides `ir`'s object code on `target`: the key of its entry.
  static func key(_ ir: IRBuilder, target: HostTarget) -> Data {
    let raw = LLVMPrintModuleToString(ir.module)
    defer { LLVMDisposeMessage(raw) }
    let header = "kiln kernel cache 2\n\(String(cString: cllvm_configuration()))\n\(target.triple)\n\(target.cpu)\n\(target.features)\n\(HostTarget.pipeline)\nobject\n"
    return Data(header.utf8) + Data(bytes: raw!, count: strlen(raw!))
  }

  /// The object compiled for `key`, if an intact entry holds it.
  func object(for key: Data) -> Data? {
    let path = path(for: key)
    guard let entry = FileManager.default.contents(atPath: path), entry.count >= Self.headerSize,
      entry.prefix(8) == Self.magic
    else { return nil }
    let (keyCount, objectCount, checksum) = (Self.integer(entry, at: 8), Self.integer(entry, at: 16), Self.integer(entry, at: 24))
    guard keyCount == key.count, Self.headerSize + keyCount + objectCount == entry.count else { return nil }
    let body = entry.dropFirst(Self.headerSize)
    guard SplitMix64.stableHash(body) == UInt64(truncatingIfNeeded: checksum), body.prefix(keyCount) == key else { return nil }
    // A use renews the entry (`prune` removes the oldest first).
    try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
    return Data(body.dropFirst(keyCount))
  }

  /// Keeps `object` as `key`'s entry. A cache that cannot be written only makes compiling slower,
  /// so failures are ignored.
  func store(_ object: Data, for key: Data) {
    var entry = Self.magic
    let body = key + object
    for value in [UInt64(key.count), UInt64(object.count), SplitMix64.stableHash(body)] {
      withUnsafeBytes(of: value.littleEndian) { entry.append(contentsOf: $0) }
    }
    try? AtomicFile.createDirectory(directory)
    try? AtomicFile.write(entry + body, to: path(for: key))
  }

  /// The most bytes of entries the cache keeps (the object code of a few hundred models).
  static let sizeLimit = 1 << 30

  /// Removes the least recently used entries (by modification time, which a use renews) while
  /// the entries take more than `limit` bytes, down to three quarters of it.
  func prune(limit: Int = KernelCache.sizeLimit) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    let entries = names.filter { $0.hasSuffix(".o") }.compactMap { name -> (path: String, size: Int, date: Date)? in
      let path = directory + "/" + name
      guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int,
        let date = attributes[.modificationDate] as? Date
      else { return nil }
      return (path, size, date)
    }
    var total = entries.reduce(0) { $0 + $1.size }
    guard total > limit else { return }
    for entry in entries.sorted(by: { $0.date < $1.date }) where total > limit / 4 * 3 {
      try? FileManager.default.removeItem(atPath: entry.path)
      total -= entry.size
    }
  }

  /// Entries start with the magic, the key's and the object's sizes and the checksum of both.
  private static let magic = Data("KILNKC01".utf8)
  private static let headerSize = 32

  private func path(for key: Data) -> String {
    directory + "/" + String(SplitMix64.stableHash(key), radix: 16) + ".o"
  }

  private static func integer(_ data: Data, at offset: Int) -> Int {
    Int(truncatingIfNeeded: (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[data.startIndex + offset + $1]) << (8 * $1) })
  }
}
