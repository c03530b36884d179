import CLLVM
import Foundation
import Kiln

/// LLVM's global state (target registration) and its target machines are not safe to use from
/// several threads at once: every piece of LLVM work in Kiln holds this lock (recursive, since a
/// failed compilation disposes of LLVM objects while holding it).
let llvmLock = NSRecursiveLock()

/// Registers the native target once.
private let nativeTargetRegistered: Void = cllvm_init_native()

/// The machine Kiln compiles for: the host's triple, CPU name and — what matters on CPUs newer
/// than LLVM 14, which may name them "generic" — its full feature string (AVX-512, FMA, …).
final class HostTarget: @unchecked Sendable {
  let machine: LLVMTargetMachineRef
  let triple: String
  let cpu: String
  let features: String
  /// Whether the CPU has AVX-512 (the host's, or a named one's as LLVM knows it).
  let hasAVX512: Bool
  /// Whether code for it runs on this machine: a named CPU with AVX-512 needs a host with it
  /// (Kiln's kernels use no other feature such a CPU may add).
  private let runsHere: Bool

  /// The host target machine — or, with `cpu`, that CPU model (e.g. "x86-64-v3" for AVX2
  /// machines and tools without AVX-512, such as valgrind) — at optimisation level 3,
  /// position-independent (for `.so` files).
  init(cpu requestedCPU: String? = nil) throws {
    llvmLock.lock()
    defer { llvmLock.unlock() }
    _ = nativeTargetRegistered
    let tripleText = LLVMGetDefaultTargetTriple()
    let cpuText = LLVMGetHostCPUName()
    let featureText = LLVMGetHostCPUFeatures()
    defer {
      LLVMDisposeMessage(tripleText)
      LLVMDisposeMessage(cpuText)
      LLVMDisposeMessage(featureText)
    }
    triple = tripleText.map { String(cString: $0) } ?? ""
    // A named CPU brings its own features; the host's name alone may say "generic" on CPUs newer
    // than LLVM 14, so the host's feature string comes with it.
    cpu = requestedCPU ?? cpuText.map { String(cString: $0) } ?? "generic"
    features = requestedCPU == nil ? featureText.map { String(cString: $0) } ?? "" : ""
    guard requestedCPU == nil || cllvm_knows_cpu(triple, cpu) != 0 else {
      throw KilnError.invalidArgument(
        "LLVM 14 does not know the CPU \"\(cpu)\": name one it does, such as x86-64-v3 (AVX2), x86-64-v4 (AVX-512), znver3, skylake-avx512 or icelake-server")
    }
    let machine = try Self.machine(triple: triple, cpu: cpu, features: features)
    self.machine = machine
    hasAVX512 = cllvm_target_machine_has_feature(machine, "avx512f") != 0
    runsHere = requestedCPU == nil || !hasAVX512 || featureText.map { String(cString: $0).contains("+avx512f") } ?? false
  }

