/// The functional API: every op as a method or operator on `Symbol`, for graphs that are not
/// chains (residual add, inception concat, dense-block concat, SE channel scaling).
/// Nodes get fresh names (`add1`, `relu2`) in the current scope.
extension Symbol {
  // MARK: Elementwise

  /// Elementwise sum with numpy-style broadcasting (residual connections).
  public static func + (a: Symbol, b: Symbol) throws -> Symbol { try a.binary(.add, b) }
  /// Elementwise difference, with broadcasting.
  public static func - (a: Symbol, b: Symbol) throws -> Symbol { try a.binary(.sub, b) }
  /// Elementwise product with broadcasting (SE blocks scale `[N, C, H, W]` by `[N, C, 1, 1]`).
  public static func * (a: Symbol, b: Symbol) throws -> Symbol { try a.binary(.mul, b) }
  /// Elementwise quotient, with broadcasting.
  public static func / (a: Symbol, b: Symbol) throws -> Symbol { try a.binary(.div, b) }

  func binary(_ op: BinaryOperator, _ other: Symbol) throws -> Symbol {
    try builder.add(prefix: op.rawValue, .binary(BinaryAttrs(op)), [self, other])
  }

  /// `function` applied elementwise.
  public func applying(_ function: UnaryFunction) throws -> Symbol {
    try builder.add(prefix: function.name, .unary(UnaryAttrs(function)), [self])
  }

  /// max(x, 0) elementwise.
  public func relu() throws -> Symbol { try applying(.relu) }
  /// 1 / (1 + e⁻ˣ) elementwise.
  public func sigmoid() throws -> Symbol { try applying(.sigmoid) }
  /// The hyperbolic tangent elementwise.
  public func tanh() throws -> Symbol { try applying(.tanh) }

  /// `scale·x + shift`, elementwise.
  public func scaled(by scale: Double, shift: Double = 0) throws -> Symbol {
    try applying(.affine(scale: scale, shift: shift))
  }

  /// Softmax along `axis` (the last by default).
  public func softmax(axis: Int = -1) throws -> Symbol {
    try builder.add(prefix: "softmax", .softmax(SoftmaxAttrs(axis: try normalized(axis))), [self])
  }

  /// Log-softmax along `axis` (the last by default).
  public func logSoftmax(axis: Int = -1) throws -> Symbol {
    try builder.add(prefix: "log_softmax", .softmax(SoftmaxAttrs(axis: try normalized(axis), log: true)), [self])
  }

  /// Maximum over runs of `pieces` consecutive elements along `axis` (the channels by default).
  public func maxout(pieces: Int, axis: Int = 1) throws -> Symbol {
    try builder.add(prefix: "maxout", .maxout(MaxoutAttrs(pieces: pieces, axis: try normalized(axis))), [self])
  }

  // MARK: Linear algebra, reductions

  /// Batched matrix product `[…, M, K] × […, K, N]`.
  public func matmul(_ other: Symbol) throws -> Symbol {
    try builder.add(prefix: "matmul", .matmul(MatMulAttrs()), [self, other])
  }

  /// Sum, mean or max over `axes` (negative axes count from the end).
  public func reduced(_ kind: ReduceKind, axes: [Int], keepDims: Bool = false) throws -> Symbol {
    let sorted = Array(Set(try axes.map(normalized))).sorted()
    return try builder.add(prefix: "reduce_\(kind.rawValue)", .reduce(ReduceAttrs(kind, axes: sorted, keepDims: keepDims)), [self])
  }

  /// Global average pooling: `[N, C, *spatial]` → `[N, C, 1, …]`.
  public func globalAvgPool() throws -> Symbol {
    try builder.add(prefix: "global_avg_pool", .globalPool(GlobalPoolAttrs(kind: .average)), [self])
  }

  /// Global max pooling: `[N, C, *spatial]` → `[N, C, 1, …]` (max-over-time in text CNNs).
  public func globalMaxPool() throws -> Symbol {
    try builder.add(prefix: "global_max_pool", .globalPool(GlobalPoolAttrs(kind: .max)), [self])
  }

  // MARK: Layout

  /// Joins `parts` along `axis` (inception and dense-block concat along channels: axis 1).
  public static func concat(_ parts: [Symbol], axis: Int = 1) throws -> Symbol {
    guard let first = parts.first else { throw KilnError.invalidArgument("concat needs at least one input") }
    return try first.builder.add(prefix: "concat", .concat(ConcatAttrs(axis: try first.normalized(axis))), parts)
  }

