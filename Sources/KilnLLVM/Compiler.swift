import CLLVM
import Foundation
import Kiln
import KilnRuntime

/// Compiles graphs to native code through LLVM: each node becomes a kernel function (loops
/// specialised to its static shapes, or BLAS calls), and one entry function runs them in order
/// over caller buffers and a planned arena.
///
/// ```swift
/// let compiled = try Compiler().compile(model)
/// let logits = try compiled.predict(image)
/// ```
public final class Compiler: @unchecked Sendable {
  let target: HostTarget

  /// A compiler for this machine's CPU, or for `targetCPU` (an LLVM CPU name such as
  /// "x86-64-v3"; a name LLVM does not know throws) when the code must run elsewhere.
  /// Compiled code is kept in and taken from the kernel cache (`KILN_CACHE_DIR`, by default
  /// `~/.cache/kiln/kernels`; an empty `KILN_CACHE_DIR` switches it off), which makes compiling
  /// a model seen before several times faster.
  public init(targetCPU: String? = nil) throws {
    target = try HostTarget(cpu: targetCPU)
    vectors = target.vectorUnit
    cache = KernelCache.fromEnvironment()
  }

  /// The vector unit kernels are planned for: the target's, or one with `vectorLanes` (tests
  /// generate both widths, and both choices of a half-width unit, on any machine).
  let vectors: VectorUnit

  /// Where compiled modules are kept between runs (nil: nowhere).
  let cache: KernelCache?

  init(targetCPU: String? = nil, vectorLanes: Int, halfWidth: Bool? = nil, cache: KernelCache? = KernelCache.fromEnvironment()) throws {
    target = try HostTarget(cpu: targetCPU)
    vectors = VectorUnit(lanes: vectorLanes, halfWidth: halfWidth ?? target.vectorUnit.halfWidth)
    self.cache = cache
  }

  /// The CPU LLVM targets and whether it has AVX-512.
  public var targetDescription: String { "\(target.cpu) (\(target.triple))" + (target.hasAVX512 ? ", AVX-512" : "") }

  /// JIT-compiles `model`'s graph; its parameters are bound to the result. Batch norms that
  /// follow convolutions are folded into them first (`Model.foldingBatchNorm`; training graphs are
  /// left as they are), unless `foldBatchNorm` is false: then every parameter of the model stays
  /// readable and settable on the result by its name.
  public func compile(_ model: Model, threads: Int = 1, foldBatchNorm: Bool = true) throws -> CompiledModel {
    let model = foldBatchNorm ? try model.foldingBatchNorm() : model
    return try compile(model.graph, parameters: model.parameters, threads: threads)
  }

  /// JIT-compiles any graph — a model's, a differentiated one (`Graph.vjp`), a training graph —
  /// with its parameters' values taken from `parameters` by name; tensors the graph does not use
  /// are ignored, so a model's whole store serves its derived graphs.
  ///
  /// ```swift
  /// let vjp = try model.graph.vjp(withRespectTo: ["input"])
  /// let dx = try Compiler().compile(vjp.graph, parameters: model.parameters)
  ///   .run(["input": x, "cotangent": dy]).gradients["input"]
  /// ```
  public func compile(_ graph: Graph, parameters: ParameterStore, threads: Int = 1) throws -> CompiledModel {
    try CompiledModel(compiler: self, graph: graph, parameters: parameters, threads: threads)
  }

  /// The optimised code as assembly, one module after another (tests check it for vector
  /// instructions).
  public func assembly(_ graph: Graph) throws -> String {
    llvmLock.lock()
    defer { llvmLock.unlock() }
    let texts = try ParallelCodegen.emit(modules(program(graph), symbol: "kiln_entry"), target: target, as: LLVMAssemblyFile).code
    return texts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
  }

