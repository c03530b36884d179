import Testing

@testable import Kiln

@Suite struct LinearTests {
  @Test func dense() throws {
    // Rows: [1 − 3 + 10, (1 + 2 + 3)/2 + 20] and [4 − 6 + 10, (4 + 5 + 6)/2 + 20].
    let out = try apply(.dense(DenseAttrs()), [T([2, 3], [1, 2, 3, 4, 5, 6]), T([2, 3], [1, 0, -1, 0.5, 0.5, 0.5]), T([2], [10, 20])])
    expectClose(out, [2, 2], [8, 23, 8, 27.5])
    expectClose(try apply(.dense(DenseAttrs()), [T([1, 2], [1, 2]), T([1, 2], [3, 4])]), [1, 1], [11])
  }

  @Test func batchedMatmulBroadcastsTheBatch() throws {
    let a = T([2, 2, 2], [1, 2, 3, 4, 0, 1, 1, 0])
    let b = T([2, 2], [5, 6, 7, 8])
    expectClose(try apply(.matmul(MatMulAttrs()), [a, b]), [2, 2, 2], [19, 22, 43, 50, 7, 8, 5, 6])
  }

  @Test func embedding() throws {
    let table = T([3, 2], [0, 1, 10, 11, 20, 21])
    let out = try apply(.embedding(EmbeddingAttrs()), [T([2, 2], [2, 0, 1, 1]), table], integer: [0])
    expectClose(out, [2, 2, 2], [20, 21, 0, 1, 10, 11, 10, 11])
    expectError("op", "index 3.0 is outside the vocabulary 0..<3") {
      _ = try apply(.embedding(EmbeddingAttrs()), [T([1], [3]), table], integer: [0])
    }
  }
}
