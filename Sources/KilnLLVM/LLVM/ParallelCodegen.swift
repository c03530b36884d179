import CLLVM
import Foundation
import Kiln

/// Optimises modules and generates their machine code on several threads at once. LLVM allows
/// concurrent work on modules of distinct contexts, and a target machine serves one thread at a
/// time: so every module owns its context (`IRBuilder`), and every worker thread has a target
/// machine of its own. Workers take the largest remaining module first, so that one big kernel
/// does not start last. The caller holds `llvmLock`; workers take no lock.
enum ParallelCodegen {
  /// `modules` optimised (`HostTarget.pipeline`) and emitted as `fileType` (object files, or
  /// assembly text), in the order given, on up to `threads` threads; with a `cache`, objects it
  /// holds are taken from it and new ones are added. Also returns how many came from the cache.
  static func emit(
    _ modules: [IRBuilder], target: HostTarget, as fileType: LLVMCodeGenFileType, cache: KernelCache? = nil,
    threads: Int = ProcessInfo.processInfo.activeProcessorCount
  ) throws -> (code: [Data], cached: Int) {
    let workers = max(1, min(threads, modules.count))
    let machines = [target.machine] + (try (1..<workers).map { _ in try target.workerMachine() })
    defer { for machine in machines.dropFirst() { LLVMDisposeTargetMachine(machine) } }
    let sizes = modules.map(instructionCount)
    let work = Work(modules: modules, machines: machines, order: modules.indices.sorted { sizes[$0] > sizes[$1] })
    let triple = target.triple
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      while let index = work.next() {
        let key = cache.map { _ in KernelCache.key(work.modules[index], target: target) }
        if let key, let object = cache?.object(for: key) {
          work.finish(index, .success(object), cached: true)
          continue
        }
        do {
          try HostTarget.optimize(work.modules[index], triple: triple, machine: work.machines[worker])
          let code = try HostTarget.emit(work.modules[index], machine: work.machines[worker], as: fileType)
          if let key { cache?.store(code, for: key) }
          work.finish(index, .success(code), cached: false)
        } catch {
          work.finish(index, .failure(error), cached: false)
        }
      }
    }
    return (try work.results.map { try $0!.get() }, work.cached)
  }

  /// Instructions in `ir`'s module before optimisation: the measure of its compile time.
  static func instructionCount(_ ir: IRBuilder) -> Int {
    var count = 0
    var function = LLVMGetFirstFunction(ir.module)
    while let current = function {
      var block = LLVMGetFirstBasicBlock(current)
      while let currentBlock = block {
        var instruction = LLVMGetFirstInstruction(currentBlock)
        while let currentInstruction = instruction {
          count += 1
          instruction = LLVMGetNextInstruction(currentInstruction)
        }
        block = LLVMGetNextBasicBlock(currentBlock)
      }
      function = LLVMGetNextFunction(current)
    }
    return count
  }

  /// The modules, the workers' target machines, the order modules are taken in, and their
  /// results, shared by the workers.
  private final class Work: @unchecked Sendable {
    let modules: [IRBuilder]
    /// One target machine per worker.
    let machines: [LLVMTargetMachineRef]
    private let order: [Int]
    private var taken = 0
    private(set) var results: [Result<Data, any Error>?]
    /// How many results came from the cache.
    private(set) var cached = 0
    private let lock = NSLock()

    init(modules: [IRBuilder], machines: [LLVMTargetMachineRef], order: [Int]) {
      self.modules = modules
      self.machines = machines
      self.order = order
      results = Array(repeating: nil, count: modules.count)
    }

    /// The next module to compile, or nil when every one is taken.
    func next() -> Int? {
      lock.lock()
      defer { lock.unlock() }
      guard taken < order.count else { return nil }
      taken += 1
      return order[taken - 1]
    }

    func finish(_ index: Int, _ result: Result<Data, any Error>, cached: Bool) {
      lock.lock()
      defer { lock.unlock() }
      results[index] = result
      if cached { self.cached += 1 }
    }
  }
}
