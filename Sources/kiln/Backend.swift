import ArgumentParser

/// Where a command runs a graph.
enum Backend: String, ExpressibleByArgument, CaseIterable {
  /// Native code compiled through LLVM (the default).
  case jit
  /// The reference interpreter.
  case interp
}
