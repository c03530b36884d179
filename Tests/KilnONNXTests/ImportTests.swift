import Foundation
import Kiln
import KilnLLVM
import Testing

@testable import KilnONNX

/// LeNet-5 exported from PyTorch (examples/onnx-import/export_models.py) against ONNX Runtime's
/// logits, bad models, and a seeded byte-flipping fuzzer over the importer.
@Suite struct ImportTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
  static let lenet = fixtures.appendingPathComponent("lenet5.onnx")

  @Test func lenet5FromPyTorchMatchesONNXRuntime() throws {
    let reference = try SafeTensors.read(Self.fixtures.appendingPathComponent("lenet5.reference.safetensors").path).tensors
    let (input, expected) = (try #require(reference["input"]), try #require(reference["logits"]))
    let model = try ONNXImport.model(path: Self.lenet.path, defaultShape: input.shape)
    #expect(Summary(model.graph).trainableParameters == 61_706)
    let compiler = try Compiler()
    for logits in [try model.predict(input), try compiler.compile(model).predict(input)] {
      #expect(logits.shape == [1, 10])
      #expect(zip(logits.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-4 }, "\(logits.scalars) against \(expected.scalars)")
    }
    // And ahead of time, to a shared object with its header.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-onnx-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let header = try compiler.emitSharedObject(model, to: directory.appendingPathComponent("lenet5.so").path, prefix: "lenet5")
    #expect(try String(contentsOfFile: header, encoding: .utf8).contains("lenet5_infer"))
  }

  func expectImportError(_ data: Data, _ fragment: String, shapes: [Int]? = [1, 1, 32, 32], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
      _ = try ONNXImport.model(data: data, name: "m", defaultShape: shapes)
      Issue.record("expected an error containing \(fragment)", sourceLocation: sourceLocation)
    } catch {
      #expect("\(error)".contains(fragment), "\(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func badModelsGiveClearErrors() throws {
    let data = try Data(contentsOf: Self.lenet)
    expectImportError(data.prefix(data.count / 2), "not a valid ONNX model")
    expectImportError(data, "input input has dynamic dimensions [N,1,32,32]; give its shape with --input-shape", shapes: nil)
    var proto = try Onnx_ModelProto(serializedBytes: data)
    // Every unsupported operator is listed, not just the first.
    proto.graph.node[0].opType = "Einsum"
    proto.graph.node[2].opType = "TopK"
    expectImportError(try proto.serializedData(), "2 nodes use operators Kiln does not import: Einsum (/conv1/Conv), TopK (/MaxPool)")
    proto.graph.node[0].opType = "Conv"
    expectImportError(try proto.serializedData(), "1 node uses an operator Kiln does not import: TopK (/MaxPool)")
    // A missing initializer.
    proto = try Onnx_ModelProto(serializedBytes: data)
    proto.graph.initializer.removeAll { $0.name == "conv2.weight" }
    expectImportError(try proto.serializedData(), "reads conv2.weight, which no earlier node, input or initializer defines")
  }

  /// What the structural fuzzer found: a convolution whose strides and pads are INT64_MAX made
  /// the output-size arithmetic overflow. Now the values are clamped, and window attributes
  /// beyond 2^24 are refused at the node that has them.
  @Test func hugeAttributesAreErrors() throws {
    var proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: Self.lenet))
    for name in ["strides", "pads"] {
      var attribute = Onnx_AttributeProto()
      attribute.name = name
      attribute.type = .ints
      attribute.ints = Array(repeating: Int64.max, count: name == "pads" ? 4 : 2)
      proto.graph.node[0].attribute.removeAll { $0.name == name }
      proto.graph.node[0].attribute.append(attribute)
    }
    expectImportError(try proto.serializedData(), "(Conv): /conv1/Conv_output_0 (Conv2D): kernel [5, 5], stride [2147483648, 2147483648], dilation [1, 1] and padding 2147483648x2147483648 must each be at most 2^24")
  }

  /// Flips, truncates and duplicates bytes of the LeNet-5 model (seeded): every import must end
  /// in a model or an error, and an imported model must run. `KILN_FUZZ_ITERATIONS` runs longer.
  @Test func fuzzedModelsNeverCrash() throws {
    let original = [UInt8](try Data(contentsOf: Self.lenet))
    let iterations = ProcessInfo.processInfo.environment["KILN_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 300
    var generator = SplitMix64(seed: 42)
    var imported = 0
    for _ in 0..<iterations {
      var bytes = original
      for _ in 0..<(1 + Int(generator.next() % 8)) {
        let at = Int(generator.next() % UInt64(bytes.count))
        switch generator.next() % 4 {
        case 0: bytes[at] ^= UInt8(1 << (generator.next() % 8))
        case 1: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
        case 2: bytes.removeSubrange(at..<min(at + Int(generator.next() % 16) + 1, bytes.count))
        default: bytes.insert(contentsOf: bytes[at..<min(at + 8, bytes.count)], at: at)
        }
      }
      guard let model = try? ONNXImport.model(data: Data(bytes), name: "fuzz", defaultShape: [1, 1, 32, 32]) else { continue }
      imported += 1
      if model.graph.nodes.allSatisfy({ $0.type.elementCount < 1 << 20 }) { _ = try? model.run(model.graph.sampleInputs(seed: 1)) }
    }
    #expect(imported > 0, "no mutated model imported: the fuzzer only exercised the protobuf decoder")
  }

  /// Mutations that keep the protobuf valid and reach the mapping: attributes set to odd values
  /// (negative, zero, huge, the wrong length), initializers reshaped, inputs rewired, operators
  /// swapped for other supported ones.
  @Test func structurallyFuzzedModelsNeverCrash() throws {
    let original = try Onnx_ModelProto(serializedBytes: Data(contentsOf: Self.lenet))
    let iterations = ProcessInfo.processInfo.environment["KILN_FUZZ_ITERATIONS"].flatMap(Int.init).map { $0 / 10 } ?? 300
    var generator = SplitMix64(seed: 7)
    func pick<T>(_ values: [T]) -> T { values[Int(generator.next() % UInt64(values.count))] }
    let odd: [Int64] = [-1, 0, 1, 2, 3, 7, 1 << 40, -(1 << 40), Int64.max, Int64.min]
    let operators = Array(ONNXImport.supportedOperators)
    var imported = 0
    for _ in 0..<iterations {
      var proto = original
      for _ in 0..<(1 + Int(generator.next() % 3)) {
        let node = Int(generator.next() % UInt64(proto.graph.node.count))
        switch generator.next() % 5 {
        case 0 where !proto.graph.node[node].attribute.isEmpty:
          let index = Int(generator.next() % UInt64(proto.graph.node[node].attribute.count))
          proto.graph.node[node].attribute[index].ints = (0..<Int(generator.next() % 6)).map { _ in pick(odd) }
          proto.graph.node[node].attribute[index].i = pick(odd)
        case 1:
          var attribute = Onnx_AttributeProto()
          attribute.name = pick(["axis", "group", "pads", "strides", "kernel_shape", "perm", "split", "auto_pad", "transB", "alpha"])
          attribute.ints = (0..<Int(generator.next() % 6)).map { _ in pick(odd) }
          attribute.i = pick(odd)
          attribute.f = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
          attribute.s = Data(pick(["SAME_UPPER", "VALID", "wrap", "x"]).utf8)
          proto.graph.node[node].attribute.append(attribute)
        case 2 where !proto.graph.initializer.isEmpty:
          let index = Int(generator.next() % UInt64(proto.graph.initializer.count))
          proto.graph.initializer[index].dims = (0..<Int(generator.next() % 5)).map { _ in pick(odd) }
        case 3:
          let names = proto.graph.node.flatMap(\.output) + proto.graph.initializer.map(\.name) + ["", "nowhere"]
          if !proto.graph.node[node].input.isEmpty {
            proto.graph.node[node].input[Int(generator.next() % UInt64(proto.graph.node[node].input.count))] = pick(names)
          }
        default:
          proto.graph.node[node].opType = pick(operators)
        }
      }
      guard let data = try? proto.serializedData(),
        let model = try? ONNXImport.model(data: data, name: "fuzz", defaultShape: [1, 1, 32, 32])
      else { continue }
      imported += 1
      if model.graph.nodes.allSatisfy({ $0.type.elementCount < 1 << 20 }) { _ = try? model.run(model.graph.sampleInputs(seed: 1)) }
    }
    #expect(imported > 0)
  }
}

