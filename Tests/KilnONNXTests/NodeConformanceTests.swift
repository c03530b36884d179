import Foundation
import Kiln
import KilnLLVM
import Testing

@testable import KilnONNX

/// ONNX's backend node tests (`scripts/fetch-onnx-node-tests.sh` unpacks them; `make test` runs
/// it) through the importer, the interpreter and the JIT. `node-tests-passing.txt` lists the
/// tests that pass; any of them failing is a regression. The report prints the pass rate of every
/// operator family Kiln maps.
@Suite(.serialized) struct NodeConformanceTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let directory = root.appendingPathComponent(".build/onnx-node-tests/node")
  static let compiler = Result { try Compiler() }

  static var expected: [String] {
    let list = (try? String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("node-tests-passing.txt"), encoding: .utf8)) ?? ""
    return list.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
  }

  /// Operators whose inputs after the first are settings, not data.
  static let settingOperators: Set<String> = [
    "Pad", "Reshape", "Slice", "Split", "Dropout", "Clip", "Resize", "Upsample", "Unsqueeze", "Squeeze", "ReduceMean", "ReduceSum",
    "ReduceMax", "ReduceMin", "ReduceL2", "ReduceSumSquare",
  ]

  /// Runs node test `name`: nil when it passes, else why not.
  static func run(_ name: String) -> String? {
    let folder = directory.appendingPathComponent(name)
    do {
      let modelData = try Data(contentsOf: folder.appendingPathComponent("model.onnx"))
      let proto = try Onnx_ModelProto(serializedBytes: modelData)
      let initializers = Set(proto.graph.initializer.map(\.name))
      let inputs = proto.graph.input.filter { !initializers.contains($0.name) }
      let sets = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("test_data_set_") }.sorted()
      guard !sets.isEmpty else { return "no test data" }
      for set in sets {
        func tensor(_ file: String) throws -> Tensor<Float> {
          try Onnx_TensorProto(serializedBytes: Data(contentsOf: folder.appendingPathComponent(set).appendingPathComponent(file))).floatTensor()
        }
        var feeds: [String: Tensor<Float>] = [:]
        var constants: [String: Tensor<Float>] = [:]
        for (index, input) in inputs.enumerated() {
          // Integer inputs, and inputs read only as an operator's settings (a pad value, a dropout
          // ratio), are fixed: Kiln compiles them in.
          let isSetting = input.type.tensorType.elemType != 1 || proto.graph.node.allSatisfy { node in
            node.input.enumerated().allSatisfy { $0.element != input.name || ($0.offset > 0 && Self.settingOperators.contains(node.opType)) }
          }
          if isSetting { constants[input.name] = try tensor("input_\(index).pb") } else { feeds[input.name] = try tensor("input_\(index).pb") }
        }
        let shapes = feeds.mapValues(\.shape)
        let model = try ONNXImport.model(data: modelData, name: name, inputShapes: shapes, constants: constants)
        let expected = try proto.graph.output.indices.map { try tensor("output_\($0).pb") }
        let interpreted = try model.run(feeds)
        let compiled = try compiler.get().compile(model).run(feeds)
        for (backend, actual) in [("interpreter", interpreted), ("jit", compiled)] {
          for (index, (a, e)) in zip(actual, expected).enumerated() {
            guard a.shape == e.shape || a.count == e.count && e.shape.reduce(1, *) == a.count && e.shape.filter({ $0 != 1 }) == a.shape.filter({ $0 != 1 }) else {
              return "\(backend): output \(index) is \(a.shape), expected \(e.shape)"
            }
            if let worst = zip(a.scalars, e.scalars).first(where: { abs($0 - $1) > 1e-4 + 1e-3 * abs($1) }) {
              return "\(backend): output \(index) has \(worst.0) where \(worst.1) is expected"
            }
          }
        }
      }
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// The operator a node test is about (its last node's), and whether it tests a function's
  /// expansion into other operators instead.
  static func family(_ name: String) -> String? {
    guard !name.contains("_expanded"),
      let data = try? Data(contentsOf: directory.appendingPathComponent(name).appendingPathComponent("model.onnx")),
      let proto = try? Onnx_ModelProto(serializedBytes: data), let last = proto.graph.node.last
    else { return nil }
    return last.opType
  }

  @Test func nodeTestsOfTheMappedOperators() throws {
    guard FileManager.default.fileExists(atPath: Self.directory.path) else {
      Issue.record("\(Self.directory.path) is missing: run scripts/fetch-onnx-node-tests.sh (make test does)")
      return
    }
    let all = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
    var tally: [String: (passed: Int, total: Int)] = [:]
    var failures: [String: String] = [:]
    for name in all {
      guard let family = Self.family(name), ONNXImport.supportedOperators.contains(family) else { continue }
      let failure = Self.run(name)
      tally[family, default: (0, 0)].total += 1
      if let failure { failures[name] = failure } else { tally[family, default: (0, 0)].passed += 1; print("node test passes: \(name)") }
    }
    let rows = tally.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value.passed)/\($0.value.total)"] }
    var table = TextTable(header: ["operator", "node tests passed"], rightAligned: [1])
    table.rows = rows
    print(table.text)
    for (name, failure) in failures.sorted(by: { $0.key < $1.key }) { print("node test fails: \(name): \(failure)") }
    let expected = Self.expected
    #expect(expected.count > 100)
    for name in expected where failures[name] != nil || !all.contains(name) {
      Issue.record("\(name) is listed as passing but \(failures[name] ?? "does not exist")")
    }
  }
}
