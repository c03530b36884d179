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
  let scratch: LLVMValueRef?
  /// Memory kept between runs, when the kernel asked for some (nil inside parallel loops: capture
  /// it).
  var persistent: LLVMValueRef? = nil
  /// Whether the weights (the second input) differ on every run (see `Lowering.weightsChange`).
  var weightsChange = false
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
    LLVMBuildRet(ir.builder, ir.int32(status))
    // Emission continues in a fresh (unreachable) block.
    LLVMPositionBuilderAtEnd(ir.builder, ir.newBlock("after.fail"))
  }

  /// `value` with the kernel's activation applied (see `Fusion`), if it has one.
  func activated(_ value: LLVMValueRef) -> LLVMValueRef {
    epilogue.map { Lowering.unary(ir, $0, value) } ?? value
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
  /// across threads: waking a worker costs some tens of microseconds, and a busy core longer, so
  /// a smaller loop runs faster on one thread.
  static let minimumParallelWork = 1 << 17

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
  /// the same chunks for any thread count. Iterations must write disjoint memory and not fail.
  func parallelLoop(
    _ count: Int, work: Int, capturing captured: [LLVMValueRef] = [], _ body: (Kernel, [LLVMValueRef], LLVMValueRef) -> Void
  ) {
    guard count > 0 else { return }
    guard (Checked.product([count, work]) ?? .max) >= Kernel.minimumParallelWork else {
      let serial = Kernel(
        ir: ir, node: node, inputTypes: inputTypes, inputs: inputs, output: output, scratch: scratch, step: step, epilogue: epilogue,
        pool: LLVMConstPointerNull(ir.bytePointer), vectors: vectors)
      ir.loop(count) { i in body(serial, captured, i) }
      return
    }
    let operands = [output] + inputs + (scratch.map { [$0] } ?? []) + [step, pool] + captured
    let task = ir.function("task", parameters: [ir.bytePointer, ir.i64, ir.i64], returns: ir.void, isInternal: true)
    let caller = LLVMGetInsertBlock(ir.builder)!

    ir.beginBody(of: task)
    let array = LLVMBuildBitCast(ir.builder, LLVMGetParam(task, 0), LLVMPointerType(ir.bytePointer, 0), "")!
    let unpacked = operands.enumerated().map { index, original -> LLVMValueRef in
      let raw = LLVMBuildLoad2(ir.builder, ir.bytePointer, ir.element(array, ir.int(index), type: ir.bytePointer), "")!
      let type = LLVMTypeOf(original)!
      return LLVMGetTypeKind(type) == LLVMPointerTypeKind ? LLVMBuildBitCast(ir.builder, raw, type, "")! : LLVMBuildPtrToInt(ir.builder, raw, type, "")!
    }
    let n = inputs.count
    let afterScratch = n + 1 + (scratch == nil ? 0 : 1)
    // Loops nested in the task run inline (a NULL pool).
    let inner = Kernel(
      ir: ir, node: node, inputTypes: inputTypes, inputs: Array(unpacked[1..<(n + 1)]), output: unpacked[0],
      scratch: scratch == nil ? nil : unpacked[n + 1], step: unpacked[afterScratch], epilogue: epilogue,
      pool: LLVMConstPointerNull(ir.bytePointer), vectors: vectors)
    let innerCaptured = Array(unpacked.suffix(captured.count))
    ir.loop(from: LLVMGetParam(task, 1), to: LLVMGetParam(task, 2)) { i in body(inner, innerCaptured, i) }
    LLVMBuildRetVoid(ir.builder)

    LLVMPositionBuilderAtEnd(ir.builder, caller)
    let slots = ir.stackSlot(type: ir.bytePointer, count: operands.count)
    for (index, value) in operands.enumerated() {
      let type = LLVMTypeOf(value)!
      let raw = LLVMGetTypeKind(type) == LLVMPointerTypeKind
        ? LLVMBuildBitCast(ir.builder, value, ir.bytePointer, "")! : LLVMBuildIntToPtr(ir.builder, value, ir.bytePointer, "")!
      LLVMBuildStore(ir.builder, raw, ir.element(slots, ir.int(index), type: ir.bytePointer))
    }
    let parallelFor = ir.external(
      "kiln_parallel_for", parameters: [ir.bytePointer, ir.i64, LLVMTypeOf(task)!, ir.bytePointer], returns: ir.void)
    _ = ir.call(parallelFor, [pool, ir.int(count), task, LLVMBuildBitCast(ir.builder, slots, ir.bytePointer, "")!])
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
