import CLLVM
import Kiln

/// What a kernel body sees: the node, its operand pointers and the builder positioned in the
/// kernel's function. A body emits its loops and returns normally (status 0), or branches to
/// `fail(status)` for bad data (an index out of range).
struct Kernel {
  let ir: IRBuilder
  let node: Node
  let inputTypes: [TensorType]
  /// `float*` of each input, in order.
  let inputs: [LLVMValueRef]
  let output: LLVMValueRef
  /// Scratch memory, when the kernel asked for some.
  var scratch: LLVMValueRef?
  /// Memory kept between runs, when the kernel asked for some (nil inside parallel loops: capture
  /// it).
  var persistent: LLVMValueRef? = nil
  /// Whether the weights (the second input) differ on every run (see `Lowering.weightsChange`).
  var weightsChange = false
  /// The shortcut a residual connection adds to the output before the activation, when one is
  /// fused into this kernel (see `Fusion`; nil inside parallel loops: capture it).
  var residual: LLVMValueRef? = nil
  /// The run's step number (i64), which numbers dropout masks.
  let step: LLVMValueRef
  /// An activation fused into this kernel (see `Fusion`), applied to every output.
  let epilogue: UnaryFunction?
  /// The `kiln_pool *` parallel loops run on (NULL: one thread).
  let pool: LLVMValueRef
  /// The target's vector unit.
  let vectors: VectorUnit
  /// Floats in one of the target's vector registers (8 or 16).
  var lanes: Int { vectors.lanes }

  var type: TensorType { node.type }
  var count: Int { node.type.elementCount }

  /// Returns `status` from the kernel at once.
  func fail(_ status: Int) {
    ir.returnEarly(ir.int32(status))
  }

  /// The integer at `indices[row]`, after returning status 6 (an index out of range) from the
  /// kernel unless it lies in 0..<count: embedding rows and class labels.
  func checkedIndex(_ indices: LLVMValueRef, _ row: LLVMValueRef, count: Int) -> LLVMValueRef {
    let index = ir.loadInt(indices, row)
    ir.when(ir.isOutside(index, count: count)) { fail(6) }
    return index
  }

  /// `value` with the kernel's activation applied (see `Fusion`), if it has one.
  func activated(_ value: LLVMValueRef) -> LLVMValueRef {
    epilogue.map { Lowering.unary(ir, $0, value) } ?? value
  }

  /// `value`, the outputs from `start` on (`count` of its `lanes`), plus the fused shortcut's
  /// there, if any, then activated.
  func finished(_ value: LLVMValueRef, residual: LLVMValueRef?, at start: LLVMValueRef, lanes: Int, count: Int) -> LLVMValueRef {
    activated(residual.map { ir.fadd(value, ir.loadVector($0, start, lanes: lanes, count: count < lanes ? count : nil)) } ?? value)
  }

  /// `out[i] = f(i)` over every output element.
  func elementwise(_ value: (LLVMValueRef) -> LLVMValueRef) {
    ir.loop(count) { i in ir.store(value(i), output, i) }
  }

  /// `out[i] = f(kernel, i)` over every output element, split across the pool's threads; `f` must
  /// reach operands through the kernel it is given.
  func parallelElementwise(_ value: (Kernel, LLVMValueRef) -> LLVMValueRef) {
    parallelLoop(count, work: 1) { k, _, i in k.ir.store(value(k, i), k.output, i) }
  }

  /// The least work (about one multiply-add or element per unit) a loop must have to be split
  /// across threads. The pool's workers spin between loops and the caller never waits for one
  /// that is still waking (`kiln_parallel_for`), so a loop of a few microseconds already gains:
  /// two threads, Zen 4, against 2^17: DenseNet-121 31.9–32.1 → 29.6 ms, LeNet-5's training step
  /// at batch 64 2.16–2.19 → 1.99–2.02 ms, GoogLeNet 13.3 → 12.9 ms.
  static let minimumParallelWork = 1 << 15

