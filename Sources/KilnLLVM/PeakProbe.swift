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
    let vector = ir.vectorType(lanes)
    let function = ir.function("kiln_peak", parameters: [ir.i64, ir.floatPointer], returns: ir.void, isInternal: false)
    ir.beginBody(of: function)
    func splat(_ value: Double) -> LLVMValueRef { ir.constant(value, like: ir.zeroVector(lanes)) }
    let slots = (0..<accumulators).map { index -> LLVMValueRef in
      let slot = ir.stackSlot(type: vector)
      ir.store(splat(Double(index) * 1e-3), to: slot)
      return slot
    }
    let (scale, shift) = (splat(0.999_999), splat(1e-7))
    ir.loop(from: ir.int(0), to: ir.parameter(function, 0)) { _ in
      for slot in slots {
        ir.store(ir.intrinsic("llvm.fma", [ir.load(vector, from: slot), scale, shift], type: vector), to: slot)
      }
    }
    let sum = slots.dropFirst().reduce(ir.load(vector, from: slots[0])) { ir.fadd($0, ir.load(vector, from: $1)) }
    ir.store(ir.extract(sum, lane: 0), ir.parameter(function, 1), ir.int(0))
    ir.ret()
    try ir.verify()
    try compiler.target.checkRunsHere()
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