  /// `program` as optimised object files (`modules`), compiled on every core or taken from the
  /// kernel cache; also how many came from the cache.
  func objects(_ program: Program, symbol: String, hidden: Bool = false) throws -> (code: [Data], cached: Int) {
    let objects = try ParallelCodegen.emit(modules(program, symbol: symbol, hidden: hidden), target: target, as: LLVMObjectFile, cache: cache)
    if objects.cached < objects.code.count { cache?.prune() }
    return objects
  }

  /// `graph` planned for this compiler's target and checked.
  func program(_ graph: Graph) throws -> Program {
    let program = try Program(graph, vectors: vectors)
    try program.verify()
    return program
  }

  /// The program compiled code runs for `graph` on this compiler's target, as text (`kiln dump
  /// --program`; `compile(model)` plans `model.foldingBatchNorm().graph`).
  public func programText(_ graph: Graph) throws -> String { try program(graph).text }

  /// Translates `program` into LLVM modules, each in a context of its own so that they compile
  /// in parallel (`ParallelCodegen`): the entry `i32 symbol(float* arena, float** slots, i64
  /// step, kiln_pool* pool)`, which runs the steps in order over caller buffers and the arena,
  /// stopping at the first failure, then the copies; and one module per program function,
  /// `symbol_fN` (with the tasks of its parallel loops). `hidden` keeps every symbol inside a
  /// shared object (the generated C API exports what callers use).
  func modules(_ program: Program, symbol: String, hidden: Bool = false) throws -> [IRBuilder] {
    let graph = program.graph
    /// Function `number`'s declaration or definition in `ir`.
    func declare(_ number: Int, in ir: IRBuilder) -> LLVMValueRef {
      let function = program.functions[number]
      let node = graph.nodes[function.node]
      let pointers = 1 + node.inputs.count + (function.scratch ? 1 : 0) + (function.persistent ? 1 : 0) + (function.residual ? 1 : 0)
      let parameters = Array(repeating: ir.floatPointer, count: pointers) + [ir.i64, ir.bytePointer]
      let code = ir.function("\(symbol)_f\(number)", parameters: parameters, returns: ir.i32, isInternal: false)
      if hidden { ir.hide(code) }
      return code
    }
    let kernels = try program.functions.enumerated().map { number, function -> IRBuilder in
      let ir = IRBuilder(name: "\(graph.name).f\(number)")
      let node = graph.nodes[function.node]
      let code = declare(number, in: ir)
      ir.beginBody(of: code)
      let count = ir.parameterCount(code)
      var kernel = Kernel(
        ir: ir, node: node, inputTypes: function.inputTypes,
        inputs: (0..<node.inputs.count).map { ir.parameter(code, $0 + 1) }, output: ir.parameter(code, 0),
        scratch: function.scratch ? ir.parameter(code, node.inputs.count + 1) : nil,
        step: ir.parameter(code, count - 2), epilogue: function.epilogue, pool: ir.parameter(code, count - 1), vectors: program.vectors)
      kernel.weightsChange = function.weightsChange
      if function.persistent { kernel.persistent = ir.parameter(code, node.inputs.count + (function.scratch ? 2 : 1)) }
      if function.residual { kernel.residual = ir.parameter(code, count - 3) }
      try Lowering.emit(kernel)
      ir.ret(ir.int32(0))
      try ir.verify()
      return ir
    }
    let ir = IRBuilder(name: graph.name)
    let functions = program.functions.indices.map { declare($0, in: ir) }
    let pointerPointer = ir.pointer(to: ir.floatPointer)
    let entry = ir.function(symbol, parameters: [ir.floatPointer, pointerPointer, ir.i64, ir.bytePointer], returns: ir.i32, isInternal: false)
    if hidden { ir.hide(entry) }
    ir.beginBody(of: entry)
    let (arena, slots, step, pool) = (ir.parameter(entry, 0), ir.parameter(entry, 1), ir.parameter(entry, 2), ir.parameter(entry, 3))
    func pointer(_ location: Program.Location) -> LLVMValueRef {
      switch location {
      case .slot(let slot):
        return ir.load(ir.floatPointer, from: ir.element(slots, ir.int(slot), type: ir.floatPointer))
      case .arena(let offset):
        return ir.element(arena, ir.int(offset))
      }
    }
    for call in program.steps {
      var arguments = [pointer(call.output)] + call.inputs.map(pointer)
      if let offset = call.scratch { arguments.append(ir.element(arena, ir.int(offset))) }
      if let offset = call.persistent { arguments.append(ir.element(arena, ir.int(offset))) }
      if let residual = call.residual { arguments.append(pointer(residual.location)) }
      let status = ir.call(functions[call.function], arguments + [step, pool])
      ir.when(ir.icmp(LLVMIntNE, status, ir.int32(0))) { ir.returnEarly(status) }
    }
    for copy in program.copies { ir.copy(copy.count, from: pointer(copy.from), to: pointer(copy.to)) }
    ir.ret(ir.int32(0))
    try ir.verify()
    return [ir] + kernels
  }
}