  /// The same elements with a new shape; one entry may be −1 and is then inferred.
  public func reshaped(_ shape: [Int]) throws -> Symbol {
    var target = shape
    let known = shape.filter { $0 != -1 }.reduce(1, *)
    if let hole = shape.firstIndex(of: -1) {
      guard shape.filter({ $0 == -1 }).count == 1, known > 0, type.elementCount % known == 0 else {
        throw KilnError.invalidArgument("cannot reshape \(type) to \(shape)")
      }
      target[hole] = type.elementCount / known
    }
    return try builder.add(prefix: "reshape", .reshape(ReshapeAttrs(shape: target)), [self])
  }

  /// `[N, …]` → `[N, ∏…]`.
  public func flattened() throws -> Symbol {
    try builder.add(prefix: "flatten", .reshape(ReshapeAttrs(shape: [shape[0], shape.dropFirst().reduce(1, *)])), [self])
  }

  /// Permutes axes: output axis `i` is input axis `permutation[i]`.
  public func transposed(_ permutation: [Int]) throws -> Symbol {
    try builder.add(prefix: "transpose", .transpose(TransposeAttrs(permutation: permutation)), [self])
  }

  /// ShuffleNet's channel shuffle: `[N, g·k, …]` → reshape `[N, g, k, …]`, swap g and k, reshape back.
  public func channelShuffle(groups: Int) throws -> Symbol {
    guard groups >= 1, rank >= 2, shape[1] % groups == 0 else {
      throw KilnError.invalidArgument("channel shuffle: \(shape[1]) channels do not divide into \(groups) groups")
    }
    let split = [shape[0], groups, shape[1] / groups] + shape.dropFirst(2)
    let swapped = try reshaped(split).transposed([0, 2, 1] + Array(3..<(rank + 1)))
    return try swapped.reshaped(shape)
  }

  /// Elements `range` (with `step`) of `axis`.
  public func sliced(axis: Int, _ range: Range<Int>, step: Int = 1) throws -> Symbol {
    let attrs = SliceAttrs(axis: try normalized(axis), start: range.lowerBound, end: range.upperBound, step: step)
    return try builder.add(prefix: "slice", .slice(attrs), [self])
  }

  /// Splits `axis` into consecutive parts of `sizes` (which must add up to the axis size).
  public func split(axis: Int, sizes: [Int]) throws -> [Symbol] {
    let axis = try normalized(axis)
    guard sizes.reduce(0, +) == shape[axis], sizes.allSatisfy({ $0 > 0 }) else {
      throw KilnError.invalidArgument("split sizes \(sizes) do not add up to axis \(axis) of \(type)")
    }
    var start = 0
    return try sizes.map { size in
      defer { start += size }
      return try sliced(axis: axis, start..<(start + size))
    }
  }

  /// Pads every axis by `before`/`after` elements made up as `mode` says.
  public func padded(before: [Int], after: [Int], mode: PaddingMode = .zero) throws -> Symbol {
    try builder.add(prefix: "pad", .pad(PadAttrs(before: before, after: after, mode: mode)), [self])
  }

  // MARK: Losses

  /// Mean (or summed) softmax cross-entropy of logits `[N, classes]` against i32 labels `[N]`.
  public func softmaxCrossEntropy(labels: Symbol, reduction: Reduction = .mean) throws -> Symbol {
    try loss(.softmaxCrossEntropy, labels, reduction)
  }

  /// Binary cross-entropy of logits against 0…1 targets of the same shape (stable form).
  public func binaryCrossEntropy(targets: Symbol, reduction: Reduction = .mean) throws -> Symbol {
    try loss(.binaryCrossEntropy, targets, reduction)
  }

  /// The mean (or summed) squared difference between this value and `targets`.
  public func meanSquaredError(targets: Symbol, reduction: Reduction = .mean) throws -> Symbol {
    try loss(.meanSquaredError, targets, reduction)
  }

  /// The mean (or summed) smooth-L1 distance to `targets`: ½d² below 1, |d| − ½ above (box
  /// regression).
  public func smoothL1(targets: Symbol, reduction: Reduction = .mean) throws -> Symbol {
    try loss(.smoothL1, targets, reduction)
  }

  func loss(_ kind: LossKind, _ target: Symbol, _ reduction: Reduction) throws -> Symbol {
    try builder.add(prefix: "loss", .loss(LossAttrs(kind, reduction: reduction)), [self, target])
  }

  /// `axis` with negative values counted from the end; throws when outside the rank.
  func normalized(_ axis: Int) throws -> Int {
    let result = axis < 0 ? axis + rank : axis
    guard (0..<rank).contains(result) else {
      throw KilnError.invalidArgument("axis \(axis) is outside \(type)")
    }
    return result
  }
}
