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

  /// Each output position of one `[*spatial]` plane as the input positions it reads and their
  /// weights: the products of the spatial axes' taps.
  static func resizePlan(_ a: ResizeAttrs, input: [Int]) -> [[ResizeAttrs.Tap]] {
    let spatial = Array(input.dropFirst(2))
    var plan = [[ResizeAttrs.Tap(index: 0, weight: 1)]]
    for (axis, size) in spatial.enumerated() {
      let taps = a.taps(axis: axis, inputSize: size)
      plan = plan.flatMap { outer in
        taps.map { inner in outer.flatMap { o in inner.map { ResizeAttrs.Tap(index: o.index * size + $0.index, weight: o.weight * $0.weight) } } }
      }
    }
    return plan
  }

  static func resize<S: KilnScalar>(_ x: Tensor<S>, _ a: ResizeAttrs, shape: [Int]) -> Tensor<S> {
    let plan = resizePlan(a, input: x.shape)
    let (planes, inner) = (shape[0] * shape[1], x.shape[2...].reduce(1, *))
    var out: [S] = []
    out.reserveCapacity(planes * plan.count)
    for plane in 0..<planes {
      for taps in plan { out.append(taps.reduce(S(0)) { $0 + S($1.weight) * x.scalars[plane * inner + $1.index] }) }
    }
    return Tensor(validShape: shape, scalars: out)
  }

  /// The resize's adjoint: every `dy` element added to the input elements it was read from.
  static func resizeGrad<S: KilnScalar>(_ dy: Tensor<S>, _ a: ResizeAttrs, shape: [Int]) -> Tensor<S> {
    let plan = resizePlan(a, input: shape)
    let (planes, inner) = (shape[0] * shape[1], shape[2...].reduce(1, *))
    var dx = [S](repeating: 0, count: planes * inner)
    for plane in 0..<planes {
      for (position, taps) in plan.enumerated() {
        for tap in taps { dx[plane * inner + tap.index] += S(tap.weight) * dy.scalars[plane * plan.count + position] }
      }
    }
    return Tensor(validShape: shape, scalars: dx)
  }
}
