import Kiln

/// Where the values of a graph live in compiled code, decided by liveness analysis.
///
/// Inputs, parameters and outputs live in caller-owned buffers ("slots", in that order). Every
/// other value gets an offset in one arena, reused once the value is dead; reshapes (and inactive
/// dropout) are views of their input. Kernels that need scratch memory (im2col) get it in the
/// arena for the duration of their node; kernels that keep something between runs (weights they
/// transform once) get a block of their own at the start of the arena, which nothing else uses.
struct MemoryPlan {
  enum Location: Hashable {
    /// The n-th caller buffer.
    case slot(Int)
    /// An offset, in 4-byte elements, into the arena.
    case arena(Int)
  }

  /// Alignment of arena blocks, in elements (64 bytes).
  static let alignment = 16

  let slotValues: [ValueID]
  /// The storage of each value (views share their source's); nil for values nothing reads.
  private(set) var locations: [Location?]
  /// The value whose storage each value uses (itself unless it is a view).
  let roots: [ValueID]
  /// Scratch offsets by node index.
  private(set) var scratch: [Int: Int] = [:]
  /// Offsets of the blocks kernels keep between runs, by node index.
  private(set) var persistent: [Int: Int] = [:]
  /// Planned arena size, in elements.
  private(set) var arenaSize = 0
  /// What the arena would need with no reuse: every intermediate and scratch block of its own.
  private(set) var naiveSize = 0

  /// Whether `op` only reinterprets its input's storage.
  static func isView(_ op: Op) -> Bool {
    switch op {
    case .reshape: return true
    case .dropout(let attrs): return !attrs.training || attrs.rate == 0
    default: return false
    }
  }

  /// Whether `update`'s new value can be computed straight into its state's slot: the state's
  /// storage is its own and the last node to read it is the one computing the new value, which
  /// is its own storage too and, if it reads the state, an elementwise op (each element is read
  /// before it is written).
  static func writesOver(_ update: StateUpdate, _ graph: Graph, roots: [ValueID], locations: [Location?], lastUse: [Int]) -> Bool {
    let (state, new) = (update.state.id, update.newValue.id)
    guard roots[state].id == state, roots[new].id == new, locations[new] == nil, case .slot = locations[state], lastUse[state] <= new,
      graph.stateUpdates.filter({ roots[$0.newValue.id].id == state || $0.state.id == state }).count == 1
    else { return false }
    let node = graph.nodes[new]
    guard node.inputs.contains(where: { roots[$0.id].id == state }) else { return true }
    switch node.op {
    case .unary, .binary, .fusedElementwise: return true
    case .input, .parameter, .conv, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .maxout, .softmax, .reduce,
      .concat, .slice, .reshape, .transpose, .pad, .resize, .batchNorm, .lrn, .dropout, .loss, .allReduce, .convInputGrad,
      .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad, .resizeGrad,
      .batchNormGrad, .lrnGrad, .lossGrad:
      return false
    }
  }

  /// `views` maps further view nodes (fused activations) to the node whose storage they share.
  init(_ graph: Graph, views: [Int: Int] = [:], scratchSize: (Int) -> Int, persistentSize: (Int) -> Int = { _ in 0 }) {
    let outputs = graph.outputs
    slotValues = graph.inputs + graph.parameters + outputs
    var roots = graph.nodes.indices.map(ValueID.init)
    for (index, node) in graph.nodes.enumerated() {
      if let source = views[index] {
        roots[index] = roots[source]
      } else if MemoryPlan.isView(node.op) {
        roots[index] = roots[node.inputs[0].id]
      }
    }
    self.roots = roots
    locations = Array(repeating: nil, count: graph.nodes.count)
    for (slot, value) in slotValues.enumerated() where locations[value.id] == nil {
      // An output that is computed (not a source or a view) is written straight into its slot.
      switch graph[value].op {
      case .input, .parameter: locations[value.id] = .slot(slot)
      default: if roots[value.id] == value && slot >= graph.inputs.count + graph.parameters.count { locations[value.id] = .slot(slot) }
      }
    }
    // The last node that reads each storage root (outputs stay alive to the end).
    var lastUse = [Int](repeating: -1, count: graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
      for input in node.inputs { lastUse[roots[input.id].id] = max(lastUse[roots[input.id].id], index) }
    }
    for output in outputs + graph.stateUpdates.map(\.newValue) { lastUse[roots[output.id].id] = graph.nodes.count }
    // A training update is written over the state it replaces when nothing reads that state
    // after it, instead of being copied there at the end of the run.
    for update in graph.stateUpdates where MemoryPlan.writesOver(update, graph, roots: roots, locations: locations, lastUse: lastUse) {
      locations[update.newValue.id] = locations[update.state.id]
    }

    var live: [(offset: Int, size: Int, until: Int)] = []
    func allocate(_ size: Int, until: Int) -> Int {
      let rounded = (size + MemoryPlan.alignment - 1) / MemoryPlan.alignment * MemoryPlan.alignment
      naiveSize += rounded
      var offset = 0
      for block in live.sorted(by: { $0.offset < $1.offset }) {
        if block.offset - offset >= rounded { break }
        offset = max(offset, block.offset + block.size)
      }
      live.append((offset, rounded, until))
      arenaSize = max(arenaSize, offset + rounded)
      return offset
    }
    for index in graph.nodes.indices {
      let size = persistentSize(index)
      if size > 0 { persistent[index] = allocate(size, until: Int.max) }
    }
    for (index, node) in graph.nodes.enumerated() {
      live.removeAll { $0.until < index }
      let size = scratchSize(index)
      if size > 0 { scratch[index] = allocate(size, until: index) }
      guard locations[index] == nil, roots[index].id == index, lastUse[index] >= 0 else { continue }
      switch node.op {
      case .input, .parameter: continue
      default: locations[index] = .arena(allocate(node.type.elementCount, until: max(lastUse[index], index)))
      }
    }
    for index in graph.nodes.indices where roots[index].id != index {
      locations[index] = locations[roots[index].id]
    }
  }
}
