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
  /// The run's step number (i64), which numbers dropout masks.
  let step: LLVMValueRef
  /// An activation fused into this kernel (see `Fusion`), applied to every output.
  let epilogue: UnaryFunction?

  var type: TensorType { node.type }
  var count: Int { node.type.elementCount }

  /// Returns `status` from the kernel at once.
  func fail(_ status: Int) {
    LLVMBuildRet(ir.builder, ir.int32(status))
    // Emission continues in a fresh (unreachable) block.
    LLVMPositionBuilderAtEnd(ir.builder, ir.newBlock("after.fail"))
  }

  /// `out[i] = f(i)` over every output element.
  func elementwise(_ value: (LLVMValueRef) -> LLVMValueRef) {
    ir.loop(count) { i in ir.store(value(i), output, i) }
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
