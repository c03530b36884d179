/// Reference kernels of the layout ops: every one is a gather (see `Gather`) or a block copy.
enum LayoutKernels {
  static func transpose<S: KilnScalar>(_ x: Tensor<S>, _ a: TransposeAttrs) -> Tensor<S> {
    let strides = x.strides
    let tables = a.permutation.map { axis in (0..<x.shape[axis]).map { $0 * strides[axis] } }
    return Gather.apply(x, offsets: Gather.offsets(tables), shape: a.permutation.map { x.shape[$0] })
  }

  /// Offsets into a tensor of `input` shape that `a` gathers into its `output`.
  static func sliceOffsets(_ a: SliceAttrs, input: [Int], output: [Int]) -> [Int] {
    let strides = Tensor<Double>.strides(of: input)
    return Gather.offsets(input.indices.map { axis in
      (0..<output[axis]).map { ((axis == a.axis ? a.start + $0 * a.step : $0)) * strides[axis] }
    })
  }

  static func slice<S: KilnScalar>(_ x: Tensor<S>, _ a: SliceAttrs, shape: [Int]) -> Tensor<S> {
    Gather.apply(x, offsets: sliceOffsets(a, input: x.shape, output: shape), shape: shape)
  }

  /// Offsets into a tensor of `input` shape that `a` gathers into its padded `output` (−1 for zeros).
  static func padOffsets(_ a: PadAttrs, input: [Int], output: [Int]) -> [Int] {
    let strides = Tensor<Double>.strides(of: input)
    return Gather.offsets(input.indices.map { axis in
      (0..<output[axis]).map { i in
        a.mode.source(i - a.before[axis], size: input[axis]).map { $0 * strides[axis] } ?? -1
      }
    })
  }

  static func pad<S: KilnScalar>(_ x: Tensor<S>, _ a: PadAttrs, shape: [Int]) -> Tensor<S> {
    Gather.apply(x, offsets: padOffsets(a, input: x.shape, output: shape), shape: shape)
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
    return Tensor(validShape: shape, scalars: scalars)
  }
}
