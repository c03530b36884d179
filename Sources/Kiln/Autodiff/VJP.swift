/// The backward rule of every op, in one place: given the node, its output `y` and the gradient
/// `dy` flowing into it, emit the gradient of each input for which `needs` is true (nil for the
/// others).
extension BackwardBuilder {
  mutating func vjp(_ node: Node, _ y: ValueID, dy: ValueID, needs: [Bool]) throws -> [ValueID?] {
    let inputs = node.inputs
    let name = node.name
    /// Emits `make()` for input `i` only if its gradient is needed.
    func wanted(_ i: Int, _ make: () throws -> ValueID) rethrows -> ValueID? {
      i < needs.count && needs[i] ? try make() : nil
    }
    switch node.op {
    case .input, .parameter:
      return []

    case .conv(let a):
      let (x, w) = (inputs[0], inputs[1])
      return [
        try wanted(0) { try emit("\(name).input", .convInputGrad(ConvInputGradAttrs(conv: a, inputShape: type(x).shape)), [dy, w]) },
        try wanted(1) { try emit("\(name).weight", .convWeightGrad(ConvWeightGradAttrs(conv: a, kernel: Array(type(w).shape[2...]))), [x, dy]) },
        try wanted(2) { try biasGradient(dy, name: name) },
      ]

    case .convTranspose(let a):
      // A transposed convolution is the adjoint of the convolution with the same geometry, so
      // its gradients are that convolution and its weight gradient with the roles swapped.
      // Output padding of a whole stride or more (allowed below the dilation) adds outputs that
      // convolution would turn into extra windows: that much comes off the end of dy, from its
      // padding first and then by slicing.
      let (x, w) = (inputs[0], inputs[1])
      let extra = zip(a.outputPadding, a.stride).map { $0 / $1 * $1 }
      var adjointInput = dy
      for (axis, (after, excess)) in zip(a.padding.after, extra).enumerated() where excess > after {
        let size = type(adjointInput).shape[axis + 2]
        adjointInput = try emit("\(name).dy_end\(axis)", .slice(SliceAttrs(axis: axis + 2, start: 0, end: size - (excess - after))), [adjointInput])
      }
      let padding = Padding(before: a.padding.before, after: zip(a.padding.after, extra).map { max(0, $0 - $1) })
      let conv = ConvAttrs(stride: a.stride, padding: padding, dilation: a.dilation, groups: a.groups)
      return [
        try wanted(0) { try emit("\(name).input", .conv(conv), [adjointInput, w]) },
        try wanted(1) {
          try emit("\(name).weight", .convWeightGrad(ConvWeightGradAttrs(conv: conv, kernel: Array(type(w).shape[2...]))), [adjointInput, x])
        },
        try wanted(2) { try biasGradient(dy, name: name) },
      ]

    case .pool(let a):
      return [try wanted(0) { try emit("\(name).input", .poolGrad(PoolGradAttrs(pool: a)), [inputs[0], dy]) }]

    case .globalPool(let a):
      let reduce = ReduceAttrs(a.kind == .max ? .max : .mean, axes: Array(2..<type(inputs[0]).rank), keepDims: true)
      return [try wanted(0) { try emit("\(name).input", .reduceGrad(ReduceGradAttrs(reduce: reduce)), [inputs[0], dy]) }]

    case .dense:
      // y = x·wᵀ + b over rows of x: dx = dy·w, dw = dyᵀ·x, db = Σ dy.
      let (x, w) = (inputs[0], inputs[1])
      let (out, features) = (type(w).shape[0], type(w).shape[1])
      let rows = type(x).elementCount / features
      let dyRows = try reshape(dy, [rows, out], name: "\(name).dy_rows")
      return [
        try wanted(0) { try reshape(try emit("\(name).input", .matmul(MatMulAttrs()), [dyRows, w]), type(x).shape, name: "\(name).input") },
        try wanted(1) {
          let xRows = try reshape(x, [rows, features], name: "\(name).x_rows")
          let dyT = try emit("\(name).dy_t", .transpose(TransposeAttrs(permutation: [1, 0])), [dyRows])
          return try emit("\(name).weight", .matmul(MatMulAttrs()), [dyT, xRows])
        },
        try wanted(2) { try emit("\(name).bias", .reduce(ReduceAttrs(.sum, axes: [0])), [dyRows]) },
      ]

    case .matmul:
      // y = a·b: da = dy·bᵀ, db = aᵀ·dy, each summed over the batch axes it was broadcast along.
      let (a, b) = (inputs[0], inputs[1])
      return [
        try wanted(0) { try sum(try emit("\(name).a", .matmul(MatMulAttrs()), [dy, try swapLastAxes(b, name: "\(name).b_t")]), to: type(a).shape, name: "\(name).a") },
        try wanted(1) { try sum(try emit("\(name).b", .matmul(MatMulAttrs()), [try swapLastAxes(a, name: "\(name).a_t"), dy]), to: type(b).shape, name: "\(name).b") },
      ]

    case .embedding:
      let vocabulary = type(inputs[1]).shape[0]
      return [nil, try wanted(1) { try emit("\(name).weight", .embeddingGrad(EmbeddingGradAttrs(vocabulary: vocabulary)), [inputs[0], dy]) }]

    case .binary(let a):
      let (left, right) = (inputs[0], inputs[1])
      let (leftShape, rightShape) = (type(left).shape, type(right).shape)
      switch a.op {
      case .add:
        return [try wanted(0) { try sum(dy, to: leftShape, name: "\(name).a") }, try wanted(1) { try sum(dy, to: rightShape, name: "\(name).b") }]
      case .sub:
        return [
          try wanted(0) { try sum(dy, to: leftShape, name: "\(name).a") },
          try wanted(1) { try scale(try sum(dy, to: rightShape, name: "\(name).b_sum"), by: -1, name: "\(name).b") },
        ]
      case .mul:
        return [
          try wanted(0) { try sum(try emit("\(name).a_term", .binary(BinaryAttrs(.mul)), [dy, right]), to: leftShape, name: "\(name).a") },
          try wanted(1) { try sum(try emit("\(name).b_term", .binary(BinaryAttrs(.mul)), [dy, left]), to: rightShape, name: "\(name).b") },
        ]
      case .div:
        // d(a/b)/db = −(a/b)/b = −y/b.
        return [
          try wanted(0) { try sum(try emit("\(name).a_term", .binary(BinaryAttrs(.div)), [dy, right]), to: leftShape, name: "\(name).a") },
          try wanted(1) {
            let term = try emit("\(name).b_term", .binary(BinaryAttrs(.div)), [try emit("\(name).dy_y", .binary(BinaryAttrs(.mul)), [dy, y]), right])
            return try scale(try sum(term, to: rightShape, name: "\(name).b_sum"), by: -1, name: "\(name).b")
          },
        ]
      }

    case .unary(let a):
      return [try wanted(0) { try emit("\(name).input", .unaryGrad(UnaryGradAttrs(a.function)), [inputs[0], y, dy]) }]

    case .fusedElementwise:
      throw KilnError.invalidArgument("\(name) (\(node.op.mnemonic)): fused ops are written for compiled code after differentiation; differentiate the graph before Graph.fusingElementwise")

    case .maxout(let a):
      return [try wanted(0) { try emit("\(name).input", .maxoutGrad(MaxoutGradAttrs(maxout: a)), [inputs[0], dy]) }]

    case .softmax(let a):
      let sumAxis = Op.reduce(ReduceAttrs(.sum, axes: [a.axis], keepDims: true))
      return [
        try wanted(0) {
          if a.log {
            // y = x − log Σ eˣ: dx = dy − softmax(x)·Σ dy.
            let probabilities = try emit("\(name).softmax", .softmax(SoftmaxAttrs(axis: a.axis)), [inputs[0]])
            let total = try emit("\(name).dy_sum", sumAxis, [dy])
            let spread = try emit("\(name).spread", .binary(BinaryAttrs(.mul)), [probabilities, total])
            return try emit("\(name).input", .binary(BinaryAttrs(.sub)), [dy, spread])
          }
          // dx = y·(dy − Σ dy·y).
          let weighted = try emit("\(name).dy_y", .binary(BinaryAttrs(.mul)), [dy, y])
          let total = try emit("\(name).dy_y_sum", sumAxis, [weighted])
          let centered = try emit("\(name).centered", .binary(BinaryAttrs(.sub)), [dy, total])
          return try emit("\(name).input", .binary(BinaryAttrs(.mul)), [y, centered])
        }
      ]

    case .reduce(let a):
      return [try wanted(0) { try emit("\(name).input", .reduceGrad(ReduceGradAttrs(reduce: a)), [inputs[0], dy]) }]

    case .concat(let a):
      var offset = 0
      return try inputs.indices.map { i in
        let size = type(inputs[i]).shape[a.axis]
        defer { offset += size }
        return try wanted(i) { try emit("\(name).part", .slice(SliceAttrs(axis: a.axis, start: offset, end: offset + size)), [dy]) }
      }

    case .slice(let a):
      return [try wanted(0) { try emit("\(name).input", .sliceGrad(SliceGradAttrs(slice: a, inputShape: type(inputs[0]).shape)), [dy]) }]

    case .reshape:
      return [try wanted(0) { try reshape(dy, type(inputs[0]).shape, name: "\(name).input") }]

    case .transpose(let a):
      var inverse = a.permutation
      for (i, axis) in a.permutation.enumerated() { inverse[axis] = i }
      return [try wanted(0) { try emit("\(name).input", .transpose(TransposeAttrs(permutation: inverse)), [dy]) }]

    case .pad(let a):
      return [try wanted(0) { try emit("\(name).input", .padGrad(PadGradAttrs(pad: a)), [dy]) }]

    case .resize(let a):
      return [try wanted(0) { try emit("\(name).input", .resizeGrad(ResizeGradAttrs(resize: a, inputShape: type(inputs[0]).shape)), [dy]) }]

    case .batchNorm(let a):
      let arguments = [inputs[0], inputs[1], inputs[3], inputs[4], dy]
      func gradient(_ operand: BatchNormOperand, _ extra: [ValueID] = []) throws -> ValueID {
        try emit("\(name).\(operand.rawValue)", .batchNormGrad(BatchNormGradAttrs(epsilon: a.epsilon, operand: operand)), arguments + extra)
      }
      guard a.batchStatistics else {
        return try [BatchNormOperand.input, .gamma, .beta, .mean, .variance].enumerated().map { i, operand in try wanted(i) { try gradient(operand) } }
      }
      // With batch statistics, x's gradient includes theirs (from γ's and β's, which it then
      // needs even when they are frozen), and they get none.
      let needed = { (i: Int) in i < needs.count && needs[i] }
      let gamma = needed(0) || needed(1) ? try gradient(.gamma) : nil
      let beta = needed(0) || needed(2) ? try gradient(.beta) : nil
      let input = try wanted(0) { try gradient(.inputWithStatistics, [gamma!, beta!]) }
      return [input, needed(1) ? gamma : nil, needed(2) ? beta : nil, nil, nil]

    case .lrn(let a):
      return [try wanted(0) { try emit("\(name).input", .lrnGrad(LRNGradAttrs(lrn: a)), [inputs[0], dy]) }]

    case .dropout(let a):
      // The same mask (same seed, step and element indices) and scale: dropout is linear.
      return [try wanted(0) { try emit("\(name).input", .dropout(a), [dy]) }]

    case .loss(let a):
      let arguments = [inputs[0], inputs[1], dy]
      return [
        try wanted(0) { try emit("\(name).prediction", .lossGrad(LossGradAttrs(loss: a, operand: .prediction)), arguments) },
        try wanted(1) { try emit("\(name).target", .lossGrad(LossGradAttrs(loss: a, operand: .target)), arguments) },
      ]

    case .allReduce(let a):
      // y = Σₚ wₚ·xₚ on every process. Each process differentiates its own loss Lₚ, and the job's
      // loss is Σₚ wₚ·Lₚ (the gradient exchange weighs each process's gradient by wₚ), so the
      // cotangent x needs is Σₚ wₚ·∂Lₚ/∂y: the same exchange applied to the cotangents.
      return [try wanted(0) { try emit("\(name).input", .allReduce(a), [dy]) }]

    case .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad,
      .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      throw KilnError.invalidArgument("\(name) (\(node.op.mnemonic)): second-order gradients are not supported")
    }
  }

