import CLLVM
import Foundation
import Kiln
import KilnRuntime

/// An ORC LLJIT instance holding compiled code: object files linked into this process, resolving
/// symbols of the process (libopenblas, the runtime) and of each other.
final class JIT: @unchecked Sendable {
  private let jit: LLVMOrcLLJITRef

  /// Links `objects` (`ParallelCodegen`'s) and makes their functions callable.
  init(objects: [Data]) throws {
    var instance: LLVMOrcLLJITRef?
    if let error = LLVMOrcCreateLLJIT(&instance, nil) { throw KilnError.invalidGraph("cannot start the JIT: \(consume(error))") }
    guard let instance else { throw KilnError.invalidGraph("cannot start the JIT") }
    jit = instance
    var generator: LLVMOrcDefinitionGeneratorRef?
    if let error = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&generator, LLVMOrcLLJITGetGlobalPrefix(jit), nil, nil) {
      throw KilnError.invalidGraph("the JIT cannot search this process's symbols: \(consume(error))")
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), generator)
    // The runtime is linked statically into the executable, where the process search does not see
    // it: give the JIT the addresses of the functions generated code calls.
    let parallelFor: @convention(c) (OpaquePointer?, Int64, kiln_task?, UnsafeMutableRawPointer?) -> Void = kiln_parallel_for
    let sgemv: @convention(c) (
      OpaquePointer?, Int32, Int32, Int32, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void = kiln_sgemv
    let sgemm: @convention(c) (
      OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?,
      Int32
    ) -> Void = kiln_sgemm
    let allReduce: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Float>?, Int64, Float) -> kiln_status = kiln_all_reduce
    let runtime: [(name: String, address: UnsafeRawPointer)] = [
      ("kiln_parallel_for", unsafeBitCast(parallelFor, to: UnsafeRawPointer.self)), ("kiln_sgemv", unsafeBitCast(sgemv, to: UnsafeRawPointer.self)),
      ("kiln_sgemm", unsafeBitCast(sgemm, to: UnsafeRawPointer.self)), ("kiln_all_reduce", unsafeBitCast(allReduce, to: UnsafeRawPointer.self)),
    ]
    var symbols = runtime.map { name, address in
      LLVMJITCSymbolMapPair(
        Name: LLVMOrcLLJITMangleAndIntern(jit, name),
        Sym: LLVMJITEvaluatedSymbol(
          Address: LLVMOrcExecutorAddress(UInt(bitPattern: address)),
          Flags: LLVMJITSymbolFlags(GenericFlags: UInt8(LLVMJITSymbolGenericFlagsExported.rawValue), TargetFlags: 0)))
    }
    let unit = LLVMOrcAbsoluteSymbols(&symbols, symbols.count)
    if let error = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(jit), unit) {
      throw KilnError.invalidGraph("the JIT cannot define the runtime's symbols: \(consume(error))")
    }
    for object in objects {
      let buffer = object.withUnsafeBytes { bytes in
        LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, "kiln")!
      }
      if let error = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buffer) {
        throw KilnError.invalidGraph("the JIT rejected the code: \(consume(error))")
      }
    }
  }

  deinit {
    llvmLock.lock()
    defer { llvmLock.unlock() }
    _ = LLVMOrcDisposeLLJIT(jit)
  }

  /// The address of `symbol`, compiling it on first use.
  func address(of symbol: String) throws -> UInt {
    var address: LLVMOrcExecutorAddress = 0
    if let error = LLVMOrcLLJITLookup(jit, &address, symbol) {
      throw KilnError.invalidGraph("the JIT cannot find \(symbol): \(consume(error))")
    }
    return UInt(address)
  }
}
