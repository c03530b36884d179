import Testing

@testable import Kiln

@Suite struct LayoutTests {
  @Test func concat() throws {
    let a = T([1, 1, 2], [1, 2])
    expectClose(try apply(.concat(ConcatAttrs(axis: 1)), [a, T([1, 2, 2], [3, 4, 5, 6])]), [1, 3, 2], [1, 2, 3, 4, 5, 6])
    expectClose(try apply(.concat(ConcatAttrs(axis: 2)), [T([1, 2, 1], [1, 2]), T([1, 2, 2], [3, 4, 5, 6])]), [1, 2, 3], [1, 3, 4, 2, 5, 6])
  }

  @Test func sliceAndSplit() throws {
    let x = iota([2, 4])
    expectClose(try apply(.slice(SliceAttrs(axis: 1, start: 1, end: 3)), [x]), [2, 2], [1, 2, 5, 6])
    expectClose(try apply(.slice(SliceAttrs(axis: 1, start: 0, end: 4, step: 2)), [x]), [2, 2], [0, 2, 4, 6])
    let graph = try Graph(name: "split", seed: 0) { b in
      try b.input("x", shape: [2, 4]).split(axis: -1, sizes: [1, 3])
    }
    let outputs = try Interpreter<Double>(graph).run(["x": x]).outputs
    expectClose(outputs[0], [2, 1], [0, 4])
    expectClose(outputs[1], [2, 3], [1, 2, 3, 5, 6, 7])
  }

  /// [[1, 2], [3, 4]] upsampled to 4×4 as PyTorch's interpolate does it (bilinear with and
  /// without align_corners, nearest), and shrunk back.
  @Test func resize() throws {
    let x = T([1, 1, 2, 2], [1, 2, 3, 4])
    let bilinear = [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]
    expectClose(try apply(.resize(ResizeAttrs(size: [4, 4], mode: .linear)), [x]), [1, 1, 4, 4], bilinear)
    expectClose(try apply(.resize(ResizeAttrs(size: [4, 4], mode: .linear, coordinates: .pytorchHalfPixel)), [x]), [1, 1, 4, 4], bilinear)
    expectClose(try apply(.resize(ResizeAttrs(size: [3, 3], mode: .linear, coordinates: .alignCorners)), [x]), [1, 1, 3, 3], [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
    let nearest = ResizeAttrs(size: [4, 4], mode: .nearest, coordinates: .asymmetric, rounding: .floor)
    expectClose(try apply(.resize(nearest), [x]), [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    // Half-pixel nearest from 4 to 3: positions 1/6, 3/2, 17/6 round (ties down) to 0, 1, 3.
    expectClose(try apply(.resize(ResizeAttrs(size: [3], mode: .nearest)), [T([1, 1, 4], [10, 20, 30, 40])]), [1, 1, 3], [10, 20, 40])
    // ONNX scales that the size rounds down from: 0.6 × 4 → 2, positions (x + ½)/0.6 − ½ = 1/3, 2.
    let scaled = ResizeAttrs(size: [2], mode: .linear, scales: [0.6])
    expectClose(try apply(.resize(scaled), [T([1, 1, 4], [10, 20, 30, 40])]), [1, 1, 2], [10 + 10.0 / 3, 30])
  }

  @Test func reshapeAndTranspose() throws {
    expectClose(try apply(.reshape(ReshapeAttrs(shape: [3, 2])), [iota([2, 3])]), [3, 2], [0, 1, 2, 3, 4, 5])
    expectClose(try apply(.transpose(TransposeAttrs(permutation: [1, 0])), [iota([2, 3])]), [3, 2], [0, 3, 1, 4, 2, 5])
    // out[c][a][b] = x[a][b][c] = 12a + 4b + c.
    let out = try apply(.transpose(TransposeAttrs(permutation: [2, 0, 1])), [iota([2, 3, 4])])
    var expected: [Double] = []
    for c in 0..<4 {
      for a in 0..<2 {
        for b in 0..<3 { expected.append(Double(12 * a + 4 * b + c)) }
      }
    }
    expectClose(out, [4, 2, 3], expected)
  }

  @Test func channelShuffle() throws {
    let graph = try Graph(name: "shuffle", input: [1, 6, 1, 1]) { try $0.channelShuffle(groups: 2) }
    let out = try Interpreter<Double>(graph).run(["input": iota([1, 6, 1, 1])]).outputs[0]
    // Groups [0 1 2] and [3 4 5] interleave.
    expectClose(out, [1, 6, 1, 1], [0, 3, 1, 4, 2, 5])
  }

  @Test(arguments: [
    (PaddingMode.zero, [0.0, 0, 1, 2, 3, 0]),
    (.replicate, [1, 1, 1, 2, 3, 3]),
    (.reflect, [3, 2, 1, 2, 3, 2]),
    (.circular, [2, 3, 1, 2, 3, 1]),
  ])
  func padModes(mode: PaddingMode, expected: [Double]) throws {
    let op = Op.pad(PadAttrs(before: [0, 2], after: [0, 1], mode: mode))
    expectClose(try apply(op, [T([1, 3], [1, 2, 3])]), [1, 6], expected)
  }

  @Test func pad2D() throws {
    // One row before, one column after, replicated.
    let op = Op.pad(PadAttrs(before: [1, 0], after: [0, 1], mode: .replicate))
    expectClose(try apply(op, [T([2, 2], [1, 2, 3, 4])]), [3, 3], [1, 2, 2, 1, 2, 2, 3, 4, 4])
  }
}