/// Small graphs written node by node: shape arithmetic folded at import, and spelled-out
/// activations read as one.
@Suite struct ImportFoldingTests {
  static func node(_ opType: String, _ inputs: [String], _ output: String, ints: [String: [Int64]] = [:]) -> Onnx_NodeProto {
    var node = Onnx_NodeProto()
    (node.opType, node.input, node.output, node.name) = (opType, inputs, [output], output)
    node.attribute = ints.map { name, values in
      var attribute = Onnx_AttributeProto()
      (attribute.name, attribute.type, attribute.ints) = (name, .ints, values)
      return attribute
    }
    return node
  }

  static func constant(_ name: String, _ values: [Float], shape: [Int64], integer: Bool = false) -> Onnx_TensorProto {
    var tensor = Onnx_TensorProto()
    (tensor.name, tensor.dims) = (name, shape)
    if integer {
      (tensor.dataType, tensor.int64Data) = (7, values.map { Int64($0) })
    } else {
      (tensor.dataType, tensor.floatData) = (1, values)
    }
    return tensor
  }

  static func model(_ nodes: [Onnx_NodeProto], initializers: [Onnx_TensorProto], input: [Int64], output: String) throws -> Model {
    var proto = Onnx_ModelProto()
    var opset = Onnx_OperatorSetIdProto()
    opset.version = 17
    proto.opsetImport = [opset]
    var x = Onnx_ValueInfoProto()
    x.name = "x"
    x.type.tensorType.elemType = 1
    x.type.tensorType.shape.dim = input.map { size in
      var dim = Onnx_TensorShapeProto.Dimension()
      dim.dimValue = size
      return dim
    }
    var y = Onnx_ValueInfoProto()
    y.name = output
    (proto.graph.node, proto.graph.initializer, proto.graph.input, proto.graph.output) = (nodes, initializers, [x], [y])
    return try ONNXImport.model(data: proto.serializedData(), name: "m")
  }

