import CLLVM
import Foundation
import Kiln

/// Measures this machine's single-thread fp32 peak: a JIT-compiled loop of independent vector
/// FMAs (12 accumulators, so latency is hidden), timed on the spot.
enum PeakProbe {
  /// GFLOPS of the best of a few runs.
  static func measure(_ compiler: Compiler) throws -> Double {
    let lanes = compiler.target.vectorLanes
    let accumulators = 12
    // Held through the timing too, so no compilation competes for the core.
    llvmLock.lock()
    defer { llvmLock.unlock() }
    let ir = IRBuilder(name: "peak")
    let vector = LLVMVectorType(ir.f32, UInt32(lanes))!
    let function = ir.function("kiln_peak", parameters: [ir.i64, ir.floatPointer], returns: ir.void, isInternal: false)
    ir.beginBody(of: function)
    func splat(_ value: Double) -> LLVMValueRef {
      var elements = [LLVMValueRef?](repeating: ir.float(value), count: lanes)
      return LLVMConstVector(&elements, UInt32(lanes))
    }
    let slots = (0..<accumulators).map { index -> LLVMValueRef in
      let slot = LLVMBuildAlloca(ir.builder, vector, "acc")!
      LLVMBuildStore(ir.builder, splat(Double(index) * 1e-3), slot)
      return slot
    }
    let (scale, shift) = (splat(0.999_999), splat(1e-7))
    ir.loop(from: ir.int(0), to: LLVMGetParam(function, 0)) { _ in
      for slot in slots {
        let value = LLVMBuildLoad2(ir.builder, vector, slot, "")!
        LLVMBuildStore(ir.builder, ir.intrinsic("llvm.fma", [value, scale, shift], type: vector), slot)
      }
    }
    var sum = LLVMBuildLoad2(ir.builder, vector, slots[0], "")!
    for slot in slots.dropFirst() { sum = LLVMBuildFAdd(ir.builder, sum, LLVMBuildLoad2(ir.builder, vector, slot, "")!, "")! }
    ir.store(LLVMBuildExtractElement(ir.builder, sum, ir.int(0), "")!, LLVMGetParam(function, 1), ir.int(0))
    LLVMBuildRetVoid(ir.builder)
    try ir.verify()
    let jit = try JIT(objects: ParallelCodegen.emit([ir], target: compiler.target, as: LLVMObjectFile).code)
    typealias Peak = @convention(c) (Int64, UnsafeMutablePointer<Float>) -> Void
    let peak = unsafeBitCast(try jit.address(of: "kiln_peak"), to: Peak.self)
    var sink: Float = 0
    let iterations = 20_000_000
    var best = Double.infinity
    for _ in 0..<3 {
      let start = DispatchTime.now().uptimeNanoseconds
      peak(Int64(iterations), &sink)
      best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    return Double(iterations * accumulators * lanes * 2) / best / 1e9
  }
}
