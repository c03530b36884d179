import CLLVM
import Kiln

/// A chain of elementwise ops in one pass (`FusedElementwiseAttrs`): a vector of every input at
/// a time (single-element inputs splat), the steps on vectors, one store — split across threads,
/// with the last partial vector masked. Each vector is loaded before it is stored, so the output
/// may be one of the inputs' buffers: an optimizer's update writes the parameter it replaces.
enum FusedElementwiseLowering {
  static func emit(_ k: Kernel, _ a: FusedElementwiseAttrs) {
    let (count, lanes) = (k.count, k.lanes)
    let full = count / lanes
    k.parallelLoop(full, work: lanes) { k, _, vector in
      emitVector(k, a, at: k.ir.mul(vector, k.ir.int(lanes)), count: nil)
    }
    if count % lanes > 0 { emitVector(k, a, at: k.ir.int(full * lanes), count: count % lanes) }
  }

  /// The chain on the `lanes` elements from `at` (only `count` of them when given).
  private static func emitVector(_ k: Kernel, _ a: FusedElementwiseAttrs, at: LLVMValueRef, count: Int?) {
    let ir = k.ir
    let inputs = zip(k.inputs, k.inputTypes).map { pointer, type in
      type.elementCount == 1 && k.count > 1
        ? ir.splat(ir.load(pointer, ir.int(0)), lanes: k.lanes) : ir.loadVector(pointer, at, lanes: k.lanes, count: count)
    }
    let result = a.evaluate(inputs, unary: { Lowering.unary(ir, $0, $1) }) { Lowering.arithmetic(ir, $0, $1, $2) }
    ir.storeVector(result, k.output, at, count: count)
  }
}
