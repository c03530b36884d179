import Foundation
import Kiln

/// Compiled against interpreted timings of a model, per layer and whole, with GFLOPS against
/// the machine's peak measured on the spot.
public struct BenchmarkReport: Codable, Sendable {
  /// One layer's figures.
  public struct Row: Codable, Sendable {
    /// The node's name.
    public var name: String
    /// The op's display name.
    public var op: String
    /// The node's output shape.
    public var outputShape: [Int]
    /// Floating-point operations of the layer.
    public var flops: Int
    /// Nil when the interpreter was not timed.
    public var interpretedMilliseconds: Double?
    /// The fastest compiled run, in milliseconds.
    public var compiledMillisecondsMin: Double
    /// The median compiled run, in milliseconds.
    public var compiledMillisecondsMedian: Double
    /// Interpreted time ÷ fastest compiled time, when the interpreter was timed.
    public var speedup: Double? { interpretedMilliseconds.map { $0 / compiledMillisecondsMin } }
    /// Billions of floating-point operations per second in the fastest compiled run.
    public var gflops: Double { Double(flops) / (compiledMillisecondsMin * 1e6) }

    private enum CodingKeys: String, CodingKey {
      case name, op, outputShape, flops, interpretedMilliseconds, compiledMillisecondsMin, compiledMillisecondsMedian
    }
  }

  /// The model's name.
  public var model: String
  /// The host CPU's name.
  public var cpu: String
  /// The CPU the code was compiled for.
  public var target: String
  /// The kernel OpenBLAS chose for this CPU.
  public var blasCore: String
  /// Threads the compiled code used.
  public var threads: Int
  /// One thread's measured peak of fused multiply-adds, in GFLOPS.
  public var peakGFLOPS: Double
  /// Seconds spent compiling the whole model.
  public var compileSeconds: Double
  /// Modules the whole model was compiled in.
  public var modules: Int
  /// How many of the modules came from the kernel cache.
  public var cachedModules: Int
  /// Planned arena bytes of the whole model.
  public var arenaBytes: Int
  /// What its intermediates would take without reuse.
  public var naiveBytes: Int
  /// One row per computing node.
  public var layers: [Row]
  /// The whole model run at once.
  public var total: Row

  /// A table for people.
  public var text: String {
    let lines = [
      "model \(model) on \(cpu); LLVM target \(target); OpenBLAS kernel \(blasCore); \(threads) thread" + (threads == 1 ? "" : "s"),
      String(format: "fp32 peak (one thread measured now, × threads): %.1f GFLOPS; JIT compile %.3f s (%d of %d modules from the kernel cache); arena %@ planned against %@ without reuse",
        peakGFLOPS, compileSeconds, cachedModules, modules, bytes(arenaBytes), bytes(naiveBytes)),
    ]
    var table = TextTable(
      header: ["layer", "op", "output", "interp ms", "compiled ms min", "median", "speedup", "GFLOPS", "% peak"],
      rightAligned: Set(3...8))
    for row in layers + [total] {
      table.append([
        row.name, row.op, TensorType(row.outputShape).description, row.interpretedMilliseconds.map { String(format: "%.4f", $0) } ?? "–",
        String(format: "%.4f", row.compiledMillisecondsMin), String(format: "%.4f", row.compiledMillisecondsMedian),
        row.speedup.map { String(format: "%.1fx", $0) } ?? "–", String(format: "%.2f", row.gflops), String(format: "%.1f%%", 100 * row.gflops / peakGFLOPS),
      ])
    }
    table.rulesBefore = layers.isEmpty ? [] : [layers.count]
    return (lines + ["", table.text]).joined(separator: "\n") + "\n"
  }

  private func bytes(_ count: Int) -> String {
    count >= 1 << 20 ? String(format: "%.2f MiB", Double(count) / 1_048_576) : String(format: "%.1f KiB", Double(count) / 1024)
  }
}

/// Runs benchmarks: repetitions bounded by count and by a time budget per measurement.
public enum Benchmark {
  /// How long each measurement runs: at most `repetitions` timed runs, stopping after the first
  /// that ends `seconds` after the start.
  public struct Timing: Sendable {
    /// The most timed runs.
    public var repetitions: Int
    /// The budget: no run starts after it.
    public var seconds: Double
    /// Whether the caches are emptied before every timed run (`CacheEviction`), so that weights
    /// come from memory as they do inside a model larger than the caches.
    public var cold: Bool

    /// At most `repetitions` runs within `seconds`, `cold` or not.
    public init(repetitions: Int = 50, seconds: Double = 2, cold: Bool = false) {
      (self.repetitions, self.seconds, self.cold) = (repetitions, seconds, cold)
    }

