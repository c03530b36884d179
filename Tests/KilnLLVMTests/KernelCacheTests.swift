import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// The kernel cache: a second compilation takes every module from it and runs the same, damaged
/// entries are recompiled and replaced, other targets do not share entries, and the environment
/// chooses the directory or switches it off.
struct KernelCacheTests {
  let model = Result { try Model(graph: Zoo.lenet5(input: [2, 1, 32, 32]), seed: 3) }

  @Test func secondCompilationTakesEveryModuleFromTheCache() throws {
    let cache = KernelCache(directory: try temporaryDirectory("kernel-cache"))
    defer { try? FileManager.default.removeItem(atPath: cache.directory) }
    let model = try self.model.get()
    let input = try EquivalenceTests().randomTensor([2, 1, 32, 32], seed: 5)
    let expected = try model.run(["input": input])[0]

    let first = try Compiler(vectorLanes: 8, cache: cache).compile(model)
    #expect(first.modules > 1 && first.cachedModules == 0)
    let entries = try FileManager.default.contentsOfDirectory(atPath: cache.directory).sorted()
    #expect(entries.count == first.modules && entries.allSatisfy { $0.hasSuffix(".o") })
    let second = try Compiler(vectorLanes: 8, cache: cache).compile(model)
    #expect(second.modules == first.modules && second.cachedModules == first.modules)
    let (a, b) = (try first.run(["input": input])[0], try second.run(["input": input])[0])
    #expect(a.scalars == b.scalars)
    #expect(relativeDifference(expected, b) < 1e-5)

    // Damage two entries (a flipped byte at the end, a truncation): both are compiled again,
    // the code still runs right, and they are replaced.
    let flipped = cache.directory + "/" + entries[0]
    var bytes = try Data(contentsOf: URL(fileURLWithPath: flipped))
    bytes[bytes.count - 1] ^= 0xff
    try bytes.write(to: URL(fileURLWithPath: flipped))
    let truncated = cache.directory + "/" + entries[1]
    try Data(try Data(contentsOf: URL(fileURLWithPath: truncated)).prefix(100)).write(to: URL(fileURLWithPath: truncated))
    let third = try Compiler(vectorLanes: 8, cache: cache).compile(model)
    #expect(third.cachedModules == first.modules - 2)
    #expect(try third.run(["input": input])[0].scalars == a.scalars)
    #expect(try Compiler(vectorLanes: 8, cache: cache).compile(model).cachedModules == first.modules)

    // Code for another CPU is another entry.
    let generic = try Compiler(targetCPU: "x86-64-v3", vectorLanes: 8, cache: cache).compile(model)
    #expect(generic.cachedModules == 0)
  }

  /// Past its limit the cache drops the entries used longest ago, down to three quarters of the
  /// limit; a use renews an entry.
  @Test func pruningRemovesTheLeastRecentlyUsedEntries() throws {
    let cache = KernelCache(directory: try temporaryDirectory("kernel-cache"))
    defer { try? FileManager.default.removeItem(atPath: cache.directory) }
    let model = try self.model.get()
    _ = try Compiler(vectorLanes: 8, cache: cache).compile(model)
    let names = try FileManager.default.contentsOfDirectory(atPath: cache.directory).sorted()
    var sizes: [String: Int] = [:]
    for (age, name) in names.enumerated() {
      let path = cache.directory + "/" + name
      // Entry i was last used i hours after the epoch: names[0] is the oldest.
      try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(age) * 3600)], ofItemAtPath: path)
      sizes[name] = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
    }
    let total = sizes.values.reduce(0, +)
    cache.prune(limit: total)
    #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory).count == names.count)
    cache.prune(limit: total - 1)
    let kept = try FileManager.default.contentsOfDirectory(atPath: cache.directory).sorted()
    #expect(kept.map { sizes[$0]! }.reduce(0, +) <= (total - 1) / 4 * 3)
    #expect(!kept.isEmpty && kept.count < names.count && kept == Array(names.suffix(kept.count)), "\(kept) of \(names)")
    // A compilation takes the kept entries and renews them.
    #expect(try Compiler(vectorLanes: 8, cache: cache).compile(model).cachedModules == kept.count)
    for name in kept {
      let date = try FileManager.default.attributesOfItem(atPath: cache.directory + "/" + name)[.modificationDate] as? Date
      #expect(date.map { $0.timeIntervalSinceNow > -3600 } == true)
    }
  }

  @Test func theEnvironmentChoosesTheDirectory() {
    #expect(KernelCache.fromEnvironment(["KILN_CACHE_DIR": ""]) == nil)
    #expect(KernelCache.fromEnvironment(["KILN_CACHE_DIR": "/tmp/k", "XDG_CACHE_HOME": "/x"])?.directory == "/tmp/k")
    #expect(KernelCache.fromEnvironment(["XDG_CACHE_HOME": "/x"])?.directory == "/x/kiln/kernels")
    #expect(KernelCache.fromEnvironment([:])?.directory == NSHomeDirectory() + "/.cache/kiln/kernels")
  }
}
