import ArgumentParser
import Foundation
import Kiln
import KilnONNX

/// The model argument shared by every command, with its input-shape and seed options.
struct ModelOptions: ParsableArguments {
  @Argument(help: "A zoo name (see `kiln zoo`), a Kiln model file (.json) or an ONNX model (.onnx).")
  var model: String

  @Option(
    name: .customLong("input-shape"),
    help: "Input shape for a zoo model (default: the published shape) or an ONNX model with dynamic dimensions, e.g. 8,1,32,32.")
  var inputShape: String?

  @Option(help: "Seed of the initial weights when no --weights are given.")
  var seed: UInt64 = 0

  func validate() throws {
    if let inputShape { _ = try parseShape(inputShape) }
  }

  /// Whether the argument names a model file rather than a zoo entry.
  var isFile: Bool { model.hasSuffix(".json") || FileManager.default.fileExists(atPath: model) }

  /// Whether the argument names an ONNX model, which brings its own weights.
  var isONNX: Bool { model.hasSuffix(".onnx") }

  /// The ONNX model as imported, --input-shape giving the shape of dynamic inputs.
  func importedONNX() throws -> Model {
    try ONNXImport.model(path: model, defaultShape: try inputShape.map(parseShape))
  }

  /// The model's graph (no weights are made).
  func graph() throws -> Graph {
    let shape = try inputShape.map(parseShape)
    if isONNX { return try importedONNX().graph }
    guard isFile else { return try Zoo.entry(named: model).graph(input: shape) }
    if shape != nil {
      throw ValidationError("--input-shape applies to zoo models; a model file's input shape is fixed")
    }
    return try Model.loadGraph(from: model)
  }

  /// The model with weights read from `weights`, or freshly initialised from --seed when nil.
  func model(weights: String?) throws -> Model {
    if isONNX, weights == nil { return try importedONNX() }
    let graph = try graph()
    return try weights.map { try Model(graph: graph, weightsFrom: $0) } ?? Model(graph: graph, seed: seed)
  }

  /// The model (see `model(weights:)`) at `batch` samples, or at its own batch (from its file or
  /// --input-shape) when nil.
  func model(weights: String?, batch: Int?) throws -> Model {
    let model = try self.model(weights: weights)
    guard let batch else { return model }
    return try Model(graph: model.graph.rebatched(to: batch), parameters: model.parameters)
  }
}

/// `8,1,32,32` → `[8, 1, 32, 32]`.
func parseShape(_ text: String) throws -> [Int] {
  let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
  guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
    throw ValidationError("--input-shape \(text) is not a list of positive integers such as 1,1,32,32")
  }
  return parts.compactMap { $0 }
}

/// Where the Fashion-MNIST files are, for the commands that read them.
struct DataOptions: ParsableArguments {
  @Option(name: .customLong("data-dir"), help: "Where the Fashion-MNIST IDX files are.")
  var directory = FashionMNIST.defaultDirectory

  /// Test image `index` `[1, 1, S, S]` (zero-padded to the input of a greyscale `model` with
  /// S ≥ 28) and its class; `purpose` names what needs it in the error.
  func testImage(_ index: Int, for model: Model, purpose: String) throws -> (image: Tensor<Float>, label: Int) {
    guard let shape = model.inputType?.shape, shape.count == 4, shape[1] == 1, shape[2] >= 28, (shape[2] - 28) % 2 == 0 else {
      throw ValidationError("\(purpose) of Fashion-MNIST images need a greyscale model (input [N,1,S,S], S ≥ 28 and even)")
    }
    let test = try FashionMNIST.load(.test, directory: directory, limit: min(index, Int.max - 1) + 1, padding: (shape[2] - 28) / 2)
    guard index < test.count else { throw ValidationError("--index \(index) is outside the test set") }
    return (test.batch([index]).images, test.labels[index])
  }
}