  // MARK: - Helpers

  /// Σ dy over every axis but the channels: the gradient of a per-channel bias.
  private mutating func biasGradient(_ dy: ValueID, name: String) throws -> ValueID {
    let axes = [0] + Array(2..<type(dy).rank)
    return try emit("\(name).bias", .reduce(ReduceAttrs(.sum, axes: axes)), [dy])
  }

  private mutating func reshape(_ value: ValueID, _ shape: [Int], name: String) throws -> ValueID {
    type(value).shape == shape ? value : try emit(name, .reshape(ReshapeAttrs(shape: shape)), [value])
  }

  private mutating func scale(_ value: ValueID, by factor: Double, name: String) throws -> ValueID {
    try emit(name, .unary(UnaryAttrs(.affine(scale: factor, shift: 0))), [value])
  }

  private mutating func swapLastAxes(_ value: ValueID, name: String) throws -> ValueID {
    let rank = type(value).rank
    return try emit(name, .transpose(TransposeAttrs(permutation: Array(0..<(rank - 2)) + [rank - 1, rank - 2])), [value])
  }

  /// `value` summed over the axes along which `shape` was broadcast to produce it.
  private mutating func sum(_ value: ValueID, to shape: [Int], name: String) throws -> ValueID {
    let source = type(value).shape
    if source == shape { return value }
    let extra = source.count - shape.count
    let axes = source.indices.filter { $0 < extra || (shape[$0 - extra] == 1 && source[$0] != 1) }
    let reduced = axes.isEmpty ? value : try emit("\(name).unbroadcast", .reduce(ReduceAttrs(.sum, axes: axes, keepDims: true)), [value])
    return try reshape(reduced, shape, name: "\(name).shape")
  }
}
