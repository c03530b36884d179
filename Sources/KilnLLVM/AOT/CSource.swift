/// The only way a model's names reach generated C: names come from model files and ONNX files
/// that someone else may have written, so they become C identifiers through one sanitiser and
/// string literals (also used inside comments) through one escaper.
enum CSource {
  /// A C string literal, quotes included, that spells `text` exactly. Everything outside printable
  /// ASCII, and `"`, `\`, `?` (trigraphs), and a `/` or `*` that would make `*/` or `/*` with the
  /// character before it, is written as a three-digit octal escape, so the literal is safe both in
  /// code and inside a `/* */` comment.
  static func stringLiteral(_ text: String) -> String {
    var literal = "\""
    for byte in text.utf8 {
      let previous = literal.unicodeScalars.last
      let special = byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "?")
        || (byte == UInt8(ascii: "/") && previous == "*") || (byte == UInt8(ascii: "*") && previous == "/")
      if byte < 0x20 || byte > 0x7E || special {
        literal += octalEscape(byte)
      } else {
        literal.unicodeScalars.append(Unicode.Scalar(byte))
      }
    }
    return literal + "\""
  }

  /// A string for the GNU assembler (an `.incbin` path), quotes included: everything but letters,
  /// digits and `/._-` as a three-digit octal escape.
  static func assemblerString(_ text: String) -> String {
    "\"" + text.utf8.map { byte in
      let scalar = Unicode.Scalar(byte)
      return scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "/._-".unicodeScalars.contains(scalar))
        ? String(scalar) : octalEscape(byte)
    }.joined() + "\""
  }

  /// `\ooo`: a byte as a three-digit octal escape, which C and the assembler both read.
  private static func octalEscape(_ byte: UInt8) -> String {
    let octal = String(byte, radix: 8)
    return "\\" + String(repeating: "0", count: 3 - octal.count) + octal
  }

  /// The elements of a C array initializer: `values` separated by commas, or one 0 for none (C has
  /// no empty arrays; a count beside the array says how many are meant).
  static func initializer(_ values: [Int]) -> String {
    values.isEmpty ? "0" : values.map(String.init).joined(separator: ", ")
  }

  /// A C identifier from a name (`fc2.out` → `fc2_out`): ASCII letters, digits and underscores
  /// only, not starting with a digit or an underscore, never empty. It may still be a keyword or
  /// taken: `Identifiers` makes it unique.
  static func identifier(_ name: String) -> String {
    let cleaned = String(name.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) ? Character($0) : "_" })
    guard let first = cleaned.first else { return "unnamed" }
    return first.isNumber || first == "_" ? "v" + cleaned : cleaned
  }

  /// Unique identifiers for the names of one scope (a function's arguments, the macros made from
  /// them): none is a C or C++ keyword, a name the generated code uses itself, starts like the
  /// generated code's own symbols, or equals another when upper-cased (the header's size macros
  /// are the upper-cased identifiers).
  struct Identifiers {
    private var taken: Set<String>
    private let reservedPrefixes: [String]

    /// `reserved`: names the scope already uses (e.g. `context`, `loss`); `reservedPrefixes`:
    /// beginnings of the generated code's own symbols (e.g. `lenet5_`), whatever their case.
    init(reserved: [String] = [], reservedPrefixes: [String] = []) {
      taken = Set((CSource.keywords + reserved).map { $0.uppercased() })
      self.reservedPrefixes = reservedPrefixes.map { $0.uppercased() }
    }

    /// The identifier for `name`: `identifier(name)` (behind `v_` if it starts like a reserved
    /// symbol), with `_2`, `_3`, … appended when taken.
    mutating func make(_ name: String) -> String {
      var base = CSource.identifier(name)
      if reservedPrefixes.contains(where: { base.uppercased().hasPrefix($0) }) { base = "v_" + base }
      var candidate = base
      var suffix = 2
      while taken.contains(candidate.uppercased()) {
        candidate = "\(base)_\(suffix)"
        suffix += 1
      }
      taken.insert(candidate.uppercased())
      return candidate
    }
  }

  /// C11 and C++ keywords, and the standard macros a program including the header may have.
  static let keywords = [
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern", "float", "for",
    "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "alignas", "alignof", "and", "and_eq", "asm",
    "bitand", "bitor", "bool", "catch", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "consteval",
    "constexpr", "constinit", "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete", "dynamic_cast",
    "explicit", "export", "false", "friend", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr",
    "operator", "or", "or_eq", "private", "protected", "public", "reinterpret_cast", "requires", "static_assert",
    "static_cast", "template", "this", "thread_local", "throw", "true", "try", "typeid", "typename", "using", "virtual",
    "wchar_t", "xor", "xor_eq", "NULL", "EOF", "errno", "stdin", "stdout", "stderr", "assert", "offsetof", "complex",
    "imaginary", "noreturn", "unix", "linux", "EXPORT",
  ]
}