  /// A target machine for `cpu` with `features` at optimisation level 3, position-independent.
  /// The caller disposes of it.
  private static func machine(triple: String, cpu: String, features: String) throws -> LLVMTargetMachineRef {
    var target: LLVMTargetRef?
    var message: UnsafeMutablePointer<CChar>?
    guard LLVMGetTargetFromTriple(triple, &target, &message) == 0, let target else {
      defer { LLVMDisposeMessage(message) }
      throw KilnError.invalidArgument("LLVM has no target for \(triple): \(message.map { String(cString: $0) } ?? "")")
    }
    guard let machine = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault) else {
      throw KilnError.invalidArgument("LLVM cannot create a target machine for \(cpu) (\(triple))")
    }
    return machine
  }

  deinit {
    llvmLock.lock()
    defer { llvmLock.unlock() }
    LLVMDisposeTargetMachine(machine)
  }

  /// Floats in one vector register: 16 with AVX-512, else 8 (AVX2).
  var vectorLanes: Int { hasAVX512 ? 16 : 8 }
  /// The vector unit kernels are planned for: the host's own (a Zen 4 splits its 512-bit
  /// vectors), or a named CPU's full-width one.
  var vectorUnit: VectorUnit { VectorUnit(lanes: vectorLanes, halfWidth: isHost && hasAVX512 && VectorUnit.hostSplitsWideVectors) }
  /// Whether this is the machine's own CPU rather than one named for code that runs elsewhere.
  var isHost: Bool { features != "" }
  /// Throws unless code for this target runs on this machine (the JIT runs it here).
  func checkRunsHere() throws {
    guard runsHere else {
      throw KilnError.invalidArgument(
        "code for \(cpu) uses AVX-512, which this machine's CPU lacks: to run it here, name a CPU without AVX-512 (e.g. x86-64-v3) or none")
    }
  }

  /// Another target machine like `machine`, for a thread of `ParallelCodegen` (a target machine
  /// serves one thread at a time). The caller disposes of it.
  func workerMachine() throws -> LLVMTargetMachineRef { try Self.machine(triple: triple, cpu: cpu, features: features) }

  /// The optimisation passes every module gets: the part of LLVM's O3 pipeline that Kiln's
  /// kernels need. They arrive vectorised, register-blocked and with their loops laid out, so
  /// what they need is promotion to registers, inlining of a task's loop, instruction combining
  /// and value numbering, hoisting of invariants, full unrolling of constant loops, loop idioms
  /// (memcpy/memset), and the loop vectoriser for the few kernels written as scalar loops (unary,
  /// binary and reduction ops standing alone). The rest of O3 is for scalar source: the SLP
  /// vectoriser, loop distribution, loop-load elimination, induction-variable rewriting,
  /// runtime unrolling, dead-store elimination and the second rounds of propagation found nothing
  /// to improve, yet were three quarters of O3's time on a Winograd module (LoopAccessAnalysis,
  /// ScalarEvolution), and the unrolled loops they left tripled code generation's.
  static let pipeline = [
    "cgscc(inline,function(sroa,early-cse<memssa>,simplifycfg,instcombine,reassociate,"
      + "loop-mssa(loop-instsimplify,loop-simplifycfg,licm,loop-rotate,licm,simple-loop-unswitch<nontrivial;trivial>),simplifycfg,instcombine,"
      + "loop(loop-idiom,loop-deletion,loop-unroll-full),sroa,gvn,instcombine,memcpyopt,loop-mssa(licm),simplifycfg))",
    "globaldce",
    "function(loop(loop-rotate,loop-deletion),loop-vectorize,instcombine,simplifycfg,loop-mssa(licm),simplifycfg)",
  ].joined(separator: ",")

  /// Sets the module's triple and data layout and runs `pipeline` on it, with `machine`.
  static func optimize(_ ir: IRBuilder, triple: String, machine: LLVMTargetMachineRef) throws {
    LLVMSetTarget(ir.module, triple)
    let layout = LLVMCreateTargetDataLayout(machine)
    LLVMSetModuleDataLayout(ir.module, layout)
    LLVMDisposeTargetData(layout)
    let options = LLVMCreatePassBuilderOptions()
    defer { LLVMDisposePassBuilderOptions(options) }
    if let error = LLVMRunPasses(ir.module, pipeline, machine, options) {
      throw KilnError.invalidGraph("LLVM optimisation failed: \(consume(error))")
    }
  }

  /// The module's machine code as an object file or as assembly text, from `machine`.
  static func emit(_ ir: IRBuilder, machine: LLVMTargetMachineRef, as fileType: LLVMCodeGenFileType) throws -> Data {
    var message: UnsafeMutablePointer<CChar>?
    var buffer: LLVMMemoryBufferRef?
    guard LLVMTargetMachineEmitToMemoryBuffer(machine, ir.module, fileType, &message, &buffer) == 0, let buffer else {
      defer { LLVMDisposeMessage(message) }
      throw KilnError.invalidGraph("LLVM could not generate code: \(message.map { String(cString: $0) } ?? "")")
    }
    defer { LLVMDisposeMemoryBuffer(buffer) }
    return Data(bytes: LLVMGetBufferStart(buffer), count: LLVMGetBufferSize(buffer))
  }
}

/// The message of an LLVM error, which is consumed.
func consume(_ error: LLVMErrorRef) -> String {
  let message = LLVMGetErrorMessage(error)
  defer { LLVMDisposeErrorMessage(message) }
  return message.map { String(cString: $0) } ?? "unknown LLVM error"
}
