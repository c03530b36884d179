import Foundation
import KilnRuntime

@testable import Kiln
import Testing

@Suite struct RuntimeTests {
  @Test func arenaIsAlignedZeroedAndBoundsChecked() throws {
    var arena = kiln_arena()
    #expect(kiln_arena_init(&arena, 1000, 64) == KILN_OK)
    defer { kiln_arena_free(&arena) }
    let base = try #require(arena.base)
    #expect(UInt(bitPattern: base) % 64 == 0)
    #expect((0..<1000).allSatisfy { base[$0] == 0 })
    #expect(kiln_arena_at(&arena, 0, 1000) != nil)
    #expect(kiln_arena_at(&arena, 996, 4) == UnsafeMutableRawPointer(base + 996))
    #expect(kiln_arena_at(&arena, 997, 4) == nil)
    #expect(kiln_arena_at(&arena, Int.max, 4) == nil)
  }

  /// Blocks of 2 MiB or more start on a huge page (whole ones allocated), and keep their size.
  @Test func largeArenasStartOnAHugePage() throws {
    let size = 3 * (1 << 20) + 12
    var arena = kiln_arena()
    #expect(kiln_arena_init(&arena, size, 64) == KILN_OK)
    defer { kiln_arena_free(&arena) }
    let base = try #require(arena.base)
    #expect(UInt(bitPattern: base) % UInt(2 << 20) == 0 && arena.size == size)
    #expect(stride(from: 0, to: size, by: 4096).allSatisfy { base[$0] == 0 } && base[size - 1] == 0)
    #expect(kiln_arena_at(&arena, size - 4, 4) != nil && kiln_arena_at(&arena, size - 3, 4) == nil)
  }

  /// Kept-memory flags are floats at float offsets; those outside the arena are skipped.
  @Test func markingStaleZeroesTheFlags() throws {
    var arena = kiln_arena()
    #expect(kiln_arena_init(&arena, 64 * 4, 64) == KILN_OK)
    defer { kiln_arena_free(&arena) }
    let floats = try #require(arena.base).withMemoryRebound(to: Float.self, capacity: 64) { $0 }
    for i in 0..<64 { floats[i] = 1 }
    let flags = [0, 17, 63, 64, Int.max / 4, 1 << 62]
    kiln_arena_mark_stale(&arena, flags, flags.count)
    #expect((0..<64).filter { floats[$0] == 0 } == [0, 17, 63])
    kiln_arena_mark_stale(&arena, nil, 3)
    kiln_arena_mark_stale(nil, flags, flags.count)
  }

  @Test func arenaRejectsBadArguments() {
    var arena = kiln_arena()
    #expect(kiln_arena_init(&arena, 100, 3) == KILN_ERR_INVALID_ARGUMENT)
    #expect(kiln_arena_init(&arena, 100, 4) == KILN_ERR_INVALID_ARGUMENT)
    #expect(kiln_arena_init(&arena, 0, 64) == KILN_ERR_INVALID_ARGUMENT)
    #expect(kiln_arena_init(nil, 100, 64) == KILN_ERR_INVALID_ARGUMENT)
    #expect(kiln_arena_init(&arena, Int.max, 64) == KILN_ERR_OUT_OF_MEMORY)
    #expect(arena.base == nil && arena.size == 0)
    kiln_arena_free(&arena)
    kiln_arena_free(nil)
  }

  /// kiln_sgemv against the definition, for products run whole and in pieces of outputs (from 2^17
  /// elements on), both orientations, strided vectors and β ≠ 0; a two-thread pool gives the same
  /// bits as none.
  @Test(arguments: [(3, 5), (120, 400), (400, 120), (64, 9000), (600, 300)])
  func gemvEqualsItsDefinition(rows: Int, columns: Int) throws {
    var generator = SplitMix64(seed: UInt64(rows * columns))
    let lda = columns + 3
    let a = (0..<(rows * lda)).map { _ in Float(generator.nextNormal()) }
    let pool = try TwoThreadPool()
    for transpose in [false, true] {
      let (inner, outputs) = transpose ? (rows, columns) : (columns, rows)
      let x = (0..<(2 * inner)).map { _ in Float(generator.nextNormal()) }
      let initial = (0..<(3 * outputs)).map { _ in Float(generator.nextNormal()) }
      var (y, threaded) = (initial, initial)
      kiln_sgemv(nil, transpose ? 1 : 0, Int32(rows), Int32(columns), a, Int32(lda), x, 2, 0.5, &y, 3)
      kiln_sgemv(pool.pool, transpose ? 1 : 0, Int32(rows), Int32(columns), a, Int32(lda), x, 2, 0.5, &threaded, 3)
      #expect(y == threaded, "\(rows)x\(columns), transposed \(transpose): two threads differ from one")
      for o in 0..<outputs {
        var sum = 0.5 * Double(initial[3 * o])
        for i in 0..<inner { sum += Double(transpose ? a[i * lda + o] : a[o * lda + i]) * Double(x[2 * i]) }
        #expect(abs(Double(y[3 * o]) - sum) <= 1e-4 * max(1, abs(sum)), "output \(o) of \(rows)x\(columns), transposed \(transpose)")
      }
      #expect((0..<(3 * outputs)).filter { $0 % 3 != 0 }.allSatisfy { y[$0] == initial[$0] }, "elements between the strided outputs changed")
    }
  }

