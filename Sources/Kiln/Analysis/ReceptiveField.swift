/// The receptive field of a value along each spatial axis: how many input positions one of its
/// elements sees (`size`) and how far apart, in input positions, neighbouring elements are
/// (`jump`). Follows r_out = r_in + (k_eff − 1)·j_in, j_out = j_in·s for convolution and pooling,
/// with k_eff = d·(k − 1) + 1.
public struct ReceptiveField: Codable, Equatable, Sendable, CustomStringConvertible {
  /// Input positions one element sees, per spatial axis.
  public var size: [Int]
  /// Input positions between neighbouring elements, per spatial axis.
  public var jump: [Double]
  /// Where the field of the first element begins, per spatial axis, in input positions (negative
  /// under padding): element i's field starts at `start + i·jump`. Nil where Kiln does not track
  /// it (after transposed convolutions, resizes and slices).
  public var start: [Double]? = nil

  /// `5` or `5x7`, then `/ jump 2`.
  public var description: String {
    func compact<T: Equatable>(_ values: [T], _ text: (T) -> String) -> String {
      values.allSatisfy { $0 == values[0] } ? text(values[0]) : values.map(text).joined(separator: "x")
    }
    let jumps = compact(jump) { $0 == $0.rounded() ? String(Int($0)) : String($0) }
    return compact(size) { String($0) } + " / jump " + jumps
  }

  /// Receptive fields of every value of `graph`, or nil where a value sees the whole input
  /// (after global pooling, flattening or dense layers) or is not spatial.
  static func compute(_ graph: Graph) -> [ReceptiveField?] {
    var fields: [ReceptiveField?] = []
    for node in graph.nodes {
      let spatialRank = node.type.rank - 2
      let inputs = node.inputs.compactMap { fields[$0.id] }
      let first = inputs.first
      func windowed(kernel: [Int], stride: [Int], dilation: [Int], padding: [Int]) -> ReceptiveField? {
        guard var field = first, field.size.count == kernel.count else { return nil }
        for i in kernel.indices {
          field.start?[i] -= Double(padding[i]) * field.jump[i]
          field.size[i] += dilation[i] * (kernel[i] - 1) * Int(field.jump[i].rounded(.up))
          field.jump[i] *= Double(stride[i])
        }
        return field
      }
      let field: ReceptiveField?
      switch node.op {
      case .input:
        field = spatialRank >= 1
          ? ReceptiveField(
            size: Array(repeating: 1, count: spatialRank), jump: Array(repeating: 1, count: spatialRank), start: Array(repeating: 0, count: spatialRank))
          : nil
      case .parameter, .globalPool, .dense, .matmul, .embedding, .loss, .allReduce, .reduce, .convInputGrad, .convWeightGrad,
        .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad,
        .lossGrad:
        field = nil
      case .conv(let a):
        field = windowed(kernel: Array(graph[node.inputs[1]].type.shape[2...]), stride: a.stride, dilation: a.dilation, padding: a.padding.before)
      case .pool(let a):
        field = windowed(kernel: a.kernel, stride: a.stride, dilation: a.dilation, padding: a.padding.before)
      case .convTranspose(let a):
        let kernel = Array(graph[node.inputs[1]].type.shape[2...])
        guard var f = first, f.size.count == kernel.count else { field = nil; break }
        for i in kernel.indices {
          let span = a.dilation[i] * (kernel[i] - 1) + 1
          f.size[i] += ((span + a.stride[i] - 1) / a.stride[i] - 1) * Int(f.jump[i].rounded(.up))
          f.jump[i] /= Double(a.stride[i])
        }
        f.start = nil
        field = f
      case .reshape, .transpose:
        field = first.flatMap { $0.size.count == spatialRank && graph[node.inputs[0]].type.shape.suffix(spatialRank) == node.type.shape.suffix(spatialRank) ? $0 : nil }
      case .resize(let a):
        // Interpolation widens the field by one input step; the step shrinks by the scale.
        let inputSpatial = Array(graph[node.inputs[0]].type.shape.dropFirst(2))
        guard var f = first, f.size.count == a.size.count else { field = nil; break }
        for i in a.size.indices {
          if a.mode == .linear { f.size[i] += Int(f.jump[i].rounded(.up)) }
          f.jump[i] *= Double(inputSpatial[i]) / Double(a.size[i])
        }
        f.start = nil
        field = f
      case .binary, .unary, .fusedElementwise, .maxout, .softmax, .concat, .batchNorm, .lrn, .dropout:
        // Elementwise in space: the widest field among the inputs.
        field = inputs.filter { $0.size.count == spatialRank }.max { $0.size.reduce(0, +) < $1.size.reduce(0, +) }
      case .slice(let a):
        // The same fields; a spatial slice shifts and spaces them, which is not tracked.
        field = first.map { var f = $0; if a.axis >= 2 { f.start = nil }; return f }
      case .pad(let a):
        // The same fields, shifted by the padding before each spatial axis.
        field = first.map { var f = $0; for i in f.size.indices { f.start?[i] -= Double(a.before[2 + i]) * f.jump[i] }; return f }
      }
      fields.append(field)
    }
    return fields
  }
}
