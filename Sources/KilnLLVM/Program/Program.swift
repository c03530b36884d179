import Kiln

/// The buffer-level IR between a graph and LLVM: where every value lives (a caller's slot or an
/// arena offset), which kernel function each node calls with which operands, scratch and kept
/// memory, in what order, and the copies that finish a run. Fusion, kernel sharing and memory
/// planning produce it; the LLVM emitter only translates it; the JIT, the `.so` and `kiln bench`
/// all read it. `verify()` checks it and `text` prints it (`kiln dump --program`).
struct Program {
  typealias Location = MemoryPlan.Location

  /// The code one or more steps call: nodes computing the same thing on the same shapes (a
  /// ResNet stage's repeated blocks) share one function.
  struct Function: Hashable {
    let op: Op
    let inputTypes: [TensorType]
    let type: TensorType
    /// An activation applied as the output is written (see `Fusion`).
    let epilogue: UnaryFunction?
    let scratch: Bool
    let persistent: Bool
    /// Whether its weights differ on every run (see `Lowering.weightsChange`).
    let weightsChange: Bool
    /// Whether it adds a residual connection's shortcut to its output (see `Fusion`).
    let residual: Bool
    /// The node the function's code is generated from.
    var node: Int

    /// How a convolution's code computes it on `vectors` (nil: the function is no convolution).
    func convolutionAlgorithm(_ vectors: VectorUnit) -> ConvolutionLowering.Algorithm? {
      guard case .conv(let a) = op else { return nil }
      return ConvolutionLowering.Algorithm(
        a, x: inputTypes[0].shape, weight: inputTypes[1].shape, output: type.shape, vectors: vectors, weightsChange: weightsChange)
    }
  }

  /// One kernel call: node `node`'s function on its operands.
  struct Step {
    let node: Int
    let function: Int
    let output: Location
    let inputs: [Location]
    /// Arena offsets of the step's scratch (for the call only) and of the memory its kernel
    /// keeps between runs.
    let scratch: Int?
    let persistent: Int?
    /// The shortcut a residual connection adds to the output (see `Fusion`).
    let residual: Operand?
  }

  /// A value a step reads and where it lives.
  struct Operand {
    let value: ValueID
    let location: Location
  }

  /// A copy after every step: an output that is a view or a source into its slot, or a training
  /// update into the state it replaces.
  struct Copy: Equatable {
    let from: Location
    let to: Location
    let count: Int
  }

  let graph: Graph
  /// The values behind the caller's slots: inputs, parameters, outputs.
  let slots: [ValueID]
  /// Functions, steps and copies (passes may rewrite them; `verify()` checks the result).
  var functions: [Function]
  var steps: [Step]
  var copies: [Copy]
  /// Arena elements, planned and without reuse.
  let arenaSize: Int
  let naiveSize: Int
  /// The vector unit of the target the kernels are planned for.
  let vectors: VectorUnit
  /// The value whose storage each value uses (itself unless it is a view or a placed part).
  let roots: [ValueID]
  /// Where each value starts in its root's storage, in elements (`MemoryPlan.offsets`).
  let offsets: [Int]

