import Foundation

/// How much memory this machine has, so that work too large for it is refused with a clear error
/// before it is allocated (Swift traps on a failed allocation).
public enum MemoryBudget {
  /// The physical memory in bytes.
  public static var physicalBytes: Int { sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE)) }

  /// Throws when no execution of `graph` can fit: every node needs its inputs and its output in
  /// memory at once (4-byte elements), however well a planner reuses the rest. A cheap check
  /// before compiling, which on such shapes would itself take long.
  public static func checkNodesFit(_ graph: Graph) throws {
    let largest = graph.nodes.map { node in Checked.sum(([node.type] + node.inputs.map { graph[$0].type }).map { $0.elementCount * 4 }) }
    try check(largest.contains(nil) ? nil : largest.compactMap { $0 }.max() ?? 0, for: "\(graph.name)", fix: "use a smaller input shape or batch")
  }

  /// Throws when `bytes` (nil: more than `Int` holds) exceed the physical memory: `what` names
  /// the work ("lenet5 in the interpreter"), `fix` says what to change.
  public static func check(_ bytes: Int?, for what: @autoclosure () -> String, fix: @autoclosure () -> String) throws {
    let available = physicalBytes
    if let bytes, bytes <= available { return }
    let needed = bytes.map { String(format: "%.1f GB", Double($0) / 1e9) } ?? "more than 2^63 bytes"
    throw KilnError.invalidArgument(
      "\(what()) needs \(needed) of memory but this machine has \(String(format: "%.1f GB", Double(available) / 1e9)); \(fix())")
  }
}
