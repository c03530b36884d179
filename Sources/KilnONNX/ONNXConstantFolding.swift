import Kiln

/// Shape computations done at import time. Kiln's shapes are static, so `Shape` of any value is a
/// constant, and the small integer arithmetic exporters wrap around it (gather a dimension,
/// multiply, unsqueeze, concatenate into a target shape) folds into constants that a Reshape,
/// Slice or Resize then reads as its settings.
extension ONNXGraphImporter {
  /// Operators folded when every input is a constant (`Shape` always is).
  static let foldable: Set<String> = [
    "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Range", "Add", "Sub", "Mul", "Div", "Slice",
    "ConstantOfShape", "Reshape",
  ]

  /// Computes `node` into a constant when it is a shape computation on constants; returns
  /// whether it did (else the node becomes Kiln ops).
  mutating func fold(_ node: Onnx_NodeProto, _ a: ONNXAttributes) throws -> Bool {
    let inputs = node.input
    guard Self.foldable.contains(node.opType), let out = node.output.first else { return false }
    if node.opType == "Shape" {
      let dims = try shape(value(inputs[0]))
      let (start, end) = (try bound(a.int("start", default: 0), dims.count), try bound(a.int("end", default: dims.count), dims.count))
      let slice = start < end ? Array(dims[start..<end]) : []
      define(constant: out, try Tensor(shape: [slice.count], scalars: slice.map(Float.init)), integer: true)
      return true
    }
    let given = inputs.filter { !$0.isEmpty }
    guard given.allSatisfy(isConstant) else { return false }
    let x = try constant(given[0])
    let integer = given.allSatisfy(isInteger)
    switch node.opType {
    case "Gather":
      let axis = try normalized(a.int("axis", default: 0), rank: x.rank)
      let indices = try constant(inputs[1])
      let size = x.shape[axis]
      let picked = try gatherIndices(indices, axis: axis, of: x.shape)
      let outer = x.shape[..<axis].reduce(1, *)
      let inner = x.shape[(axis + 1)...].reduce(1, *)
      var scalars: [Float] = []
      for o in 0..<outer {
        for index in picked { scalars += x.scalars[((o * size + index) * inner)..<((o * size + index + 1) * inner)] }
      }
      let shape = Array(x.shape[..<axis]) + indices.shape + Array(x.shape[(axis + 1)...])
      define(constant: out, try Tensor(shape: shape, scalars: scalars), integer: integer)
    case "Unsqueeze":
      define(constant: out, try x.reshaped(try unsqueezed(x.shape, axes: ints(inputs, 1, attribute: "axes", a))), integer: integer)
    case "Squeeze":
      define(constant: out, try x.reshaped(try squeezed(x.shape, axes: ints(inputs, 1, attribute: "axes", a))), integer: integer)
    case "Concat":
      let parts = try given.map { try constant($0) }
      let axis = try normalized(a.int("axis", default: 0), rank: x.rank)
      guard parts.allSatisfy({ $0.rank == x.rank && $0.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == x.shape[$0.offset] } }) else {
        throw KilnError.invalidArgument("cannot concatenate \(parts.map(\.shape)) along axis \(axis)")
      }
      let outer = x.shape[..<axis].reduce(1, *)
      var scalars: [Float] = []
      for o in 0..<outer {
        for part in parts {
          let run = part.shape[axis...].reduce(1, *)
          scalars += part.scalars[(o * run)..<((o + 1) * run)]
        }
      }
      var shape = x.shape
      shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
      define(constant: out, try Tensor(shape: shape, scalars: scalars), integer: integer)
    case "Cast":
      // ONNX's float types: float, float16, double, bfloat16; every other one holds integers.
      let toInteger = ![1, 10, 11, 16].contains(a.int("to", default: 1))
      let isBool = a.int("to", default: 1) == 9
      let scalars = x.scalars.map { isBool ? ($0 != 0 ? 1 : 0) : toInteger ? $0.rounded(.towardZero) : $0 }
      define(constant: out, try Tensor(shape: x.shape, scalars: scalars), integer: toInteger)
    case "Range":
      let (start, limit, delta) = (x.scalars.first ?? 0, try constant(inputs[1]).scalars.first ?? 0, try constant(inputs[2]).scalars.first ?? 0)
      guard delta != 0 else { throw KilnError.invalidArgument("Range's delta is 0") }
      let count = max(Int(((limit - start) / delta).rounded(.up)), 0)
      guard count > 0 else { throw KilnError.invalidArgument("Range(\(start), \(limit), \(delta)) is empty; Kiln has no empty tensors") }
      define(constant: out, try Tensor(shape: [count], scalars: (0..<count).map { start + Float($0) * delta }), integer: integer)
    case "Add", "Sub", "Mul", "Div":
      let y = try constant(inputs[1])
      let f: (Float, Float) -> Float = switch node.opType {
      case "Add": (+)
      case "Sub": (-)
      case "Mul": (*)
      default: integer ? { ($0 / $1).rounded(.towardZero) } : (/)
      }
      define(constant: out, try broadcasting(x, y, f), integer: integer)
    case "Slice":
      define(constant: out, try slicedConstant(x, a, inputs: inputs), integer: integer)
    case "ConstantOfShape":
      let shape = try x.scalars.map { try settingInt($0) }
      let fill = try a.tensor("value").map { try $0.floatTensor() }
      let tensor = try Tensor(shape: shape, repeating: fill?.scalars.first ?? 0)
      _ = try checkedCount(shape, of: "ConstantOfShape's output")
      define(constant: out, tensor, integer: a.tensor("value").map { !$0.holdsFloats } ?? false)
    case "Reshape":
      guard let requested = try ints(inputs, 1, attribute: "shape", a) else { throw KilnError.invalidArgument("the target shape is missing") }
      define(constant: out, try x.reshaped(reshapeTarget(x.shape, requested, allowZero: a.int("allowzero", default: 0) != 0)), integer: integer)
    default:
      return false
    }
    return true
  }

  /// Gather's constant `indices` along `axis` of `shape`, negative ones counted from the end.
  func gatherIndices(_ indices: Tensor<Float>, axis: Int, of shape: [Int]) throws -> [Int] {
    try indices.scalars.map { value in
      let index = try settingInt(value)
      guard index >= -shape[axis], index < shape[axis] else { throw KilnError.invalidArgument("index \(index) is outside axis \(axis) of \(shape)") }
      return index < 0 ? index + shape[axis] : index
    }
  }

  /// `index` of Shape's start or end, negative ones counted from the end, clamped to the rank.
  private func bound(_ index: Int, _ rank: Int) throws -> Int { min(max(index < 0 ? index + rank : index, 0), rank) }

  /// `shape` with size-1 axes inserted at `axes` (positions in the result).
  func unsqueezed(_ shape: [Int], axes: [Int]?) throws -> [Int] {
    guard let axes else { throw KilnError.invalidArgument("axes are required") }
    let rank = shape.count + axes.count
    let inserted = Set(try axes.map { try normalized($0, rank: rank) })
    guard inserted.count == axes.count else { throw KilnError.invalidArgument("axes \(axes) repeat an axis") }
    var dims = shape.makeIterator()
    return (0..<rank).map { inserted.contains($0) ? 1 : dims.next()! }
  }

  /// `shape` without `axes` (each of size 1), or without every axis of size 1.
  func squeezed(_ shape: [Int], axes: [Int]?) throws -> [Int] {
    guard let axes else { return shape.filter { $0 != 1 } }
    let removed = Set(try axes.map { try normalized($0, rank: shape.count) })
    guard removed.allSatisfy({ shape[$0] == 1 }) else { throw KilnError.invalidArgument("cannot squeeze axes \(axes) of \(shape): each must have size 1") }
    return shape.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
  }

  /// `f(x, y)` elementwise with numpy broadcasting.
  private func broadcasting(_ x: Tensor<Float>, _ y: Tensor<Float>, _ f: (Float, Float) -> Float) throws -> Tensor<Float> {
    let rank = max(x.rank, y.rank)
    let (xs, ys) = (Array(repeating: 1, count: rank - x.rank) + x.shape, Array(repeating: 1, count: rank - y.rank) + y.shape)
    let shape = try (0..<rank).map { axis -> Int in
      guard xs[axis] == ys[axis] || xs[axis] == 1 || ys[axis] == 1 else { throw KilnError.invalidArgument("shapes \(x.shape) and \(y.shape) do not broadcast") }
      return max(xs[axis], ys[axis])
    }
    let count = try checkedCount(shape, of: "the result")
    let scalars = (0..<count).map { flat -> Float in
      var (rest, i, j, xStride, yStride) = (flat, 0, 0, 1, 1)
      for axis in (0..<rank).reversed() {
        let coordinate = rest % shape[axis]
        rest /= shape[axis]
        if xs[axis] > 1 { i += coordinate * xStride }
        if ys[axis] > 1 { j += coordinate * yStride }
        xStride *= xs[axis]
        yStride *= ys[axis]
      }
      return f(x.scalars[i], y.scalars[j])
    }
    return try Tensor(shape: shape, scalars: scalars)
  }

  /// A constant sliced with ONNX Slice's starts, ends, axes and steps (either sign).
  private func slicedConstant(_ x: Tensor<Float>, _ a: ONNXAttributes, inputs: [String]) throws -> Tensor<Float> {
    guard let starts = try ints(inputs, 1, attribute: "starts", a, clamped: true), let ends = try ints(inputs, 2, attribute: "ends", a, clamped: true) else {
      throw KilnError.invalidArgument("starts and ends are required")
    }
    let axes = try (ints(inputs, 3, attribute: "axes", a) ?? Array(starts.indices)).map { try normalized($0, rank: x.rank) }
    let steps = try ints(inputs, 4, attribute: "steps", a) ?? starts.map { _ in 1 }
    guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count, !steps.contains(0) else {
      throw KilnError.invalidArgument("starts, ends, axes and steps have \([starts, ends, axes, steps].map(\.count)) entries (steps not 0)")
    }
    // The positions kept along each axis.
    var kept = x.shape.map { Array(0..<$0) }
    for (i, axis) in axes.enumerated() {
      let size = x.shape[axis]
      func clamp(_ v: Int, _ low: Int, _ high: Int) -> Int { min(max(v < 0 ? v + size : v, low), high) }
      kept[axis] = steps[i] > 0
        ? Array(stride(from: clamp(starts[i], 0, size), to: clamp(ends[i], 0, size), by: steps[i]))
        : Array(stride(from: clamp(starts[i], 0, size - 1), to: clamp(ends[i], -1, size - 1), by: steps[i]))
    }
    let shape = kept.map(\.count)
    guard !shape.contains(0) else { throw KilnError.invalidArgument("the slice of \(x.shape) is empty; Kiln has no empty tensors") }
    let strides = (0..<x.rank).map { x.shape[($0 + 1)...].reduce(1, *) }
    var offsets = [0]
    for axis in 0..<x.rank { offsets = offsets.flatMap { base in kept[axis].map { base + $0 * strides[axis] } } }
    return try Tensor(shape: shape, scalars: offsets.map { x.scalars[$0] })
  }
}