  /// Plans `original`, with average pooling moved before the pointwise convolutions it follows
  /// (`Graph.poolingBeforePointwise`) and its elementwise chains fused (`Graph.fusingElementwise`),
  /// for a target with the vector unit `vectors`.
  init(_ original: Graph, vectors: VectorUnit) throws {
    let graph = try original.poolingBeforePointwise().fusingElementwise()
    try graph.verify()
    self.graph = graph
    let fusion = Fusion(graph) { Lowering.takesResidual(graph.nodes[$0], graph, vectors: vectors) }
    let plan = MemoryPlan(
      graph, views: fusion.views, scratchSize: { Lowering.scratchSize(graph.nodes[$0], graph, vectors: vectors) },
      persistentSize: { Lowering.persistentSize(graph.nodes[$0], graph, vectors: vectors) })
    self.vectors = vectors
    roots = plan.roots
    offsets = plan.offsets
    slots = plan.slotValues
    arenaSize = plan.arenaSize
    naiveSize = plan.naiveSize
    var functions: [Function] = []
    var shared: [Function: Int] = [:]
    var steps: [Step] = []
    for (index, node) in graph.nodes.enumerated() {
      if node.op.isSource { continue }
      // Views need no kernel: outputs among them are copied into their slots at the end.
      if fusion.views[index] != nil || (plan.viewNodes.contains(index) && !graph.outputs.contains(ValueID(index))) { continue }
      guard let output = plan.locations[index] else { continue }
      let function = Function(
        op: node.op, inputTypes: node.inputs.map { graph[$0].type }, type: node.type, epilogue: fusion.epilogues[index],
        scratch: plan.scratch[index] != nil, persistent: plan.persistent[index] != nil, weightsChange: Lowering.weightsChange(node, graph),
        residual: fusion.residuals[index] != nil, node: 0)
      let number = shared[function] ?? functions.count
      if number == functions.count {
        var first = function
        first.node = index
        functions.append(first)
        shared[function] = number
      }
      steps.append(Step(
        node: index, function: number, output: output, inputs: node.inputs.compactMap { plan.locations[$0.id] }, scratch: plan.scratch[index],
        persistent: plan.persistent[index],
        residual: fusion.residuals[index].flatMap { value in plan.locations[value.id].map { Operand(value: value, location: $0) } }))
    }
    self.functions = functions
    self.steps = steps
    var copies: [Copy] = []
    let firstOutputSlot = graph.inputs.count + graph.parameters.count
    for (position, output) in graph.outputs.enumerated() {
      if let location = plan.locations[output.id], location != .slot(firstOutputSlot + position) {
        copies.append(Copy(from: location, to: .slot(firstOutputSlot + position), count: graph[output].type.elementCount))
      }
    }
    // A training graph's updates replace the parameters in their slots, after every kernel ran.
    for update in graph.stateUpdates {
      if let from = plan.locations[update.newValue.id], let to = plan.locations[update.state.id], from != to {
        copies.append(Copy(from: from, to: to, count: graph[update.state].type.elementCount))
      }
    }
    self.copies = copies
  }

  /// Arena offsets of the floats that say each step's kept memory is current (its first float,
  /// nonzero once the kernel has derived it from the weights: Winograd's U). Whoever writes
  /// parameters clears them all, so that the kernels derive their memory again on the next run;
  /// weights that change on every run are derived on every run and need no flag.
  var keptFlags: [Int] { steps.compactMap(\.persistent) }

