import Foundation
import Testing

@testable import Kiln

@Suite struct SerializationTests {
  /// Model files from before pooling had a dilation still load, as undilated pooling.
  @Test func poolsWithoutADilationLoad() throws {
    let directory = try temporaryDirectory()
    let path = directory + "/lenet5.json"
    try Model.saveGraph(try Zoo.lenet5(), to: path)
    // Pool attributes are the objects with a countIncludePad; drop their dilation.
    var removed = 0
    func strip(_ value: Any) -> Any {
      if var object = value as? [String: Any] {
        if object["countIncludePad"] != nil, object.removeValue(forKey: "dilation") != nil { removed += 1 }
        return object.mapValues(strip)
      }
      if let array = value as? [Any] { return array.map(strip) }
      return value
    }
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
    try JSONSerialization.data(withJSONObject: strip(json)).write(to: URL(fileURLWithPath: path))
    #expect(removed == 2)
    let graph = try Model.loadGraph(from: path)
    #expect(graph == (try Zoo.lenet5()))
  }

  @Test func modelsReloadBitIdentical() throws {
    let directory = try temporaryDirectory()
    let model = try Model(name: "bnnet", input: [2, 1, 8, 8], seed: 11) {
      Conv2D(4, kernel: 3, padding: .same, paddingMode: .reflect)
      BatchNorm()
      Activation(.leakyReLU(slope: 0.1))
      Dropout(0.25)
      AvgPool2D(2, ceilMode: true, countIncludePad: false)
      Flatten()
      Dense(3)
    }
    try model.save(graph: directory + "/m.json", weights: directory + "/m.safetensors")
    let loaded = try Model.load(graph: directory + "/m.json", weights: directory + "/m.safetensors")
    #expect(loaded.graph == model.graph)
    #expect(loaded.parameters == model.parameters)
    let x = Tensor<Float>(random([2, 1, 8, 8], seed: 1))
    #expect(try loaded.predict(x).scalars.map(\.bitPattern) == model.predict(x).scalars.map(\.bitPattern))
    // Nothing temporary is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["m.json", "m.safetensors"])
  }

  @Test func safetensorsLayout() throws {
    let data = try SafeTensors.encode([("a", Tensor(shape: [2], scalars: [1, -2])), ("b", Tensor(shape: [1, 1], scalars: [0.5]))], metadata: [:])
    let headerLength = Int(data[0]) | Int(data[1]) << 8
    #expect(headerLength % 8 == 0)
    let header = try #require(String(data: data[8..<(8 + headerLength)], encoding: .utf8))
    #expect(header.trimmingCharacters(in: .whitespaces) == #"{"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},"b":{"data_offsets":[8,12],"dtype":"F32","shape":[1,1]}}"#)
    #expect(Array(data[(8 + headerLength)...]) == [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f])
  }

  @Test func readsFloat64() throws {
    let header = #"{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#
    var data = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: Array(header.utf8))
    for value in [1.5, -0.25] { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    let tensors = try SafeTensors.decode(data, path: "f64").tensors
    #expect(tensors.names == ["w"] && tensors["w"]?.scalars == [1.5, -0.25])
  }

  @Test func corruptSafetensorsAreRejected() throws {
    let good = try SafeTensors.encode([("a", Tensor(shape: [4], scalars: [1, 2, 3, 4]))], metadata: [:])
    expectError("x.safetensors", "too short") { _ = try SafeTensors.decode(Data([1, 2]), path: "x.safetensors") }
    expectError("x.safetensors", "a spans bytes 0..<16", "truncated") { _ = try SafeTensors.decode(good.dropLast(3), path: "x.safetensors") }
    var huge = good
    huge[7] = 0x7f
    expectError("x.safetensors", "the header claims") { _ = try SafeTensors.decode(huge, path: "x.safetensors") }
    var garbled = good
    garbled[8] = UInt8(ascii: "x")
    expectError("the header is not a JSON object") { _ = try SafeTensors.decode(garbled, path: "x.safetensors") }
    let bf16 = try SafeTensors.encode([("a", Tensor(shape: [4], scalars: [1, 2, 3, 4]))], metadata: [:])
    let patched = Data(String(decoding: bf16, as: UTF8.self).replacingOccurrences(of: "F32", with: "BF16").utf8)
    expectError("a has dtype BF16; Kiln reads F32, F64, I32 and I64") { _ = try SafeTensors.decode(patched, path: "x") }
    let reshaped = Data(String(decoding: good, as: UTF8.self).replacingOccurrences(of: "[4]", with: "[5]").utf8)
    expectError("a has shape [5] (20 bytes of F32) but spans 16 bytes") { _ = try SafeTensors.decode(reshaped, path: "x") }
    expectError("nope.safetensors: no such file") { _ = try SafeTensors.read("/nonexistent/nope.safetensors") }
  }