/// A graph compiled to native code with its parameters bound: call `run` or `predict`.
/// One instance holds one arena, so it runs one call at a time; compile again (or create more
/// instances) for concurrent use.
public final class CompiledModel: @unchecked Sendable {
  /// The graph compiled, average pooling moved before pointwise convolutions
  /// (`Graph.poolingBeforePointwise`) and elementwise chains fused (`Graph.fusingElementwise`):
  /// the given graph's inputs, parameters and outputs, in the same order.
  public let graph: Graph
  /// Seconds spent building, optimising and JIT-compiling.
  public let compileSeconds: Double
  /// Modules the code was compiled in: the entry and one per kernel function.
  public let modules: Int
  /// How many of the modules came from the kernel cache instead of LLVM.
  public let cachedModules: Int
  /// Planned arena bytes, and what the intermediates would take without reuse.
  public let arenaBytes: Int
  /// What the intermediates would take without reuse.
  public let naiveBytes: Int

  private let jit: JIT
  private typealias Entry = @convention(c) (UnsafeMutablePointer<Float>?, UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?, Int64, OpaquePointer?) -> Int32
  private let entry: Entry
  /// The arena and one buffer per slot (inputs, parameters, outputs), allocated once: two
  /// runtime blocks (`kiln_arena_init`: huge pages when large, which ResNet-50's 100 MB of
  /// weights and 90 MB of Winograd U are read faster from), the slots cut from the second.
  private var blocks = (arena: kiln_arena(), slots: kiln_arena())
  private let arena: UnsafeMutableBufferPointer<Float>
  private let slots: [UnsafeMutableBufferPointer<Float>]
  private let slotPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
  /// Where the arena's kept-memory flags are (`Program.keptFlags`), cleared when a parameter is set.
  private let keptFlags: [Int]
  private let lock = NSLock()
  /// The thread pool parallel loops run on (nil: one thread); it also holds the communicator of
  /// a data-parallel job.
  private var pool: OpaquePointer?
  /// The communicator `pool` calls, kept alive while the pool may call it.
  private var communicator: Unmanaged<CommunicatorBox>?
  /// Threads the compiled loops use.
  public let threads: Int

