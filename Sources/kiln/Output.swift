import Foundation

/// Writes a line to standard output at once (`print` is block-buffered on pipes), for the
/// progress of long commands.
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints `value` as sorted, indented JSON (the `--json` output of every command). JSON has no
/// NaN or infinities: they are written as the strings "NaN", "Infinity" and "-Infinity".
func printJSON(_ value: some Encodable) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
