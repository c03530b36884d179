import CLLVM

/// C = A·B for products with few columns (N ≤ 8: convolutions on 2×2 maps, where A is a layer's
/// weights): each row of A is read once, in vectors of 16, against the N columns of B held
/// transposed in cache, with one vector accumulator per column. BLAS would first copy (pack)
/// all of A on every call, which for these shapes costs as much as the product itself.
enum SkinnyProduct {
  static let width = 16

  static func applies(m: Int, n: Int, k: Int) -> Bool { n <= 8 && k >= width && m * k >= 1 << 16 }

  /// Floats of scratch it needs (B transposed).
  static func scratch(n: Int, k: Int) -> Int { n * k }

  /// `c` [m, n] = `a` [m, k] · `b` [k, n], with `transposed` [n, k] as scratch.
  static func emit(_ ir: IRBuilder, a: LLVMValueRef, b: LLVMValueRef, c: LLVMValueRef, transposed: LLVMValueRef, m: Int, n: Int, k: Int) {
    ir.loop(k) { i in
      ir.loop(n) { j in ir.store(ir.load(b, ir.add(ir.mul(i, ir.int(n)), j)), transposed, ir.add(ir.mul(j, ir.int(k)), i)) }
    }
    let vector = LLVMVectorType(ir.f32, UInt32(width))!
    let vectorPointer = LLVMPointerType(vector, 0)!
    func loadVector(_ pointer: LLVMValueRef, _ index: LLVMValueRef) -> LLVMValueRef {
      let load = LLVMBuildLoad2(ir.builder, vector, LLVMBuildBitCast(ir.builder, ir.element(pointer, index), vectorPointer, "")!, "")!
      LLVMSetAlignment(load, 4)
      return load
    }
    let accumulators = ir.stackSlot(type: vector, count: n)
    let slots = (0..<n).map { ir.element(accumulators, ir.int($0), type: vector) }
    let body = k / width * width
    ir.loop(m) { row in
      let start = ir.mul(row, ir.int(k))
      for slot in slots { LLVMBuildStore(ir.builder, LLVMConstNull(vector), slot) }
      ir.loop(body / width) { block in
        let offset = ir.mul(block, ir.int(width))
        let weights = loadVector(a, ir.add(start, offset))
        for (j, slot) in slots.enumerated() {
          let column = loadVector(transposed, ir.add(ir.int(j * k), offset))
          let sum = ir.intrinsic("llvm.fmuladd", [weights, column, LLVMBuildLoad2(ir.builder, vector, slot, "")!], type: vector)
          LLVMBuildStore(ir.builder, sum, slot)
        }
      }
      for (j, slot) in slots.enumerated() {
        var sum = ir.intrinsic("llvm.vector.reduce.fadd", [ir.float(0), LLVMBuildLoad2(ir.builder, vector, slot, "")!], type: vector)
        if body < k {
          sum = Lowering.reduce(ir, count: k - body, start: sum) { t, total in
            let i = ir.add(t, ir.int(body))
            return ir.fma(ir.load(a, ir.add(start, i)), ir.load(transposed, ir.add(ir.int(j * k), i)), total)
          }
        }
        ir.store(sum, c, ir.affine(row, n, j))
      }
    }
  }
}
