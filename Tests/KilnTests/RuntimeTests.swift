import KilnRuntime
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

  @Test func statusStrings() {
    #expect(String(cString: kiln_status_string(KILN_OK)) == "ok")
    #expect(String(cString: kiln_status_string(KILN_ERR_CORRUPT_FILE)) == "corrupt or truncated file")
    #expect(String(cString: kiln_status_string(kiln_status(rawValue: 99))) == "unknown status")
  }
}
