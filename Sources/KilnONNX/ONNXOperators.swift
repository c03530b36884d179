import Kiln

/// The ONNX operators whose mapping takes more than one Kiln node or reads constants.
extension ONNXGraphImporter {
  /// Padding of a window op from `pads` or `auto_pad` (SAME_UPPER puts the odd pixel after).
  func windowPadding(_ a: ONNXAttributes, spatial: [Int], kernel: [Int], stride: [Int], dilation: [Int]) throws -> Padding {
    let n = spatial.count
    for (name, list) in [("kernel_shape", kernel), ("strides", stride), ("dilations", dilation)] {
      guard list.count == n else { throw KilnError.invalidArgument("\(name) has \(list.count) entries for \(n) spatial axes") }
      guard list.allSatisfy({ $0 >= 1 }) else { throw KilnError.invalidArgument("\(name) \(list) must be positive") }
    }
    switch a.string("auto_pad", default: "NOTSET") {
    case "NOTSET":
      let pads = a.ints("pads") ?? Array(repeating: 0, count: 2 * n)
      guard pads.count == 2 * n else { throw KilnError.invalidArgument("pads has \(pads.count) entries for \(n) spatial axes") }
      return Padding(before: Array(pads[..<n]), after: Array(pads[n...]))
    case "VALID":
      return Padding(before: Array(repeating: 0, count: n), after: Array(repeating: 0, count: n))
    case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
      let totals = (0..<n).map { i -> Int in
        let outputs = (spatial[i] + stride[i] - 1) / stride[i]
        let reach: Int = (outputs - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1
        return max(reach - spatial[i], 0)
      }
      let small = totals.map { $0 / 2 }
      let large = zip(totals, small).map { $0 - $1 }
      return mode == "SAME_UPPER" ? Padding(before: small, after: large) : Padding(before: large, after: small)
    case let mode:
      throw KilnError.invalidArgument("auto_pad \(mode) is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    }
  }

  /// A window op's spatial input sizes, kernel (default: the weight's), strides and dilations
  /// (default 1).
  func windowSettings(_ a: ONNXAttributes, x: ValueID, kernel weightKernel: [Int]?) throws -> (spatial: [Int], kernel: [Int], stride: [Int], dilation: [Int]) {
    let spatial = Array(shape(x).dropFirst(2))
    guard let kernel = a.ints("kernel_shape") ?? weightKernel else { throw KilnError.invalidArgument("kernel_shape is required") }
    return (spatial, kernel, a.ints("strides") ?? spatial.map { _ in 1 }, a.ints("dilations") ?? spatial.map { _ in 1 })
  }

  /// Input, weight and (when given) bias of a convolution.
  mutating func weightedOperands(_ inputs: [String]) throws -> [ValueID] {
    try [value(inputs[0]), value(inputs[1])] + (Self.optional(inputs, 2).map { [try value($0)] } ?? [])
  }

  mutating func convolution(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    let operands = try weightedOperands(inputs)
    let (spatial, kernel, stride, dilation) = try windowSettings(a, x: operands[0], kernel: Array(shape(operands[1]).dropFirst(2)))
    let padding = try windowPadding(a, spatial: spatial, kernel: kernel, stride: stride, dilation: dilation)
    let attrs = ConvAttrs(stride: stride, padding: padding, dilation: dilation, groups: a.int("group", default: 1))
    define(out, try append(out, .conv(attrs), operands))
  }

  mutating func transposedConvolution(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    let operands = try weightedOperands(inputs)
    let (spatial, kernel, stride, dilation) = try windowSettings(a, x: operands[0], kernel: Array(shape(operands[1]).dropFirst(2)))
    let n = spatial.count
    var outputPadding = a.ints("output_padding") ?? Array(repeating: 0, count: n)
    let autoPad = a.string("auto_pad", default: "NOTSET")
    var padding: Padding
    let requested = a.ints("output_shape").map { Array($0.suffix(n)) } ?? (autoPad.hasPrefix("SAME") ? zip(spatial, stride).map(*) : nil)
    guard [kernel, stride, dilation, outputPadding, requested ?? spatial].allSatisfy({ $0.count == n }) else {
      throw KilnError.invalidArgument("kernel_shape, strides, dilations, output_padding and output_shape need \(n) entries each")
    }
    if let requested {
      // ONNX: total = stride·(in − 1) + output_padding + (k − 1)·d + 1 − out, split with the odd
      // pixel after for SAME_UPPER, before otherwise.
      let totals = (0..<n).map { i -> Int in
        let full: Int = stride[i] * (spatial[i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilation[i] + 1
        return full - requested[i]
      }
      guard totals.allSatisfy({ $0 >= 0 }) || totals.allSatisfy({ $0 <= 0 && -$0 < stride.max()! }) else {
        throw KilnError.invalidArgument("output_shape \(requested) cannot be reached from \(spatial)")
      }
      if totals.contains(where: { $0 < 0 }) {
        outputPadding = zip(outputPadding, totals).map { $0 - min($1, 0) }
      }
      let positive = totals.map { max($0, 0) }
      let half = positive.map { $0 / 2 }
      let rest = zip(positive, half).map { $0 - $1 }
      padding = autoPad == "SAME_UPPER" ? Padding(before: half, after: rest) : Padding(before: rest, after: half)
    } else {
      padding = try windowPadding(a, spatial: spatial, kernel: kernel, stride: stride, dilation: dilation)
    }
    let attrs = ConvTransposeAttrs(stride: stride, padding: padding, outputPadding: outputPadding, dilation: dilation, groups: a.int("group", default: 1))
    define(out, try append(out, .convTranspose(attrs), operands))
  }

  mutating func pool(_ a: ONNXAttributes, out: String, x: ValueID, kind: PoolKind) throws {
    let (spatial, kernel, stride, dilation) = try windowSettings(a, x: x, kernel: nil)
    let padding = try windowPadding(a, spatial: spatial, kernel: kernel, stride: stride, dilation: dilation)
    let attrs = PoolAttrs(
      kind: kind, kernel: kernel, stride: stride, padding: padding, ceilMode: a.int("ceil_mode", default: 0) != 0,
      countIncludePad: a.int("count_include_pad", default: 0) != 0, dilation: dilation)
    define(out, try append(out, .pool(attrs), [x]))
  }

  /// Softmax along `axis`; before opset 13 the input is seen as 2D `[∏ axes before, ∏ axes from]`.
  mutating func softmax(_ a: ONNXAttributes, out: String, x: ValueID, log: Bool) throws {
    let original = shape(x)
    let legacy = opset < 13
    let axis = try normalized(a.int("axis", default: legacy ? 1 : -1), rank: original.count)
    guard legacy, axis != original.count - 1 else {
      define(out, try append(out, .softmax(SoftmaxAttrs(axis: axis, log: log)), [x]))
      return
    }
    let flat = try append(out, suffix: ".2d", .reshape(ReshapeAttrs(shape: Self.matrix(original, splitAt: axis))), [x])
    let soft = try append(out, suffix: ".softmax", .softmax(SoftmaxAttrs(axis: 1, log: log)), [flat])
    define(out, try append(out, .reshape(ReshapeAttrs(shape: original)), [soft]))
  }

  /// Y = α·A′·B′ + β·C as a dense layer when B is a constant (folding α, β and transB into the
  /// weight and bias), else as a matrix product.
  mutating func gemm(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    var x = try value(inputs[0])
    if a.int("transA", default: 0) != 0 { x = try append(out, suffix: ".a_t", .transpose(TransposeAttrs(permutation: [1, 0])), [x]) }
    let (alpha, beta) = (a.float("alpha", default: 1), a.float("beta", default: 1))
    let transB = a.int("transB", default: 0) != 0
    let c = Self.optional(inputs, 2)
    var product: ValueID
    if isConstant(inputs[1]) {
      let b = try constant(inputs[1])
      guard b.rank == 2 else { throw KilnError.invalidArgument("B must be a matrix, got \(b.shape)") }
      // Dense weights are [out, in]: B as it is with transB, transposed otherwise.
      var weight = transB ? b : try b.transposed2D()
      let columns = weight.shape[0]
      if alpha != 1 { weight = try Tensor(shape: weight.shape, scalars: weight.scalars.map { $0 * alpha }) }
      let w = transB && alpha == 1 ? try value(inputs[1]) : try parameter(inputs[1] + ".gemm", weight)
      var operands = [x, w]
      if let c, isConstant(c), try constant(c).count == columns {
        let bias = try constant(c)
        operands.append(beta == 1 && bias.rank == 1 ? try value(c) : try parameter(c + ".gemm", Tensor(shape: [columns], scalars: bias.scalars.map { $0 * beta })))
        define(out, try append(out, .dense(DenseAttrs()), operands))
        return
      }
      product = try append(out, suffix: c == nil ? "" : ".product", .dense(DenseAttrs()), operands)
    } else {
      var b = try value(inputs[1])
      if transB { b = try append(out, suffix: ".b_t", .transpose(TransposeAttrs(permutation: [1, 0])), [b]) }
      product = try append(out, suffix: ".matmul", .matmul(MatMulAttrs()), [x, b])
      product = try append(out, suffix: c == nil ? "" : ".product", .unary(UnaryAttrs(.affine(scale: Double(alpha), shift: 0))), [product])
    }
    guard let c else { define(out, product); return }
    var addend = try value(c)
    if beta != 1 { addend = try append(out, suffix: ".c", .unary(UnaryAttrs(.affine(scale: Double(beta), shift: 0))), [addend]) }
    define(out, try append(out, .binary(BinaryAttrs(.add)), [product, addend]))
  }

  /// A·B: a dense layer when B is a constant matrix, a (batched) matrix product otherwise.
  mutating func matmul(out: String, inputs: [String]) throws {
    let x = try value(inputs[0])
    guard shape(x).count >= 2 else { throw KilnError.invalidArgument("MatMul of a 1-D tensor is not supported") }
    if isConstant(inputs[1]), try constant(inputs[1]).rank == 2 {
      let w = try parameter(inputs[1] + ".transposed", try constant(inputs[1]).transposed2D())
      define(out, try append(out, .dense(DenseAttrs()), [x, w]))
      return
    }
    let b = try value(inputs[1])
    guard shape(b).count >= 2 else { throw KilnError.invalidArgument("MatMul of a 1-D tensor is not supported") }
    define(out, try append(out, .matmul(MatMulAttrs()), [x, b]))
  }

  /// Reshape to a constant shape: 0 copies the input's dimension (unless allowzero), −1 is inferred.
  mutating func reshape(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    let x = try value(inputs[0])
    guard let requested = try ints(inputs, 1, attribute: "shape", a) else { throw KilnError.invalidArgument("the target shape is missing") }
    define(out, try append(out, .reshape(ReshapeAttrs(shape: reshapeTarget(shape(x), requested, allowZero: a.int("allowzero", default: 0) != 0))), [x]))
  }

  /// Reshape's target for `original`: 0 copies the input's dimension (unless `allowZero`), −1 is
  /// inferred.
  func reshapeTarget(_ original: [Int], _ requested: [Int], allowZero: Bool) throws -> [Int] {
    var target = requested.enumerated().map { index, size in size == 0 && !allowZero && index < original.count ? original[index] : size }
    guard target.filter({ $0 == -1 }).count <= 1, target.allSatisfy({ $0 >= -1 }) else { throw KilnError.invalidArgument("cannot reshape \(original) to \(requested)") }
    _ = try checkedCount(target.map { max($0, 1) }, of: "the target shape")
    if let hole = target.firstIndex(of: -1) {
      let known = target.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
      guard known > 0, original.reduce(1, *) % known == 0 else { throw KilnError.invalidArgument("cannot reshape \(original) to \(requested)") }
      target[hole] = original.reduce(1, *) / known
    }
    return target
  }

  mutating func split(_ a: ONNXAttributes, node: Onnx_NodeProto) throws {
    let x = try value(node.input[0])
    let original = shape(x)
    let axis = try normalized(a.int("axis", default: 0), rank: original.count)
    let outputs = node.output
    var sizes = try ints(node.input, 1, attribute: "split", a) ?? []
    if sizes.isEmpty {
      let parts = a.int("num_outputs", default: outputs.count)
      guard parts >= 1 else { throw KilnError.invalidArgument("num_outputs must be at least 1") }
      let piece = (original[axis] + parts - 1) / parts
      sizes = (0..<parts).map { min(piece, original[axis] - $0 * piece) }
    }
    guard sizes.count == outputs.count, sizes.allSatisfy({ $0 > 0 }), sizes.reduce(0, +) == original[axis] else {
      throw KilnError.invalidArgument("split sizes \(sizes) do not divide axis \(axis) of \(original) into \(outputs.count) parts")
    }
    var start = 0
    for (output, size) in zip(outputs, sizes) {
      define(output, try append(output, .slice(SliceAttrs(axis: axis, start: start, end: start + size)), [x]))
      start += size
    }
  }

  /// Slice with constant bounds: one Kiln slice per sliced axis.
  mutating func slice(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    var x = try value(inputs[0])
    guard let starts = try ints(inputs, 1, attribute: "starts", a, clamped: true), let ends = try ints(inputs, 2, attribute: "ends", a, clamped: true) else {
      throw KilnError.invalidArgument("starts and ends are required")
    }
    let rank = shape(x).count
    let axes = try (ints(inputs, 3, attribute: "axes", a) ?? Array(starts.indices)).map { try normalized($0, rank: rank) }
    let steps = try ints(inputs, 4, attribute: "steps", a) ?? starts.map { _ in 1 }
    guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
      throw KilnError.invalidArgument("starts, ends, axes and steps have \([starts, ends, axes, steps].map(\.count)) entries")
    }
    let slices = try axes.indices.compactMap { i -> SliceAttrs? in
      let size = shape(x)[axes[i]]
      guard steps[i] >= 1 else { throw KilnError.invalidArgument("negative slice steps are not supported (step \(steps[i]))") }
      let start = min(max(starts[i] < 0 ? starts[i] + size : starts[i], 0), size)
      let end = min(max(ends[i] < 0 ? ends[i] + size : ends[i], 0), size)
      guard start < end else { throw KilnError.invalidArgument("the slice of axis \(axes[i]) is empty; Kiln has no empty tensors") }
      return start == 0 && end == size && steps[i] == 1 ? nil : SliceAttrs(axis: axes[i], start: start, end: end, step: steps[i])
    }
    for (index, attrs) in slices.enumerated() {
      x = try append(out, suffix: index == slices.count - 1 ? "" : ".axis\(attrs.axis)", .slice(attrs), [x])
    }
    define(out, x)
  }

  /// Gather of a computed tensor at constant indices: one slice per index, concatenated along
  /// the axis and reshaped to the indices' shape in its place.
  mutating func gather(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    let x = try value(inputs[0])
    let original = shape(x)
    let axis = try normalized(a.int("axis", default: 0), rank: original.count)
    let indices = try constant(inputs[1])
    let parts = try gatherIndices(indices, axis: axis, of: original).enumerated().map { position, index in
      try append(out, suffix: ".\(position)", .slice(SliceAttrs(axis: axis, start: index, end: index + 1)), [x])
    }
    let joined = parts.count == 1 ? parts[0] : try append(out, suffix: ".joined", .concat(ConcatAttrs(axis: axis)), parts)
    let target = Array(original[..<axis]) + indices.shape + Array(original[(axis + 1)...])
    define(out, try append(out, .reshape(ReshapeAttrs(shape: target)), [joined]))
  }

  mutating func pad(_ a: ONNXAttributes, out: String, inputs: [String]) throws {
    let x = try value(inputs[0])
    let rank = shape(x).count
    guard let pads = try ints(inputs, 1, attribute: "pads", a) else { throw KilnError.invalidArgument("pads are required") }
    let modes: [String: PaddingMode] = ["constant": .zero, "edge": .replicate, "reflect": .reflect, "wrap": .circular]
    let modeName = a.string("mode", default: "constant")
    guard let mode = modes[modeName] else { throw KilnError.invalidArgument("pad mode \(modeName) is not one of constant, edge, reflect, wrap") }
    let fill = try Self.optional(inputs, 2).map { try constant($0).scalars.first ?? 0 } ?? a.float("value", default: 0)
    let axes = try (ints(inputs, 3, attribute: "axes", a) ?? Array(0..<rank)).map { try normalized($0, rank: rank) }
    guard pads.count == 2 * axes.count else { throw KilnError.invalidArgument("pads has \(pads.count) entries for \(axes.count) axes") }
    guard pads.allSatisfy({ $0 >= 0 }) else { throw KilnError.invalidArgument("negative pads (cropping) are not supported") }
    var (before, after) = (Array(repeating: 0, count: rank), Array(repeating: 0, count: rank))
    for (i, axis) in axes.enumerated() {
      before[axis] = pads[i]
      after[axis] = pads[axes.count + i]
    }
    let padded = try append(out, suffix: fill == 0 || mode != .zero ? "" : ".zero", .pad(PadAttrs(before: before, after: after, mode: mode)), [x])
    guard fill != 0, mode == .zero else { define(out, padded); return }
    // Constant padding with a value v: zero padding plus a constant that is v in the border.
    let outer = shape(padded)
    let inner = shape(x)
    let border = try Tensor(shape: outer, scalars: (0..<outer.reduce(1, *)).map { flat in
      var rest = flat
      var inside = true
      for axis in (0..<rank).reversed() {
        let coordinate = rest % outer[axis]
        rest /= outer[axis]
        if coordinate < before[axis] || coordinate >= before[axis] + inner[axis] { inside = false }
      }
      return inside ? 0 : fill
    })
    define(out, try append(out, .binary(BinaryAttrs(.add)), [padded, try parameter(out + ".border", border)]))
  }
}

extension Tensor where Scalar == Float {
  /// A `[rows, columns]` tensor transposed.
  func transposed2D() throws -> Tensor {
    let (rows, columns) = (shape[0], shape[1])
    return try Tensor(shape: [columns, rows], scalars: (0..<(rows * columns)).map { scalars[($0 % rows) * columns + $0 / rows] })
  }
}
