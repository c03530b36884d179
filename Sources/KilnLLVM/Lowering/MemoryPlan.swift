import Kiln

/// Where the values of a graph live in compiled code, decided by liveness analysis.
///
/// Inputs, parameters and outputs live in caller-owned buffers ("slots", in that order). Every
/// other value gets an offset in one arena, reused once the value is dead; reshapes (and inactive
/// dropout), and slices of consecutive elements, are views of their input. A concatenation whose
/// parts are contiguous blocks of it (every axis before the joined one of size 1: DenseNet's and
/// GoogLeNet's at batch 1, the joined gradients of data-parallel training) has its parts computed
/// in place, at their offsets in its storage, which is then taken from the first part's step to
/// the last read of any of them (`placements`); its kernel copies only the parts that are not.
/// Kernels that need scratch memory (im2col) get it in the arena for the duration of their node; kernels that keep something between runs (weights they
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
  /// The value whose storage each value uses (itself unless it is a view or a placed part).
  let roots: [ValueID]
  /// Where each value starts in its root's storage, in elements (non-zero for placed parts and
  /// slices).
  let offsets: [Int]
  /// The nodes that are views of their input's storage (no kernel computes them).
  let viewNodes: Set<Int>
  /// Scratch offsets by node index.
  private(set) var scratch: [Int: Int] = [:]
  /// Offsets of the blocks kernels keep between runs, by node index.
  private(set) var persistent: [Int: Int] = [:]
  /// Planned arena size, in elements.
  private(set) var arenaSize = 0
  /// What the arena would need with no reuse: every intermediate and scratch block of its own.
  private(set) var naiveSize = 0

  /// Whether `op` only reinterprets its input's storage, whatever the shapes.
  static func isView(_ op: Op) -> Bool {
    switch op {
    case .reshape: return true
    case .dropout(let attrs): return !attrs.training || attrs.rate == 0
    case .input, .parameter, .conv, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .binary, .unary,
      .fusedElementwise, .maxout, .softmax, .reduce, .concat, .slice, .transpose, .pad, .resize, .batchNorm, .lrn, .loss,
      .allReduce, .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad,
      .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      return false
    }
  }

  /// Where `node`'s value starts in its input's storage, in elements, when it is a view of it:
  /// 0 for `isView` ops, and start × the inner size for a slice of consecutive elements (step 1,
  /// every axis before the sliced one of size 1: the gradients cut from a data-parallel
  /// exchange); nil for other nodes.
  static func viewOffset(_ node: Node, in graph: Graph) -> Int? {
    if isView(node.op) { return 0 }
    guard case .slice(let a) = node.op, a.step == 1 else { return nil }
    let shape = graph[node.inputs[0]].type.shape
    return shape[..<a.axis].allSatisfy { $0 == 1 } ? a.start * shape[(a.axis + 1)...].reduce(1, *) : nil
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
    var offsets = [Int](repeating: 0, count: graph.nodes.count)
    let inSlots = Set(slotValues)
    var viewNodes = Set<Int>()
    for (index, node) in graph.nodes.enumerated() {
      if let source = views[index] {
        roots[index] = roots[source]
        viewNodes.insert(index)
      } else if let offset = MemoryPlan.viewOffset(node, in: graph), offset == 0 || !inSlots.contains(roots[node.inputs[0].id]) {
        // Slots hold whole values: a view into one starts where it does.
        (roots[index], offsets[index]) = (roots[node.inputs[0].id], offsets[node.inputs[0].id] + offset)
        viewNodes.insert(index)
      }
    }
    self.viewNodes = viewNodes
    for (part, root, offset) in MemoryPlan.placements(graph, roots: roots, inSlots: inSlots) {
      // The part, and every view of it, moves into the concatenation's storage.
      for index in graph.nodes.indices where roots[index].id == part { (roots[index], offsets[index]) = (ValueID(root), offset + offsets[index]) }
    }
    self.roots = roots
    self.offsets = offsets
    locations = Array(repeating: nil, count: graph.nodes.count)
    for (slot, value) in slotValues.enumerated() where locations[value.id] == nil {
      // An output that is computed (not a source or a view) is written straight into its slot.
      if graph[value].op.isSource || roots[value.id] == value && slot >= graph.inputs.count + graph.parameters.count { locations[value.id] = .slot(slot) }
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
    for index in graph.nodes.indices {
      live.removeAll { $0.until < index }
      let size = scratchSize(index)
      if size > 0 { scratch[index] = allocate(size, until: index) }
      // A storage root is allocated at the first step that writes it: its own, or a placed part's.
      let root = roots[index].id
      guard locations[root] == nil, lastUse[root] >= 0 else { continue }
      guard !graph.nodes[root].op.isSource else { continue }
      locations[root] = .arena(allocate(graph.nodes[root].type.elementCount, until: max(lastUse[root], root)))
    }
    for index in graph.nodes.indices where roots[index].id != index {
      locations[index] = locations[roots[index].id].map { root in
        guard case .arena(let start) = root else { return root }
        return .arena(start + offsets[index])
      }
    }
  }

  /// The parts of concatenations computed in place, with the storage root they move into and
  /// their offset in it, in elements. A part is a value with storage of its own (or a view of
  /// one, at offset 0), computed by a kernel, not in a slot nor a training state, joined once by
  /// the concatenation. Concatenations are taken last to first, so one that is itself a part of
  /// a later one (DenseNet's chains) passes its parts on into that one's storage. The input of
  /// an all-reduce that nothing else reads is placed in its storage the same way (the joined
  /// gradients of data-parallel training, and with them every gradient).
  static func placements(_ graph: Graph, roots: [ValueID], inSlots: Set<ValueID>) -> [(part: Int, root: Int, offset: Int)] {
    let pinned = Set(graph.stateUpdates.flatMap { [$0.state.id, $0.newValue.id] })
    var placed: [Int: (root: Int, offset: Int)] = [:]
    var order: [Int] = []
    for (index, node) in graph.nodes.enumerated().reversed() {
      guard roots[index].id == index, !inSlots.contains(ValueID(placed[index]?.root ?? index)) else { continue }
      if case .allReduce = node.op {
        // It sums in place: its input is computed in its storage when nothing else reads it.
        let part = roots[node.inputs[0].id].id
        let othersRead = graph.nodes.indices.contains { $0 != index && graph.nodes[$0].inputs.contains { roots[$0.id].id == part } }
        if placed[part] == nil, !inSlots.contains(ValueID(part)), !pinned.contains(part), graph.nodes[part].type.elementCount == node.type.elementCount, !othersRead {
          placed[part] = placed[index] ?? (index, 0)
          order.append(part)
        }
        continue
      }
      guard case .concat(let a) = node.op, node.type.shape[..<a.axis].allSatisfy({ $0 == 1 }) else { continue }
      let inner = node.type.shape[(a.axis + 1)...].reduce(1, *)
      var offset = 0
      let parts = node.inputs.map { roots[$0.id].id }
      for (input, part) in zip(node.inputs, parts) {
        defer { offset += graph[input].type.shape[a.axis] * inner }
        guard !graph.nodes[part].op.isSource, placed[part] == nil, !inSlots.contains(ValueID(part)), !pinned.contains(part),
          parts.filter({ $0 == part }).count == 1, graph.nodes[part].type.elementCount == graph[input].type.elementCount
        else { continue }
        // The concatenation's own place is final: later ones were taken first.
        let outer = placed[index]
        placed[part] = (outer?.root ?? index, (outer?.offset ?? 0) + offset)
        order.append(part)
      }
    }
    return order.map { ($0, placed[$0]!.root, placed[$0]!.offset) }
  }
}
