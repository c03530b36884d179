import Foundation
import Kiln

/// Where the C runtime's sources are: `KILN_RUNTIME_DIR`, else `runtime/` of the Kiln checkout
/// this binary was built from.
func runtimeDirectory() -> String {
  if let override = ProcessInfo.processInfo.environment["KILN_RUNTIME_DIR"] { return override }
  return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("runtime").path
}

extension Compiler {
  /// Compiles `model` ahead of time into a self-contained shared object at `path` (weights
  /// embedded, the C runtime linked in; it needs only libc, libm and libopenblas) and writes its
  /// C header beside it (`lenet5.so` → `lenet5.h`). A `path` ending in `.o` gives one relocatable
  /// object instead, to link into a program with `-lopenblas -lm`. Both files are written whole
  /// and renamed into place together (`AtomicFile`). Returns the header's path. Every exported
  /// symbol starts with `prefix`, by default the file's name (`lenet5.so` → `lenet5_infer`), so
  /// libraries from models of the same name (every PyTorch export is `main_graph`) link together.
  /// Inference folds batch norms into the convolutions before them (`Graph.foldingBatchNorm`),
  /// each context computing the folded weights from the model's, which the API keeps by name.
  /// With `training`, the library also exports `<prefix>_train_step`, running the compiled training
  /// step on the weights the context holds; `initial` then gives every parameter of the training
  /// graph (weights, running statistics, optimizer state), as `Trainer.parameters` does.
  /// With `detector` (the model's output is that YOLO grid), it also exports `<prefix>_detect`:
  /// inference, box decoding and non-maximum suppression, giving the objects `YOLOGrid.detect`
  /// gives.
  @discardableResult
  public func emitSharedObject(
    _ model: Model, to path: String, prefix requested: String? = nil, training: TrainingGraph? = nil, initial: ParameterStore? = nil,
    embedWeights: Bool = true, detector: YOLOGrid? = nil
  ) throws -> String {
    let output = URL(fileURLWithPath: path)
    let prefix = CSource.identifier(requested ?? output.deletingPathExtension().lastPathComponent)
    let detection = try detector.map { try DetectionInterface(grid: $0, graph: model.graph, prefix: prefix) }
    let headerPath = output.deletingPathExtension().appendingPathExtension("h").path
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-aot-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }

    /// Compiles `graph` into object files in the work directory; returns their paths and program.
    func object(_ graph: Graph, training isTraining: Bool) throws -> (paths: [String], entry: Program) {
      llvmLock.lock()
      defer { llvmLock.unlock() }
      let kind = isTraining ? "train" : "infer"
      let program = try self.program(graph)
      let paths = try self.objects(program, symbol: "\(prefix)_kiln_\(kind)_entry", hidden: true).code.enumerated().map { number, object in
        let path = work.appendingPathComponent("\(prefix)_\(kind)_\(number).o").path
        try object.write(to: URL(fileURLWithPath: path))
        return path
      }
      return (paths, program)
    }
    let (folded, folds) = try model.graph.foldingBatchNorm(renaming: true)
    let inference = try object(folded, training: false)
    let trainingObject = try training.map { try object($0.graph, training: true) }
    let values = initial ?? model.parameters
    let weightsPath = work.appendingPathComponent("weights.bin").path
    let interface = CInterface(
      model: model.graph, inference: inference.entry, folds: folds, training: trainingObject?.entry, prefix: prefix, headerName: URL(fileURLWithPath: headerPath).lastPathComponent,
      weightsPath: weightsPath, embedsModelWeights: embedWeights, detection: detection)
    var weights = Data()
    for node in interface.embedded {
      guard let tensor = values[node.name] else {
        throw KilnError.invalidArgument("parameter \(node.name) of \(model.graph.name) has no value")
      }
      for scalar in tensor.scalars { withUnsafeBytes(of: scalar.bitPattern.littleEndian) { weights.append(contentsOf: $0) } }
    }
    try weights.write(to: URL(fileURLWithPath: weightsPath))
    try Data(interface.header.utf8).write(to: work.appendingPathComponent("\(prefix).h"))
    let wrapper = work.appendingPathComponent("\(prefix)_api.c").path
    try Data(interface.wrapper.utf8).write(to: URL(fileURLWithPath: wrapper))

    let runtime = runtimeDirectory()
    let sources = try FileManager.default.contentsOfDirectory(atPath: runtime).filter { $0.hasSuffix(".c") }.sorted().map { "\(runtime)/\($0)" }
    guard !sources.isEmpty else {
      throw KilnError.file(path: runtime, message: "holds no C runtime sources; set KILN_RUNTIME_DIR to Kiln's runtime/ directory")
    }
    let objects = inference.paths + (trainingObject?.paths ?? [])
    let flags = ["-O2", "-fPIC", "-fvisibility=hidden", "-I", "\(runtime)/include", "-I", work.path]
    let linked = work.appendingPathComponent(output.lastPathComponent).path
    if output.pathExtension == "o" {
      // One relocatable object for the user's own build; everything but the C API made local, so
      // several models' objects link into one program.
      var compiled: [String] = []
      for (index, source) in ([wrapper] + sources).enumerated() {
        compiled.append(work.appendingPathComponent("c\(index).o").path)
        try run("cc", flags + ["-c", source, "-o", compiled[compiled.count - 1]])
      }
      try run("ld", ["-r", "-o", linked] + compiled + objects)
      try run("objcopy", ["--localize-hidden", linked])
    } else {
      try run("cc", flags + ["-shared", wrapper] + objects + sources + ["-lopenblas", "-lm", "-o", linked])
    }
    // The library and its header replace the old pair together, or neither does.
    let library = try AtomicFile.read(linked)
    try AtomicFile.write([(output.path, library), (headerPath, Data(interface.header.utf8))])
    return headerPath
  }

  /// Runs a build tool; its complaints become an error.
  private func run(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw KilnError.invalidArgument("\(tool) failed building the shared object: \(String(decoding: message, as: UTF8.self).prefix(2000))")
    }
  }
}