  /// x.reshape(x.shape[0], -1) as PyTorch exports it: Shape, Gather, Unsqueeze, Concat, Reshape.
  @Test func shapeArithmeticFolds() throws {
    let model = try Self.model(
      [
        Self.node("Shape", ["x"], "shape"), Self.node("Gather", ["shape", "zero"], "batch"),
        Self.node("Unsqueeze", ["batch", "axes"], "batch1"), Self.node("Concat", ["batch1", "minus1"], "target", ints: ["axis": [0]]),
        Self.node("Reshape", ["x", "target"], "y"),
      ],
      initializers: [
        Self.constant("zero", [0], shape: [], integer: true), Self.constant("axes", [0], shape: [1], integer: true),
        Self.constant("minus1", [-1], shape: [1], integer: true),
      ], input: [2, 3, 2, 2], output: "y")
    #expect(model.graph.nodes.map(\.op.mnemonic) == ["input", "reshape"])
    #expect(model.graph[model.graph.outputs[0]].type.shape == [2, 12])
  }

  @Test func siluAndGELUAreOneActivation() throws {
    let silu = try Self.model([Self.node("Sigmoid", ["x"], "s"), Self.node("Mul", ["s", "x"], "y")], initializers: [], input: [1, 4], output: "y")
    #expect(silu.graph.nodes.map(\.op) == [silu.graph.nodes[0].op, .unary(UnaryAttrs(.silu))])
    let gelu = try Self.model(
      [
        Self.node("Div", ["x", "root2"], "d"), Self.node("Erf", ["d"], "e"), Self.node("Add", ["e", "one"], "a"),
        Self.node("Mul", ["x", "a"], "m"), Self.node("Mul", ["m", "half"], "y"),
      ],
      initializers: [Self.constant("root2", [Float(2).squareRoot()], shape: []), Self.constant("one", [1], shape: []), Self.constant("half", [0.5], shape: [])],
      input: [1, 4], output: "y")
    #expect(gelu.graph.nodes.filter { $0.op.mnemonic != "parameter" }.map(\.op) == [gelu.graph.nodes[0].op, .unary(UnaryAttrs(.gelu))])
    let x = try Tensor<Float>(shape: [1, 4], scalars: [-2, -0.5, 0, 1.5])
    let expected: [Float] = [-0.04550026389635842, -0.15426876936299344, 0, 1.399789198096713]
    #expect(zip(try gelu.predict(x).scalars, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    // A linear layer on a rank-3 input, MatMul then Add: one dense layer with its bias.
    let weight = (0..<20).map { Float($0) / 10 }
    let linear = try Self.model(
      [Self.node("MatMul", ["x", "w"], "m"), Self.node("Add", ["b", "m"], "y")],
      initializers: [Self.constant("w", weight, shape: [4, 5]), Self.constant("b", [1, 2, 3, 4, 5], shape: [5])], input: [2, 1, 4], output: "y")
    let dense = try #require(linear.graph.nodes.last)
    #expect(dense.op == .dense(DenseAttrs()) && dense.inputs.count == 3 && dense.type.shape == [2, 1, 5])
    let row = try linear.predict(Tensor<Float>(shape: [2, 1, 4], scalars: [1, 0, 0, 1, 0, 0, 0, 0])).scalars
    // Row 0 is x = e₀ + e₃: W's rows 0 and 3 plus the bias; row 1 is the bias alone.
    let first: [Float] = (0..<5).map { (i: Int) -> Float in weight[i] + weight[15 + i] + Float(i + 1) }
    let linearExpected: [Float] = first + [1, 2, 3, 4, 5]
    #expect(zip(row, linearExpected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(row)")
    // Where the sigmoid is read elsewhere too, the pattern is left as it is.
    let shared = try Self.model(
      [Self.node("Sigmoid", ["x"], "s"), Self.node("Mul", ["s", "x"], "m"), Self.node("Add", ["m", "s"], "y")], initializers: [], input: [1, 4], output: "y")
    #expect(shared.graph.nodes.map(\.op.mnemonic) == ["input", "unary", "binary", "binary"])
  }
}
