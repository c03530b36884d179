/// Index arithmetic shared by the layout kernels (transpose, slice, pad, broadcast, reduce).
///
/// A gather is described per output axis by a table: entry `i` is the offset that output index
/// `i` on that axis adds to the source offset, or −1 where the output element has no source (zero
/// padding). The offsets of the whole output are the sums over all axes, in row-major order.
enum Gather {
  /// Source offsets of every output element; −1 where any axis says "no source".
  static func offsets(_ tables: [[Int]]) -> [Int] {
    var offsets = [0]
    for table in tables {
      var next: [Int] = []
      next.reserveCapacity(offsets.count * table.count)
      for base in offsets {
        for entry in table { next.append(base < 0 || entry < 0 ? -1 : base + entry) }
      }
      offsets = next
    }
    return offsets
  }

  /// Tables that read a tensor of `source` shape broadcast to `target` (numpy rules: `source`
  /// is aligned right and its size-1 axes repeat).
  static func broadcastTables(source: [Int], target: [Int]) -> [[Int]] {
    let padded = Array(repeating: 1, count: target.count - source.count) + source
    let strides = Tensor<Double>.strides(of: padded)
    return target.indices.map { axis in
      (0..<target[axis]).map { padded[axis] == 1 ? 0 : $0 * strides[axis] }
    }
  }

  /// The elements of `x` at `offsets` (−1 gives zero).
  static func apply<S: KilnScalar>(_ x: Tensor<S>, offsets: [Int], shape: [Int]) -> Tensor<S> {
    Tensor(validShape: shape, scalars: offsets.map { $0 < 0 ? 0 : x.scalars[$0] })
  }
}
