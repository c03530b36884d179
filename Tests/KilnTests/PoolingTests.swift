import Testing

@testable import Kiln

@Suite struct PoolingTests {
  func pool(_ kind: PoolKind, kernel: [Int], stride: [Int]? = nil, pad: Int = 0, ceil: Bool = false, countPad: Bool = true) -> Op {
    .pool(PoolAttrs(kind: kind, kernel: kernel, stride: stride ?? kernel, padding: .symmetric(pad, rank: kernel.count), ceilMode: ceil, countIncludePad: countPad))
  }

  @Test func maxAndAveragePool2DByHand() throws {
    let x = iota([1, 1, 4, 4])
    expectClose(try apply(pool(.max, kernel: [2, 2]), [x]), [1, 1, 2, 2], [5, 7, 13, 15])
    expectClose(try apply(pool(.average, kernel: [2, 2]), [x]), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5])
    // 3×3 window, stride 1: maxima of each window.
    expectClose(try apply(pool(.max, kernel: [3, 3], stride: [1, 1]), [x]), [1, 1, 2, 2], [10, 11, 14, 15])
  }

  @Test func paddingCountsOrNotInTheAverage() throws {
    let x = T([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])
    // Windows (rows, cols): (−1…0, −1…0) holds 1; (−1…0, 1…2) holds 2 + 3; (1…2, −1…0) holds 4 + 7; the last 5 + 6 + 8 + 9.
    expectClose(try apply(pool(.average, kernel: [2, 2], pad: 1), [x]), [1, 1, 2, 2], [0.25, 1.25, 2.75, 7])
    expectClose(try apply(pool(.average, kernel: [2, 2], pad: 1, countPad: false), [x]), [1, 1, 2, 2], [1, 2.5, 5.5, 7])
    // Padding never wins a max.
    expectClose(try apply(pool(.max, kernel: [2, 2], pad: 1), [T([1, 1, 3, 3], (1...9).map { -Double($0) })]), [1, 1, 2, 2], [-1, -2, -4, -5])
  }

  @Test func dilatedWindowsSkipPositions() throws {
    // Kernel 2, dilation 2, stride 1 over [1, 5, 2, 4, 3]: windows {0, 2}, {1, 3}, {2, 4}.
    let x = T([1, 1, 5], [1, 5, 2, 4, 3])
    let max = Op.pool(PoolAttrs(kind: .max, kernel: [2], stride: [1], padding: .symmetric(0, rank: 1), dilation: [2]))
    expectClose(try apply(max, [x]), [1, 1, 3], [2, 5, 3])
    let average = Op.pool(PoolAttrs(kind: .average, kernel: [2], stride: [1], padding: .symmetric(0, rank: 1), dilation: [2]))
    expectClose(try apply(average, [x]), [1, 1, 3], [1.5, 4.5, 2.5])
    // Padding 1: windows {−1, 1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}; with the padding counted, the
    // edge windows divide by 2, without it by their one real element.
    let padded = PoolAttrs(kind: .average, kernel: [2], stride: [1], padding: .symmetric(1, rank: 1), dilation: [2])
    expectClose(try apply(.pool(padded), [x]), [1, 1, 5], [2.5, 1.5, 4.5, 2.5, 2])
    var exclude = padded
    exclude.countIncludePad = false
    expectClose(try apply(.pool(exclude), [x]), [1, 1, 5], [5, 1.5, 4.5, 2.5, 4])
    #expect(PoolAttrs(kind: .max, kernel: [3, 3], stride: [1, 1], padding: .symmetric(0, rank: 2), dilation: [2, 1]).attributeText.contains("dilation=2x1"))
  }

  @Test func ceilMode() throws {
    let five = T([1, 1, 5], [1, 2, 3, 4, 5])
    expectClose(try apply(pool(.max, kernel: [2]), [five]), [1, 1, 2], [2, 4])
    expectClose(try apply(pool(.max, kernel: [2], ceil: true), [five]), [1, 1, 3], [2, 4, 5])
    // The partial last window averages over its one real element.
    expectClose(try apply(pool(.average, kernel: [2], ceil: true), [five]), [1, 1, 3], [1.5, 3.5, 5])
    let six = T([1, 1, 6], [1, 2, 3, 4, 5, 6])
    expectClose(try apply(pool(.max, kernel: [3], stride: [2], ceil: true), [six]), [1, 1, 3], [3, 5, 6])
    expectClose(try apply(pool(.average, kernel: [3], stride: [2], ceil: true), [six]), [1, 1, 3], [2, 4, 5.5])
    // A last window that would start in the right padding is dropped: 5 wide, kernel 2, stride 2, pad 1.
    let attrs = PoolAttrs(kind: .max, kernel: [2], stride: [2], padding: .symmetric(1, rank: 1), ceilMode: true)
    #expect(try attrs.outputType([TensorType([1, 1, 5])]).shape == [1, 1, 3])
  }

  @Test func pool3DAndGlobalPools() throws {
    expectClose(try apply(pool(.max, kernel: [2, 2, 2]), [iota([1, 1, 2, 2, 2])]), [1, 1, 1, 1, 1], [7])
    expectClose(try apply(pool(.average, kernel: [2, 2, 2]), [iota([1, 1, 2, 2, 2])]), [1, 1, 1, 1, 1], [3.5])
    let x = T([1, 2, 2, 2], [1, 2, 3, 4, -1, -5, 0, 2])
    expectClose(try apply(.globalPool(GlobalPoolAttrs(kind: .average)), [x]), [1, 2, 1, 1], [2.5, -1])
    expectClose(try apply(.globalPool(GlobalPoolAttrs(kind: .max)), [x]), [1, 2, 1, 1], [4, 2])
    // 1D global max is max-over-time.
    expectClose(try apply(.globalPool(GlobalPoolAttrs(kind: .max)), [T([1, 1, 4], [3, 9, -1, 2])]), [1, 1, 1], [9])
  }
}