  /// Checks what the emitter relies on: every step calls a function of its own signature with
  /// one location per input, slots exist, arena blocks lie inside the arena, and no two blocks
  /// in use at the same time overlap — values from the step that writes them to the last that
  /// reads them (to the end for outputs and updates), scratch during its step, kept memory always.
  func verify() throws {
    func fail(_ message: String) -> KilnError { KilnError.invalidGraph("program \(graph.name): \(message)") }
    var blocks: [(name: String, start: Int, size: Int, from: Int, until: Int)] = []
    // Values in the arena, by storage root: where the root starts, how big it is, and the steps
    // that first write and last read it (parts placed in a concatenation write it first).
    var values: [ValueID: (location: Location, size: Int, from: Int)] = [:]
    func rootStart(_ location: Location, of value: Int) -> Location? {
      guard case .arena(let at) = location else { return nil }
      return .arena(at - offsets[value])
    }
    var lastRead: [ValueID: Int] = [:]
    func check(_ location: Location, _ what: String) throws {
      switch location {
      case .slot(let slot): guard slots.indices.contains(slot) else { throw fail("\(what) uses slot \(slot) of \(slots.count)") }
      case .arena(let offset): guard offset >= 0 && offset <= arenaSize else { throw fail("\(what) starts outside the arena at \(offset)") }
      }
    }
    for (position, step) in steps.enumerated() {
      let node = graph.nodes[step.node]
      let function = functions[step.function]
      guard function.op == node.op, function.type == node.type, function.inputTypes == node.inputs.map({ graph[$0].type }),
        step.inputs.count == node.inputs.count, function.scratch == (step.scratch != nil), function.persistent == (step.persistent != nil),
        function.residual == (step.residual != nil)
      else { throw fail("step \(position) (\(node.name)) calls function \(step.function), which does not fit it") }
      try check(step.output, node.name)
      for (input, location) in zip(node.inputs, step.inputs).map({ ($0, $1) }) + (step.residual.map { [($0.value, $0.location)] } ?? []) {
        try check(location, node.name)
        guard let start = rootStart(location, of: input.id) else { continue }
        let root = roots[input.id]
        guard let value = values[root], value.location == start else { throw fail("\(node.name) reads \(graph[input].name) before it is written") }
        lastRead[root] = position
      }
      let root = roots[step.node]
      if let start = rootStart(step.output, of: step.node) {
        if let value = values[root], value.location != start { throw fail("\(node.name) writes outside the storage of \(graph[root].name)") }
        if values[root] == nil { values[root] = (start, graph[root].type.elementCount, position) }
      }
      if let offset = step.scratch { blocks.append(("\(node.name)'s scratch", offset, Lowering.scratchSize(node, graph, vectors: vectors), position, position)) }
      if let offset = step.persistent { blocks.append(("\(node.name)'s kept memory", offset, Lowering.persistentSize(node, graph, vectors: vectors), 0, steps.count)) }
    }
    for copy in copies {
      try check(copy.from, "a copy")
      try check(copy.to, "a copy")
    }
    for value in graph.outputs + graph.stateUpdates.map(\.newValue) { lastRead[roots[value.id]] = steps.count }
    for (root, value) in values {
      guard case .arena(let start) = value.location else { continue }
      blocks.append((graph[root].name, start, value.size, value.from, lastRead[root] ?? value.from))
    }
    for (i, a) in blocks.enumerated() {
      guard a.start + a.size <= arenaSize else { throw fail("\(a.name) ends at \(a.start + a.size), past the arena's \(arenaSize)") }
      for b in blocks[(i + 1)...] where a.from <= b.until && b.from <= a.until && a.start < b.start + b.size && b.start < a.start + a.size {
        throw fail("\(a.name) and \(b.name) overlap in the arena while both are in use")
      }
    }
  }

  /// One line per slot, function, step and copy.
  var text: String {
    func describe(_ location: Location) -> String {
      switch location {
      case .slot(let slot): return "slot \(slot)"
      case .arena(let offset): return "arena+\(offset)"
      }
    }
    var lines = ["program \(graph.name) {", "  arena \(arenaSize) floats (\(naiveSize) without reuse)"]
    for (slot, value) in slots.enumerated() { lines.append("  slot \(slot) = %\(value.id) \(graph[value].name) : \(graph[value].type)") }
    for (number, function) in functions.enumerated() {
      let extras = [
        function.residual ? "residual" : nil, function.epilogue.map { "epilogue \($0.text)" }, function.scratch ? "scratch" : nil, function.persistent ? "kept" : nil,
      ].compactMap { $0 }
      lines.append("  f\(number) = \(function.op.mnemonic)(\(function.inputTypes.map(\.description).joined(separator: ", "))) : \(function.type)"
        + (function.convolutionAlgorithm(vectors).map { " by \($0.text)" } ?? "") + (extras.isEmpty ? "" : " with \(extras.joined(separator: ", "))"))
    }
    for step in steps {
      let extras = [step.residual.map { "adding \(describe($0.location))" }, step.scratch.map { "scratch arena+\($0)" }, step.persistent.map { "kept arena+\($0)" }]
        .compactMap { $0 }
      lines.append("  \(describe(step.output)) = f\(step.function)(\(step.inputs.map(describe).joined(separator: ", ")))"
        + (extras.isEmpty ? "" : " \(extras.joined(separator: ", "))") + "  # %\(step.node) \(graph.nodes[step.node].name)")
    }
    for copy in copies { lines.append("  \(describe(copy.to)) = copy(\(describe(copy.from)), \(copy.count))") }
    return (lines + ["}"]).joined(separator: "\n") + "\n"
  }
}
