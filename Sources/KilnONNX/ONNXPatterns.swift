import Kiln

/// Activations that exporters spell out in several nodes, rewritten into one node before import,
/// so that Kiln sees one activation and fuses it into the convolution that produces its input:
/// PyTorch's SiLU, x·sigmoid(x), becomes `Swish` (ONNX's name, α = 1), its exact GELU,
/// x·(erf(x/√2) + 1)·½, becomes `Gelu`, and a MatMul by a constant matrix plus a constant bias
/// becomes one `Gemm`. Only intermediate values nothing else reads are folded.
enum ONNXPatterns {
  static func fused(_ graph: Onnx_GraphProto) -> [Onnx_NodeProto] {
    var nodes = graph.node
    var producer: [String: Int] = [:]
    var readers: [String: Int] = [:]
    for (index, node) in nodes.enumerated() {
      for output in node.output { producer[output] = index }
      for input in node.input { readers[input, default: 0] += 1 }
    }
    for output in graph.output { readers[output.name, default: 0] += 1 }
    var scalars: [String: Float] = [:]
    for initializer in graph.initializer where initializer.holdsFloats && initializer.dims.allSatisfy({ $0 == 1 }) {
      if let tensor = try? initializer.floatTensor(), tensor.count == 1 { scalars[initializer.name] = tensor.scalars[0] }
    }
    for node in nodes where node.opType == "Constant" && node.attribute.first?.name == "value" {
      if let tensor = try? node.attribute[0].t.floatTensor(), tensor.count == 1, node.attribute[0].t.holdsFloats { scalars[node.output[0]] = tensor.scalars[0] }
    }
    /// The node producing `name` when it is `opType` and nothing but one node reads `name`.
    func privateNode(_ name: String, _ opType: String) -> Int? {
      guard let index = producer[name], nodes[index].opType == opType, readers[name] == 1, nodes[index].domain.isEmpty else { return nil }
      return index
    }
    func isScalar(_ name: String, _ value: Float) -> Bool { scalars[name].map { abs($0 - value) <= 1e-6 * max(1, abs(value)) } ?? false }
    /// The two inputs of binary node `index`, each order tried.
    func operands(_ index: Int) -> [(String, String)] {
      let node = nodes[index]
      guard node.input.count == 2 else { return [] }
      return [(node.input[0], node.input[1]), (node.input[1], node.input[0])]
    }
    var removed = Set<Int>()
    for index in nodes.indices where nodes[index].opType == "Mul" && nodes[index].domain.isEmpty {
      // x·sigmoid(x)
      for (x, gate) in operands(index) {
        if let sigmoid = privateNode(gate, "Sigmoid"), nodes[sigmoid].input.first == x {
          removed.insert(sigmoid)
          nodes[index] = replacement(of: nodes[index], opType: "Swish", input: x)
          break
        }
      }
      guard nodes[index].opType == "Mul" else { continue }
      // (x·(erf(x/√2) + 1))·½
      for (product, half) in operands(index) where isScalar(half, 0.5) {
        guard let outer = privateNode(product, "Mul") else { continue }
        for (x, sum) in operands(outer) {
          guard let add = privateNode(sum, "Add") else { continue }
          for (erfOutput, one) in operands(add) where isScalar(one, 1) {
            guard let erf = privateNode(erfOutput, "Erf"), let division = nodes[erf].input.first.flatMap({ privateNode($0, "Div") }),
              nodes[division].input.count == 2, nodes[division].input[0] == x, isScalar(nodes[division].input[1], Float(2).squareRoot())
            else { continue }
            removed.formUnion([outer, add, erf, division])
            nodes[index] = replacement(of: nodes[index], opType: "Gelu", input: x)
          }
          if nodes[index].opType == "Gelu" { break }
        }
        if nodes[index].opType == "Gelu" { break }
      }
    }
    // x·W + b with constant W [in, out] and b [out] (a linear layer on any rank, as ConvNeXt's
    // MLPs export): one Gemm, which becomes a dense layer with a bias that activations fuse into.
    let dims = Dictionary(graph.initializer.map { ($0.name, $0.dims) }, uniquingKeysWith: { first, _ in first })
    for index in nodes.indices where nodes[index].opType == "Add" && nodes[index].domain.isEmpty && !removed.contains(index) {
      for (product, bias) in operands(index) {
        guard let matmul = privateNode(product, "MatMul"), nodes[matmul].input.count == 2, let weight = dims[nodes[matmul].input[1]],
          weight.count == 2, dims[bias] == [weight[1]]
        else { continue }
        removed.insert(matmul)
        var gemm = replacement(of: nodes[index], opType: "Gemm", input: nodes[matmul].input[0])
        gemm.input += [nodes[matmul].input[1], bias]
        nodes[index] = gemm
        break
      }
    }
    return nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
  }

  /// A one-input node `opType` in place of `node`, with its name and output.
  private static func replacement(of node: Onnx_NodeProto, opType: String, input: String) -> Onnx_NodeProto {
    var fused = Onnx_NodeProto()
    fused.opType = opType
    fused.name = node.name
    fused.input = [input]
    fused.output = node.output
    return fused
  }
}