  /// kiln_sgemm against the definition, for products run whole and in pieces of rows or columns
  /// (from 2^20 multiply-adds per piece on), every transposition, padded leading dimensions and
  /// β ≠ 0; a two-thread pool gives the same bits as none.
  @Test(arguments: [(5, 7, 3), (64, 84, 120), (600, 300, 40), (48, 2000, 150), (1000, 130, 70)])
  func gemmEqualsItsDefinition(m: Int, n: Int, k: Int) throws {
    var generator = SplitMix64(seed: UInt64(m * n + k))
    let pool = try TwoThreadPool()
    for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
      let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
      let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
      let (lda, ldb, ldc) = (aColumns + 1, bColumns + 2, n + 3)
      let a = (0..<(aRows * lda)).map { _ in Float(generator.nextNormal()) }
      let b = (0..<(bRows * ldb)).map { _ in Float(generator.nextNormal()) }
      let initial = (0..<(m * ldc)).map { _ in Float(generator.nextNormal()) }
      var (c, threaded) = (initial, initial)
      let (ta, tb) = (Int32(transposeA ? 1 : 0), Int32(transposeB ? 1 : 0))
      kiln_sgemm(nil, ta, tb, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), 0.5, &c, Int32(ldc))
      kiln_sgemm(pool.pool, ta, tb, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), 0.5, &threaded, Int32(ldc))
      #expect(c == threaded, "\(m)x\(n)x\(k), transposed \(transposeA)/\(transposeB): two threads differ from one")
      var worst = 0.0
      for i in 0..<m {
        for j in 0..<n {
          var sum = 0.5 * Double(initial[i * ldc + j])
          for p in 0..<k { sum += Double(transposeA ? a[p * lda + i] : a[i * lda + p]) * Double(transposeB ? b[j * ldb + p] : b[p * ldb + j]) }
          worst = max(worst, abs(Double(c[i * ldc + j]) - sum) / max(1, abs(sum)))
        }
      }
      #expect(worst <= 1e-4, "\(m)x\(n)x\(k), transposed \(transposeA)/\(transposeB): off by \(worst)")
      #expect((0..<(m * ldc)).filter { $0 % ldc >= n }.allSatisfy { c[$0] == initial[$0] }, "elements past each row's n columns changed")
    }
  }

  @Test func statusStrings() {
    #expect(String(cString: kiln_status_string(KILN_OK)) == "ok")
    #expect(String(cString: kiln_status_string(KILN_ERR_CORRUPT_FILE)) == "corrupt or truncated file")
    #expect(String(cString: kiln_status_string(kiln_status(rawValue: 99))) == "unknown status")
  }
}

/// A runtime thread pool of two threads, destroyed with its owner; OpenBLAS prepared as for
/// compiled models (one thread per call).
final class TwoThreadPool {
  let pool: OpaquePointer

  init() throws {
    kiln_blas_prepare()
    var created: OpaquePointer?
    guard kiln_pool_create(&created, 2) == KILN_OK, let created else { throw KilnError.invalidArgument("cannot create a two-thread pool") }
    pool = created
  }

  deinit { kiln_pool_destroy(pool) }
}

/// The C runtime's safetensors reader and writer against Kiln's Swift implementation.
@Suite struct RuntimeSafetensorsTests {
  let directory = NSTemporaryDirectory() + "kiln-runtime-\(UUID().uuidString)"