  init(compiler: Compiler, graph: Graph, parameters store: ParameterStore, threads: Int = 1) throws {
    BLASKernel.prepare()
    guard threads >= 1 else { throw KilnError.invalidArgument("threads must be at least 1, got \(threads)") }
    self.threads = threads
    let start = Date()
    llvmLock.lock()
    defer { llvmLock.unlock() }
    try MemoryBudget.checkNodesFit(graph)
    let plan = try compiler.program(graph)
    // The program's graph: its inputs, parameters and outputs are the given graph's, in order.
    let graph = plan.graph
    self.graph = graph
    try compiler.target.checkRunsHere()
    let objects = try compiler.objects(plan, symbol: "kiln_entry")
    (modules, cachedModules) = (objects.code.count, objects.cached)
    jit = try JIT(objects: objects.code)
    entry = unsafeBitCast(try jit.address(of: "kiln_entry"), to: Entry.self)
    compileSeconds = Date().timeIntervalSince(start)
    arenaBytes = plan.arenaSize * 4
    naiveBytes = plan.naiveSize * 4
    for value in graph.parameters where store[graph[value].name]?.shape != graph[value].type.shape {
      throw KilnError.invalidArgument("parameter \(graph[value].name) \(graph[value].type) of \(graph.name) has no value of its shape")
    }
    let bytes = Checked.sum([plan.arenaSize] + plan.slots.map { graph[$0].type.elementCount }).map { $0 * 4 }
    try MemoryBudget.check(bytes, for: "\(graph.name) compiled", fix: "use a smaller input shape or batch")
    // Each slot starts on a cache line of the second block.
    let slotSizes = plan.slots.map { (max(graph[$0].type.elementCount, 1) + 15) / 16 * 16 }
    let slotStarts = slotSizes.reduce(into: [0]) { $0.append($0.last! + $1) }
    guard kiln_arena_init(&blocks.arena, max(plan.arenaSize, 1) * 4, 64) == KILN_OK,
      kiln_arena_init(&blocks.slots, max(slotStarts.last!, 1) * 4, 64) == KILN_OK
    else {
      kiln_arena_free(&blocks.arena)
      throw KilnError.invalidArgument("\(graph.name) compiled: out of memory for \(bytes ?? 0) bytes; use a smaller input shape or batch")
    }
    func floats(_ block: kiln_arena, from start: Int, count: Int) -> UnsafeMutableBufferPointer<Float> {
      UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(block.base!).assumingMemoryBound(to: Float.self) + start, count: count)
    }
    arena = floats(blocks.arena, from: 0, count: max(plan.arenaSize, 1))
    keptFlags = plan.keptFlags
    slots = plan.slots.enumerated().map { [blocks] position, value in
      let buffer = floats(blocks.slots, from: slotStarts[position], count: max(graph[value].type.elementCount, 1))
      if let tensor = store[graph[value].name], case .parameter = graph[value].op {
        _ = buffer.update(fromContentsOf: tensor.scalars)
      }
      return buffer
    }
    slotPointers = .allocate(capacity: slots.count)
    for (index, slot) in slots.enumerated() { slotPointers[index] = slot.baseAddress }
    var pool: OpaquePointer?
    if threads > 1 && kiln_pool_create(&pool, Int32(threads)) != KILN_OK { pool = nil }
    self.pool = pool
  }

  deinit {
    kiln_pool_destroy(pool)
    communicator?.release()
    kiln_arena_free(&blocks.arena)
    kiln_arena_free(&blocks.slots)
    slotPointers.deallocate()
  }

  /// Connects the graph's `allReduce` nodes (the gradient exchange of a data-parallel training
  /// step) to the other processes through `communicator`; nil leaves this process alone.
  public func setCommunicator(_ communicator: (any Communicator)?) throws {
    lock.lock()
    defer { lock.unlock() }
    if pool == nil {
      guard kiln_pool_create(&pool, 1) == KILN_OK else { throw KilnError.invalidArgument("cannot create the runtime pool for a communicator") }
    }
    let box = communicator.map { Unmanaged.passRetained(CommunicatorBox($0)) }
    var bridge = kiln_communicator(state: box?.toOpaque(), all_reduce_sum: { state, values, count in
      let communicator = Unmanaged<CommunicatorBox>.fromOpaque(state!).takeUnretainedValue().communicator
      return (try? communicator.allReduceSum(UnsafeMutableBufferPointer(start: values, count: count))) == nil ? 1 : 0
    })
    let status = box == nil ? kiln_pool_set_communicator(pool, nil) : kiln_pool_set_communicator(pool, &bridge)
    guard status == KILN_OK else { box?.release(); throw KilnError.invalidArgument("cannot give the runtime pool a communicator") }
    self.communicator?.release()
    self.communicator = box
  }

  /// Runs the compiled graph on `inputs` by input name — integer inputs (labels, token ids) as
  /// `Tensor<Int32>` in `integers`, or as whole-number floats in `inputs` — and returns the
  /// outputs (and gradients, for a differentiated graph) by name.
  public func run(_ inputs: [String: Tensor<Float>], integers: [String: Tensor<Int32>] = [:], step: UInt64 = 0) throws -> Results<Float> {
    try graph.checkIntegerFeeds(integers)
    lock.lock()
    defer { lock.unlock() }
    for (slot, value) in graph.inputs.enumerated() {
      let node = graph[value]
      if let integers = integers[node.name] {
        // Integer inputs travel as int32 bit patterns.
        for (index, integer) in integers.scalars.enumerated() { slots[slot][index] = Float(bitPattern: UInt32(bitPattern: integer)) }
        continue
      }
      guard let tensor = inputs[node.name], tensor.shape == node.type.shape else {
        throw KilnError.runtime(node: node.name, message: "expects an input of shape \(node.type) (got \(inputs[node.name].map { TensorType($0.shape).description } ?? "none"))")
      }
      if node.type.dtype == .i32 {
        for (index, scalar) in tensor.scalars.enumerated() {
          guard let integer = Int32(exactly: scalar) else {
            throw KilnError.runtime(node: node.name, message: "element \(index) is \(scalar), not a whole number in the range of Int32 (a class label or index)")
          }
          slots[slot][index] = Float(bitPattern: UInt32(bitPattern: integer))
        }
      } else {
        _ = slots[slot].update(fromContentsOf: tensor.scalars)
      }
    }
    let status = entry(arena.baseAddress, slotPointers, Int64(bitPattern: step), pool)
    guard status == 0 else {
      throw KilnError.runtime(node: graph.name, message: "compiled code failed with status \(status) (an index or label out of range)")
    }
    let firstOutput = graph.inputs.count + graph.parameters.count
    return Results(graph: graph, outputs: try graph.outputs.enumerated().map { position, value in
      try Tensor(shape: graph[value].type.shape, scalars: Array(slots[firstOutput + position].prefix(graph[value].type.elementCount)))
    })
  }

  /// The current value of parameter `name` (training graphs update them in place).
  public func parameter(_ name: String) -> Tensor<Float>? {
    lock.lock()
    defer { lock.unlock() }
    guard let value = graph.index(of: name), let slot = slotIndex(value) else { return nil }
    return try? Tensor(shape: graph[value].type.shape, scalars: Array(slots[slot].prefix(graph[value].type.elementCount)))
  }

  /// Replaces parameter `name`'s value.
  public func setParameter(_ name: String, _ tensor: Tensor<Float>) throws {
    lock.lock()
    defer { lock.unlock() }
    guard let value = graph.index(of: name), let slot = slotIndex(value), tensor.shape == graph[value].type.shape else {
      throw KilnError.invalidArgument("\(graph.name) has no parameter \(name) of shape \(TensorType(tensor.shape))")
    }
    for (index, scalar) in tensor.scalars.enumerated() { slots[slot][index] = scalar }
    for offset in keptFlags { arena[offset] = 0 }
  }

  private func slotIndex(_ value: ValueID) -> Int? {
    guard case .parameter = graph[value].op else { return nil }
    return graph.parameters.firstIndex(of: value).map { graph.inputs.count + $0 }
  }

  /// The first output for a single-input model.
  public func predict(_ input: Tensor<Float>) throws -> Tensor<Float> {
    guard let name = graph.inputs.first.map({ graph[$0].name }), let output = try run([name: input]).first else {
      throw KilnError.invalidArgument("\(graph.name) has no input or no output")
    }
    return output
  }
}

/// A Swift communicator behind the C runtime's `kiln_communicator` (its `state`).
final class CommunicatorBox {
  let communicator: any Communicator
  init(_ communicator: any Communicator) { self.communicator = communicator }
}
