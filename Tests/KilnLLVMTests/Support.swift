import Foundation
import Kiln

/// The root of the package (examples, runtime sources, fuzz drivers).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs `command` with /bin/sh; its exit status and its standard output and error together.
func shell(_ command: String) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/sh")
  process.arguments = ["-c", command]
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A fresh temporary directory whose name starts with `kind`.
func temporaryDirectory(_ kind: String) throws -> String {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(kind)-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  return directory
}

/// ‖a − b‖ / ‖a‖ in Double: how far `b` is from `a`, relative to `a`'s size.
func relativeDifference(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Double {
  let difference = zip(a.scalars, b.scalars).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
  return difference / max(a.scalars.map { Double($0) * Double($0) }.reduce(0, +).squareRoot(), 1e-30)
}