  func load(_ path: String, names: [String], shapes: [[Int64]]) -> (kiln_status, [[Float]], String) {
    let buffers = shapes.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: max(Int($0.reduce(1, *)), 1)) }
    let dims = shapes.map { shape in
      let pointer = UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(shape.count, 1))
      _ = pointer.initialize(from: shape)
      return pointer
    }
    let cNames = names.map { strdup($0) }
    defer {
      buffers.forEach { $0.deallocate() }
      dims.forEach { $0.deallocate() }
      cNames.forEach { free($0) }
    }
    let tensors = names.indices.map {
      kiln_tensor(name: cNames[$0], shape: dims[$0].baseAddress, rank: Int32(shapes[$0].count), data: buffers[$0].baseAddress)
    }
    var error = [CChar](repeating: 0, count: 256)
    let status = kiln_safetensors_load(path, tensors, tensors.count, &error, error.count)
    let values = names.indices.map { Array(buffers[$0].prefix(Int(shapes[$0].reduce(1, *)))) }
    return (status, values, String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
  }

  @Test func readsWhatSwiftWritesAndRejectsTheRest() throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/w.safetensors"
    try SafeTensors.write([("a.weight", Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])), ("b", Tensor(shape: [3], scalars: [-1, 0.5, 8]))], metadata: ["model": "m"], to: path)
    let (status, buffers, _) = load(path, names: ["b", "a.weight"], shapes: [[3], [2, 2]])
    #expect(status == KILN_OK)
    #expect(buffers == [[-1, 0.5, 8], [1, 2, 3, 4]])
    #expect(load(path, names: ["a.weight"], shapes: [[2, 2]]).2.contains("b is not a parameter of this model"))
    #expect(load(path, names: ["a.weight", "b", "c"], shapes: [[2, 2], [3], [1]]).2.contains("lacks c"))
    #expect(load(path, names: ["a.weight", "b"], shapes: [[4], [3]]).2.contains("a.weight has shape [2, 2] but the model's is [4]"))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    try bytes.prefix(bytes.count - 5).write(to: URL(fileURLWithPath: path))
    #expect(load(path, names: ["a.weight", "b"], shapes: [[2, 2], [3]]).0 == KILN_ERR_CORRUPT_FILE)
    #expect(load(directory + "/missing", names: [], shapes: []).0 == KILN_ERR_IO)
  }

  @Test func swiftReadsWhatCWrites() throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/c.safetensors"
    var values: [Float] = [1, -2, 3.5, 4, 5, 6]
    var shape: [Int64] = [2, 3]
    let status = values.withUnsafeMutableBufferPointer { data in
      shape.withUnsafeMutableBufferPointer { dims in
        "layer.weight".withCString { name in
          var tensor = kiln_tensor(name: name, shape: dims.baseAddress, rank: 2, data: data.baseAddress)
          return kiln_safetensors_save(path, &tensor, 1, nil, 0)
        }
      }
    }
    #expect(status == KILN_OK)
    let read = try SafeTensors.read(path).tensors
    #expect(read.names == ["layer.weight"] && read["layer.weight"] == Tensor(validShape: [2, 3], scalars: values))
  }
}

/// The thread pool: every iteration once, whichever threads take which pieces.
@Suite struct ThreadPoolTests {
  @Test(arguments: [1, 2, 3, 5])
  func everyIterationRunsOnce(threads: Int) throws {
    var pool: OpaquePointer?
    #expect(kiln_pool_create(&pool, Int32(threads)) == KILN_OK)
    defer { kiln_pool_destroy(pool) }
    #expect(kiln_pool_threads(pool) == Int32(threads))
    // Loops back to back, each reusing the loop settings of the one before last.
    for count in [0, 1, 7, 1000, 3, 17, 1000, 2] {
      var hits = [Int32](repeating: 0, count: max(count, 1))
      hits.withUnsafeMutableBufferPointer { buffer in
        kiln_parallel_for(pool, Int64(count), { context, begin, end in
          let hits = context!.assumingMemoryBound(to: Int32.self)
          for i in begin..<end { hits[Int(i)] += 1 }
        }, buffer.baseAddress)
      }
      #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "count \(count)")
    }
    // Thousands of short loops: a worker late for one must not run a piece of the next with the
    // old loop's settings, nor the caller return before every piece has run.
    var sums = [Int64](repeating: 0, count: 37)
    sums.withUnsafeMutableBufferPointer { buffer in
      for _ in 0..<5000 {
        kiln_parallel_for(pool, 37, { context, begin, end in
          let sums = context!.assumingMemoryBound(to: Int64.self)
          for i in begin..<end { sums[Int(i)] += i }
        }, buffer.baseAddress)
      }
    }
    #expect(sums == (0..<37).map { Int64($0) * 5000 })
    var none: OpaquePointer?
    #expect(kiln_pool_create(&none, 0) == KILN_ERR_INVALID_ARGUMENT && none == nil)
  }
}