  /// The least work of a slice (`slices(work:count:)`): each slice fills its own scratch, so
  /// slices pay off only for larger loops.
  static let minimumSliceWork = 1 << 17

  /// The most slices `slices(work:count:)` gives: enough for two to four threads, few enough that
  /// their scratch copies stay in cache on one. LeNet-5's training step at batch 64, Xeon, 1 / 2
  /// threads: unsliced 3.44–3.48 / 3.60–3.71 ms, 4 slices 3.37–3.47 / 2.37–2.43, 8 slices
  /// 3.50–3.57 / 2.47–3.40.
  static let maximumSlices = 4

  /// How many slices a loop of `count` iterations of `work` each is split into, each slice with
  /// its own scratch, when one iteration has too little work to be split itself: as many as take
  /// `minimumSliceWork` each (1: the loop stays serial). Depends on the shape alone, so every
  /// thread count runs the same slices.
  static func slices(work: Int, count: Int) -> Int {
    guard work < minimumSliceWork else { return 1 }
    return max(1, min(count, maximumSlices, (Checked.product([count, work]) ?? .max) / minimumSliceWork))
  }

  /// `body(kernel, i)` for `i` in 0..<`count`: in order here for one slice; otherwise split into
  /// `slices` contiguous runs on the pool, the kernel given to the body using its own
  /// `scratchPerSlice` floats of scratch (the slice's copy, `scratchPerSlice` floats apart).
  func forSlices(_ count: Int, slices: Int, work: Int, scratchPerSlice: Int, _ body: (Kernel, LLVMValueRef) -> Void) {
    guard slices > 1 else {
      ir.loop(count) { i in body(self, i) }
      return
    }
    parallelLoop(slices, work: work * count / slices) { k, _, slice in
      let ir = k.ir
      var sliced = k
      sliced.scratch = k.scratch.map { ir.element($0, ir.mul(slice, ir.int(scratchPerSlice))) }
      let first = ir.udiv(ir.mul(slice, ir.int(count)), ir.int(slices))
      let end = ir.udiv(ir.mul(ir.add(slice, ir.int(1)), ir.int(count)), ir.int(slices))
      ir.loop(from: first, to: end) { i in body(sliced, i) }
    }
  }

  /// `body(kernel, captured, first, rows)` for each whole block of `rows` of `count` rows on
  /// the pool (`work` per block, see `parallelLoop`), then here for the last `count % rows`.
  func forRowBlocks(
    _ count: Int, rows: Int, work: Int, capturing captured: [LLVMValueRef], _ body: (Kernel, [LLVMValueRef], LLVMValueRef, Int) -> Void
  ) {
    parallelLoop(count / rows, work: work, capturing: captured) { k, captured, block in body(k, captured, k.ir.mul(block, k.ir.int(rows)), rows) }
    if count % rows > 0 { body(self, captured, ir.int(count / rows * rows), count % rows) }
  }