  @Test func weightsOfAnotherModelAreRejected() throws {
    let directory = try temporaryDirectory()
    let lenet = try Model(graph: Zoo.lenet5())
    let other = try Model(name: "other", input: [1, 1, 32, 32]) { Conv2D(6, kernel: 3, name: "conv1") }
    try SafeTensors.write(other.parameters.entries, to: directory + "/other.safetensors")
    expectError("other.safetensors", "parameter conv1.weight is [6,1,3,3] but model lenet5 expects [6,1,5,5]", "9 mismatches", "… 4 more") {
      _ = try Model(graph: lenet.graph, weightsFrom: directory + "/other.safetensors")
    }
    var extra = lenet.parameters.entries
    extra.append(("head.weight", try Tensor(shape: [1], scalars: [0])))
    try SafeTensors.write(extra, to: directory + "/extra.safetensors")
    expectError("tensor head.weight is not a parameter of model lenet5") {
      _ = try Model(graph: lenet.graph, weightsFrom: directory + "/extra.safetensors")
    }
    try SafeTensors.write(Array(lenet.parameters.entries.dropLast()), to: directory + "/short.safetensors")
    expectError("parameter fc2.bias [10] of model lenet5 has no value") {
      _ = try Model(graph: lenet.graph, weightsFrom: directory + "/short.safetensors")
    }
  }

  @Test func pytorchStateDictsLoad() throws {
    // An I64 scalar (PyTorch's num_batches_tracked) and an I32 vector, built by hand.
    let json = #"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"v":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}}"#
    var data = Data()
    withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(Data(json.utf8))
    for value in [Int64(123_456)] { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    for value in [Int32(-3), Int32(9)] { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    let decoded = try SafeTensors.decode(data, path: "x").tensors
    #expect(decoded.map(\.name) == ["n", "v"])
    #expect(decoded["n"]?.scalars == [123_456] && decoded["n"]?.shape == [])
    #expect(decoded["v"]?.scalars == [-3, 9])
    // Batch-norm step counters are skipped when weights load.
    let directory = try temporaryDirectory()
    let model = try Model(graph: Zoo.resnet(.resnet18, input: [1, 3, 32, 32], classes: 4), seed: 1)
    try SafeTensors.write(model.parameters.entries + [("bn1.num_batches_tracked", Tensor(shape: [], scalars: [5]))], to: directory + "/r.safetensors")
    #expect(try Model(graph: model.graph, weightsFrom: directory + "/r.safetensors").parameters == model.parameters)
  }

  @Test func modelFilesAreCheckedWhenRead() throws {
    let directory = try temporaryDirectory()
    let path = directory + "/lenet5.json"
    try Model.saveGraph(try Zoo.lenet5(), to: path)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.contains("\"format\" : \"kiln-model\""))
    try text.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 99").write(toFile: path, atomically: true, encoding: .utf8)
    expectError("lenet5.json", "version 99 is not kiln-model version 1") { _ = try Model.loadGraph(from: path) }
    try "{ not json".write(toFile: path, atomically: true, encoding: .utf8)
    expectError("lenet5.json: not a Kiln model file") { _ = try Model.loadGraph(from: path) }
    // A graph whose stored types disagree with its ops.
    try text.replacingOccurrences(of: "120,\n", with: "121,\n").write(toFile: path, atomically: true, encoding: .utf8)
    expectError("lenet5.json") { _ = try Model.loadGraph(from: path) }
  }
}
