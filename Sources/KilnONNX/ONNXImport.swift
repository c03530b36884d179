import Foundation
import Kiln

/// Imports ONNX models (opset 11–21, standard domain) as Kiln models: the graph in Kiln's ops,
/// initializers as parameters. `kiln summary|run|bench|compile model.onnx` use it, and
/// `kiln import` converts a model to Kiln's own files.
public enum ONNXImport {
  /// The operators Kiln maps; anything else is reported, every one of them at once.
  public static let supportedOperators: Set<String> = [
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
    "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "BatchNormalization", "Dropout", "Flatten", "Reshape", "Transpose", "Concat", "Split", "Slice", "Pad",
    "Identity", "Constant", "Clip", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Sqrt", "ReduceMean", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceL2", "ReduceSumSquare", "LayerNormalization", "Unsqueeze", "Squeeze", "Shape", "Gather", "Cast", "Range",
    "ConstantOfShape", "Resize", "Upsample", "Swish", "LRN",
  ]

  /// Reads the ONNX model at `path`. `inputShapes` gives the shape of inputs whose dimensions are
  /// symbolic (a batch size `N`), by input name, and `defaultShape` that of any other dynamic input
  /// (kiln's `--input-shape`); `constants` fixes inputs to values, which then count as
  /// initializers (a shape or pads fed as an input, as ONNX's node tests do).
  public static func model(
    path: String, inputShapes: [String: [Int]] = [:], defaultShape: [Int]? = nil, constants: [String: Tensor<Float>] = [:]
  ) throws -> Model {
    do {
      let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
      // The file is mapped, not read, and unmapped once decoded.
      return try model(proto: decode(mappedFile(path)), name: name, inputShapes: inputShapes, defaultShape: defaultShape, constants: constants)
    } catch let error as KilnError {
      throw KilnError.file(path: path, message: "\(error)")
    }
  }

  /// A model from the bytes of an ONNX file.
  public static func model(
    data: Data, name: String, inputShapes: [String: [Int]] = [:], defaultShape: [Int]? = nil, constants: [String: Tensor<Float>] = [:]
  ) throws -> Model {
    try model(proto: decode(data), name: name, inputShapes: inputShapes, defaultShape: defaultShape, constants: constants)
  }

  private static func mappedFile(_ path: String) throws -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
      throw KilnError.invalidArgument("cannot be read (\(error.localizedDescription))")
    }
  }

  private static func decode(_ data: Data) throws -> Onnx_ModelProto {
    do { return try Onnx_ModelProto(serializedBytes: data) } catch {
      throw KilnError.invalidArgument("not a valid ONNX model: the protobuf does not decode (\(error)); is the file truncated?")
    }
  }

  /// `proto` is consumed: its initializers' bytes are released as they become Kiln tensors.
  private static func model(
    proto: consuming Onnx_ModelProto, name: String, inputShapes: [String: [Int]], defaultShape: [Int]?, constants: [String: Tensor<Float>]
  ) throws -> Model {
    guard proto.hasGraph else { throw KilnError.invalidArgument("not an ONNX model: it has no graph") }
    let opset = proto.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) } ?? 0
    guard (7...22).contains(opset) else {
      throw KilnError.invalidArgument("the model uses ONNX opset \(opset); Kiln imports opsets 11 to 21 (and older ones whose operators did not change)")
    }
    var graph = proto.graph
    proto = Onnx_ModelProto()
    let nodes = ONNXPatterns.fused(graph)
    let unsupported = nodes.filter { !supportedOperators.contains($0.opType) || !($0.domain.isEmpty || $0.domain == "ai.onnx") }
    if !unsupported.isEmpty {
      let listed = unsupported.map { "\($0.opType) (\($0.name.isEmpty ? $0.output.first ?? "?" : $0.name))" }
      throw KilnError.invalidArgument(
        "\(unsupported.count) node\(unsupported.count == 1 ? " uses an operator" : "s use operators") Kiln does not import: \(listed.joined(separator: ", "))")
    }
    var importer = ONNXGraphImporter(name: graph.name.isEmpty ? name : graph.name, opset: opset)
    try importer.addInputs(&graph, shapes: inputShapes, defaultShape: defaultShape, constants: constants)
    for node in nodes {
      do {
        try importer.add(node)
      } catch let error as KilnError {
        throw KilnError.invalidArgument("node \(node.name.isEmpty ? node.output.first ?? "?" : node.name) (\(node.opType)): \(error)")
      }
    }
    return try importer.finish(outputs: graph.output.map(\.name))
  }
}