  /// `for i in 0..<count { body(kernel, captured, i) }` split across the pool's threads when the
  /// loop has at least `minimumParallelWork` (`count` × `work` per iteration), else inline: the
  /// body is outlined into a task function that receives this kernel's operands (and `captured`
  /// values of the enclosing code) through a context array, and `kiln_parallel_for` runs it in
  /// pieces the pool's threads take as they become free. Iterations must write disjoint memory
  /// and not fail.
  func parallelLoop(
    _ count: Int, work: Int, capturing captured: [LLVMValueRef] = [], _ body: (Kernel, [LLVMValueRef], LLVMValueRef) -> Void
  ) {
    guard count > 0 else { return }
    guard (Checked.product([count, work]) ?? .max) >= Kernel.minimumParallelWork else {
      let serial = Kernel(
        ir: ir, node: node, inputTypes: inputTypes, inputs: inputs, output: output, scratch: scratch, step: step, epilogue: epilogue,
        pool: ir.nullBytePointer, vectors: vectors)
      ir.loop(count) { i in body(serial, captured, i) }
      return
    }
    let operands = [output] + inputs + (scratch.map { [$0] } ?? []) + [step, pool] + captured
    // Named after the kernel, so that profiles of compiled code (perf on a `.so`) say whose loop runs.
    let kernelName = ir.currentFunctionName
    let task = ir.function(kernelName + ".task", parameters: [ir.bytePointer, ir.i64, ir.i64], returns: ir.void, isInternal: true)
    let caller = ir.currentBlock

    ir.beginBody(of: task)
    let array = ir.fromBytePointer(ir.parameter(task, 0), as: ir.pointer(to: ir.bytePointer))
    var unpacked = operands.enumerated().map { index, original in
      ir.fromBytePointer(ir.load(ir.bytePointer, from: ir.element(array, ir.int(index), type: ir.bytePointer)), as: ir.typeOf(original))
    }
    var (begin, end) = (ir.parameter(task, 1), ir.parameter(task, 2))
    // Pointers loaded from the context lose the kernel's `noalias`, and with it the vectorised
    // copies of im2col and the like (LeNet-5's first weight gradient took twice as long). When
    // the body reaches memory through the kernel's operands only, it runs in a function whose
    // pointer parameters are those operands, `noalias` as the kernel's are.
    if !captured.contains(where: ir.isPointer) {
      let loop = ir.function(kernelName + ".loop", parameters: (unpacked + [begin, end]).map(ir.typeOf), returns: ir.void, isInternal: true)
      _ = ir.call(loop, unpacked + [begin, end])
      ir.ret()
      ir.beginBody(of: loop)
      unpacked = unpacked.indices.map { ir.parameter(loop, $0) }
      (begin, end) = (ir.parameter(loop, unpacked.count), ir.parameter(loop, unpacked.count + 1))
    }
    let n = inputs.count
    let afterScratch = n + 1 + (scratch == nil ? 0 : 1)
    // Loops nested in the task run inline (a NULL pool).
    let inner = Kernel(
      ir: ir, node: node, inputTypes: inputTypes, inputs: Array(unpacked[1..<(n + 1)]), output: unpacked[0],
      scratch: scratch == nil ? nil : unpacked[n + 1], step: unpacked[afterScratch], epilogue: epilogue,
      pool: ir.nullBytePointer, vectors: vectors)
    let innerCaptured = Array(unpacked.suffix(captured.count))
    ir.loop(from: begin, to: end) { i in body(inner, innerCaptured, i) }
    ir.ret()

    ir.resume(at: caller)
    let slots = ir.stackSlot(type: ir.bytePointer, count: operands.count)
    for (index, value) in operands.enumerated() {
      ir.store(ir.asBytePointer(value), to: ir.element(slots, ir.int(index), type: ir.bytePointer))
    }
    let parallelFor = ir.external(
      "kiln_parallel_for", parameters: [ir.bytePointer, ir.i64, ir.typeOf(task), ir.bytePointer], returns: ir.void)
    _ = ir.call(parallelFor, [pool, ir.int(count), task, ir.asBytePointer(slots)])
  }

  /// A constant index table of `values`, or nil when it is the identity (`values[i] == i`).
  func gatherTable(_ values: [Int]) -> LLVMValueRef? {
    values.enumerated().allSatisfy { $0.offset == $0.element } ? nil : ir.table(values)
  }

  /// `pointer[table[i]]`, or 0 where the table holds −1; `pointer[i]` without a table.
  func gathered(_ pointer: LLVMValueRef, _ table: LLVMValueRef?, _ i: LLVMValueRef) -> LLVMValueRef {
    guard let table else { return ir.load(pointer, i) }
    let index = ir.loadInt(table, i)
    let valid = ir.icmp(LLVMIntSGE, index, ir.int(0))
    let safe = ir.select(valid, index, ir.int(0))
    return ir.select(valid, ir.load(pointer, safe), ir.float(0))
  }
}
