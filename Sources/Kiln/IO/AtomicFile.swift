import Foundation
import KilnRuntime

/// File writes that never leave a half-written file behind, through the C runtime's
/// `kiln_atomic_file` (the same code the compiled `.so` saves weights with): the bytes go to an
/// unnamed file in the destination's directory, synced, then renamed over the destination. A
/// killed process leaves no temporary file, and concurrent writers never tear one.
public enum AtomicFile {
  /// Writes `data` to `path`, whole or not at all.
  public static func write(_ data: Data, to path: String) throws {
    try write([(path, data)])
  }

  /// Writes several files that belong together (a `.so` and its header): every one is written and
  /// synced before the first is renamed into place, so a full disk or a bad directory leaves all
  /// of them as they were, and no temporary file behind.
  public static func write(_ files: [(path: String, data: Data)]) throws {
    var writers: [kiln_atomic_file] = []
    defer {
      for index in writers.indices { kiln_atomic_file_abort(&writers[index]) }
    }
    var error = [CChar](repeating: 0, count: 512)
    func check(_ status: kiln_status, _ path: String) throws {
      guard status == KILN_OK else { throw KilnError.file(path: path, message: message(error, path: path, status: status)) }
    }
    for (path, data) in files {
      var writer = kiln_atomic_file()
      try check(kiln_atomic_file_open(&writer, path, &error, error.count), path)
      writers.append(writer)
      try data.withUnsafeBytes { bytes in
        try check(kiln_atomic_file_write(&writers[writers.count - 1], bytes.baseAddress, bytes.count, &error, error.count), path)
      }
    }
    for index in writers.indices {
      try check(kiln_atomic_file_commit(&writers[index], &error, error.count), files[index].path)
    }
  }

  /// Makes sure `path` can be written later, before long work that ends by writing it: creates
  /// its directory if needed and opens (and discards) a temporary file there. Throws one clear
  /// line otherwise.
  public static func checkWritable(_ path: String) throws {
    try createDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    var writer = kiln_atomic_file()
    var error = [CChar](repeating: 0, count: 512)
    defer { kiln_atomic_file_abort(&writer) }
    let status = kiln_atomic_file_open(&writer, path, &error, error.count)
    guard status == KILN_OK else { throw KilnError.file(path: path, message: message(error, path: path, status: status) + "; choose another place") }
  }

  /// Creates `directory` and its missing parents; an error names the one that cannot be made.
  public static func createDirectory(_ directory: String) throws {
    var path = directory.hasPrefix("/") ? "" : "."
    for component in directory.split(separator: "/") {
      path += "/" + component
      guard mkdir(path, 0o777) != 0 else { continue }
      let reason = errno
      var isDirectory: ObjCBool = false
      if reason == EEXIST && FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue { continue }
      throw KilnError.file(path: path, message: "cannot create the directory: \(String(cString: strerror(reason == EEXIST ? ENOTDIR : reason)))")
    }
  }

  /// The runtime's message in `error` without the leading path (KilnError.file adds it), or the
  /// status's description when there is none.
  private static func message(_ error: [CChar], path: String, status: kiln_status) -> String {
    let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if message.isEmpty { return "cannot be written (\(String(cString: kiln_status_string(status))))" }
    return message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
  }

  /// The contents of `path`, or an error naming it.
  public static func read(_ path: String) throws -> Data {
    guard FileManager.default.fileExists(atPath: path) else {
      throw KilnError.file(path: path, message: "no such file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw KilnError.file(path: path, message: "cannot be read")
    }
    return data
  }
}
