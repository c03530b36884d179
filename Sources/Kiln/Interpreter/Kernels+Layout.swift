/// Reference kernels of the layout ops: every one is a gather (see `Gather`) or a block copy.
enum LayoutKernels {
  static func transpose<S: KilnScalar>(_ x: Tensor<S>, _ a: TransposeAttrs) -> Tensor<S> {
    let strides = x.strides
    let tables = a.permutation.map { axis in (0..<x.shape[axis]).map { $0 * strides[axis] } }
    return Gather.apply(x, offsets: Gather.offsets(tables), shape: a.permutation.map { x.shape[$0] })
  }

  static func slice<S: KilnScalar>(_ x: Tensor<S>, _ a: SliceAttrs, shape: [Int]) -> Tensor<S> {
    let strides = x.strides
    let tables = x.shape.indices.map { axis in
      axis == a.axis
        ? (0..<shape[axis]).map { (a.start + $0 * a.step) * strides[axis] }
        : (0..<x.shape[axis]).map { $0 * strides[axis] }
    }
    return Gather.apply(x, offsets: Gather.offsets(tables), shape: shape)
  }

  static func pad<S: KilnScalar>(_ x: Tensor<S>, _ a: PadAttrs, shape: [Int]) -> Tensor<S> {
    let strides = x.strides
    let tables = x.shape.indices.map { axis in
      (0..<shape[axis]).map { i in
        a.mode.source(i - a.before[axis], size: x.shape[axis]).map { $0 * strides[axis] } ?? -1
      }
    }
    return Gather.apply(x, offsets: Gather.offsets(tables), shape: shape)
  }

  /// `x` broadcast to `shape` (numpy rules).
  static func broadcast<S: KilnScalar>(_ x: Tensor<S>, to shape: [Int]) -> Tensor<S> {
    if x.shape == shape { return x }
    return Gather.apply(x, offsets: Gather.offsets(Gather.broadcastTables(source: x.shape, target: shape)), shape: shape)
  }

  static func concat<S: KilnScalar>(_ parts: [Tensor<S>], axis: Int, shape: [Int]) -> Tensor<S> {
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var scalars: [S] = []
    scalars.reserveCapacity(shape.reduce(1, *))
    for o in 0..<outer {
      for part in parts {
        let block = part.shape[axis] * inner
        scalars.append(contentsOf: part.scalars[(o * block)..<((o + 1) * block)])
      }
    }
    return Tensor(shape: shape, scalars: scalars)
  }
}