    /// The interpreter's budget: a tenth of the runs (at least 2).
    var interpreted: Timing { Timing(repetitions: max(repetitions / 10, 2), seconds: seconds, cold: cold) }
  }

  /// Benchmarks `model` on a seeded random input: the whole model and, with `perLayer`, each
  /// computing node on its real input activations (only those whose name contains `only` or
  /// whose op is `only`, when given).
  /// Compiled loops, BLAS products among them, run on `threads` threads.
  /// Without `interpreted`, the interpreter is not timed (on large models it takes minutes).
  public static func run(
    _ model: Model, compiler: Compiler, threads: Int = 1, timing: Timing = Timing(), perLayer: Bool = true, only: String? = nil,
    interpreted: Bool = true
  ) throws -> BenchmarkReport {
    let peak = try PeakProbe.measure(compiler)
    let feeds = model.graph.sampleInputs(seed: 1)
    let compiled = try compiler.compile(model, threads: threads)
    let interpreter = try Interpreter<Float>(model.graph)
    let parameterFeeds = model.parameterFeeds(as: Float.self).merging(feeds) { $1 }
    let summary = Summary(model.graph)
    let total = BenchmarkReport.Row(
      name: "total", op: "model", outputShape: model.graph.outputs.first.map { model.graph[$0].type.shape } ?? [], flops: summary.flops,
      interpretedMilliseconds: interpreted ? try time(timing.interpreted) { _ = try interpreter.run(parameterFeeds) }.min : nil,
      compiledMillisecondsMin: 0, compiledMillisecondsMedian: 0)
    let compiledTimes = try time(timing) { _ = try compiled.run(feeds) }
    var totalRow = total
    (totalRow.compiledMillisecondsMin, totalRow.compiledMillisecondsMedian) = (compiledTimes.min, compiledTimes.median)
    let layers = perLayer
      ? try self.layers(
        model.graph, try interpreter.run(parameterFeeds), only: only, compiler: compiler, threads: threads, timing: timing, interpreted: interpreted)
      : []
    return BenchmarkReport(
      model: model.graph.name, cpu: cpuName(), target: compiler.targetDescription, blasCore: BLASKernel.current,
      threads: threads, peakGFLOPS: peak * Double(threads), compileSeconds: compiled.compileSeconds, modules: compiled.modules,
      cachedModules: compiled.cachedModules, arenaBytes: compiled.arenaBytes,
      naiveBytes: compiled.naiveBytes, layers: layers, total: totalRow)
  }

  /// Times one training step (forward, backward, optimizer update) on a random batch with softmax
  /// cross-entropy: the interpreter's step against the compiled one (or the compiled one alone
  /// when `interpreted` is false), and with `perLayer` each computing node of the training graph
  /// (forward, gradient and update kernels) on the activations of one step (only those `only`
  /// selects, as in `run`).
  public static func runTraining(
    _ model: Model, optimizer: Optimizer, compiler: Compiler, threads: Int = 1, timing: Timing = Timing(), perLayer: Bool = false,
    only: String? = nil, interpreted: Bool = true
  ) throws -> BenchmarkReport {
    let peak = try PeakProbe.measure(compiler)
    guard let input = model.graph.sampleInputs(seed: 1)["input"], let logits = model.graph.outputs.first.map({ model.graph[$0].type }), logits.rank == 2
    else {
      throw KilnError.invalidArgument("training benchmarks need a classifier with an input called input and logits [N, classes]")
    }
    let batch: [String: Tensor<Float>] = [
      "input": input,
      "labels": try Tensor(shape: [input.shape[0]], scalars: (0..<input.shape[0]).map { Float($0 % logits.shape[1]) }),
    ]
    var compiled: CompiledTraining?
    var initial = ParameterStore()
    var fast = try Trainer(model: model, optimizer: optimizer) { training, store in
      let engine = try CompiledTraining(training, parameters: store, compiler: compiler, threads: threads)
      (compiled, initial) = (engine, store)
      return engine
    }
    var layers: [BenchmarkReport.Row] = []
    if perLayer {
      let graph = fast.training.graph
      var feeds = try graph.feeds(batch, integers: [:])
      feeds[TrainingGraph.learningRateInput] = try Tensor(shape: [], scalars: [0.01])
      let activations = try Interpreter<Float>(graph).run(feeds, parameters: initial)
      layers = try self.layers(graph, activations, only: only, compiler: compiler, threads: threads, timing: timing, interpreted: interpreted)
    }
    var interpretedTimes: (min: Double, median: Double)?
    if interpreted {
      var slow = try Trainer(model: model, optimizer: optimizer)
      interpretedTimes = try time(timing.interpreted) { _ = try slow.step(batch, learningRate: 0.01) }
    }
    let times = try time(timing) { _ = try fast.step(batch, learningRate: 0.01) }
    let summary = Summary(fast.training.graph)
    let row = BenchmarkReport.Row(
      name: "train step", op: optimizer.kind.rawValue, outputShape: logits.shape, flops: summary.flops,
      interpretedMilliseconds: interpretedTimes?.min, compiledMillisecondsMin: times.min, compiledMillisecondsMedian: times.median)
    return BenchmarkReport(
      model: model.graph.name, cpu: cpuName(), target: compiler.targetDescription, blasCore: BLASKernel.current, threads: threads,
      peakGFLOPS: peak * Double(threads), compileSeconds: compiled?.compileSeconds ?? 0, modules: compiled?.modules ?? 0,
      cachedModules: compiled?.cachedModules ?? 0, arenaBytes: compiled?.arenaBytes ?? 0, naiveBytes: compiled?.naiveBytes ?? 0,
      layers: layers, total: row)
  }

