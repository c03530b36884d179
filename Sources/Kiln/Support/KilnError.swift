/// Every error Kiln throws. The description is one line that says what went wrong, where (the
/// layer, node or file) and, where there is one, what to do about it.
public enum KilnError: Error, Equatable, CustomStringConvertible, Sendable {
  /// A layer's inputs do not fit its op: `conv2 (Conv2D): input has 3 channels, weight expects 16`.
  case shape(node: String, op: String, message: String)
  /// A graph that breaks an invariant of the IR (found by `Graph.verify()`).
  case invalidGraph(String)
  /// A value met while running a graph, e.g. a label outside `0..<classes`.
  case runtime(node: String, message: String)
  /// A file that cannot be read or written, or whose contents are wrong.
  case file(path: String, message: String)
  /// A bad argument to an API or a command.
  case invalidArgument(String)

  public var description: String {
    switch self {
    case .shape(let node, let op, let message): return "\(node) (\(op)): \(message)"
    case .invalidGraph(let message): return "invalid graph: \(message)"
    case .runtime(let node, let message): return "\(node): \(message)"
    case .file(let path, let message): return "\(path): \(message)"
    case .invalidArgument(let message): return message
    }
  }
}

/// A shape rule's complaint, before the graph adds the node's name and op to it.
struct ShapeError: Error {
  let message: String
  init(_ message: String) { self.message = message }
}

/// Throws a `ShapeError` with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(ShapeError) {
  if !condition { throw ShapeError(message()) }
}
