import Foundation

/// File writes that never leave a half-written file behind: the bytes go to a temporary file in
/// the same directory, which is then renamed over `path`.
enum AtomicFile {
  static func write(_ data: Data, to path: String) throws {
    let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
    do {
      try data.write(to: URL(fileURLWithPath: temporary))
      guard rename(temporary, path) == 0 else {
        throw KilnError.file(path: path, message: "cannot rename the temporary file into place: \(String(cString: strerror(errno)))")
      }
    } catch let error as KilnError {
      try? FileManager.default.removeItem(atPath: temporary)
      throw error
    } catch {
      try? FileManager.default.removeItem(atPath: temporary)
      throw KilnError.file(path: path, message: "cannot write: \(error.localizedDescription)")
    }
  }

  /// The contents of `path`, or an error naming it.
  static func read(_ path: String) throws -> Data {
    guard FileManager.default.fileExists(atPath: path) else {
      throw KilnError.file(path: path, message: "no such file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw KilnError.file(path: path, message: "cannot be read")
    }
    return data
  }
}