  /// A row for every computing node of `graph` (not inputs, parameters or views) that `only`
  /// selects (by a part of its name or its op's name), each run alone on the `activations` it
  /// sees.
  private static func layers(
    _ graph: Graph, _ activations: Execution<Float>, only: String?, compiler: Compiler, threads: Int, timing: Timing, interpreted: Bool
  ) throws -> [BenchmarkReport.Row] {
    try graph.nodes.filter { node in
      !node.op.isSource && !MemoryPlan.isView(node.op) && only.map { node.name.contains($0) || node.op.mnemonic == $0 } ?? true
    }.map { try layer($0, graph, activations, compiler: compiler, threads: threads, timing: timing, interpreted: interpreted) }
  }

  /// One node alone, fed the activations it sees in the model; its parameters stay bound.
  private static func layer(
    _ node: Node, _ graph: Graph, _ activations: Execution<Float>, compiler: Compiler, threads: Int, timing: Timing,
    interpreted: Bool
  ) throws -> BenchmarkReport.Row {
    var single = Graph(name: node.name)
    var feeds: [String: Tensor<Float>] = [:]
    var parameters = ParameterStore()
    let operands = try node.inputs.enumerated().map { position, value in
      let name = "in\(position)"
      if case .parameter(let attrs) = graph[value].op {
        parameters[name] = activations[value]
        return try single.append(name, .parameter(attrs))
      }
      feeds[name] = activations[value]
      return try single.append(name, .input(InputAttrs(graph[value].type)))
    }
    single.outputs = [try single.append("op", node.op, inputs: operands)]
    // Weights the model updates on every step change on every run here too (an identity update),
    // so that kernels which transform them (Winograd) pay for it as in the step; computed ones are
    // inputs here, which change anyway.
    if Lowering.weightsChange(node, graph), case .parameter = single[operands[1]].op {
      try single.addStateUpdate(state: operands[1], newValue: try single.append("in1.next", .unary(UnaryAttrs(.affine(scale: 1, shift: 0))), inputs: [operands[1]]))
    }
    let model = try Model(graph: single, parameters: parameters)
    let interpreter = try Interpreter<Float>(single)
    let interpreterFeeds = model.parameterFeeds(as: Float.self).merging(feeds) { $1 }
    let compiled = try compiler.compile(model, threads: threads)
    let interpretedTimes = interpreted ? try time(timing.interpreted) { _ = try interpreter.run(interpreterFeeds) } : nil
    let times = try time(timing) { _ = try compiled.run(feeds) }
    let inputTypes = node.inputs.map { graph[$0].type }
    return BenchmarkReport.Row(
      name: node.name, op: node.op.mnemonic, outputShape: node.type.shape, flops: node.op.attributes.flops(inputTypes, output: node.type),
      interpretedMilliseconds: interpretedTimes?.min, compiledMillisecondsMin: times.min, compiledMillisecondsMedian: times.median)
  }

  /// Minimum and median milliseconds of `body` over the runs `timing` allows (after one warm-up),
  /// the caches emptied before each when `timing.cold` (not timed).
  static func time(_ timing: Timing, _ body: () throws -> Void) throws -> (min: Double, median: Double) {
    try body()
    var samples: [Double] = []
    let eviction = timing.cold ? CacheEviction() : nil
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(timing.seconds, 0) * 1e9)
    for _ in 0..<max(timing.repetitions, 1) {
      eviction?.run()
      let start = DispatchTime.now().uptimeNanoseconds
      try body()
      let end = DispatchTime.now().uptimeNanoseconds
      samples.append(Double(end - start) / 1e6)
      if end > deadline { break }
    }
    samples.sort()
    return (samples[0], samples[samples.count / 2])
  }

  /// The CPU's model name from /proc/cpuinfo (what `lscpu` shows).
  static func cpuName() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
  }
}
