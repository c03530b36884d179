import Foundation

/// The on-disk form of a model's graph: versioned, human-readable JSON. Weights go separately
/// into a safetensors file.
struct ModelFile: Codable {
  static let currentVersion = 1
  var format = "kiln-model"
  var version = ModelFile.currentVersion
  var graph: Graph
}

extension Model {
  /// Writes the graph as JSON to `graphPath` and the parameters as safetensors to `weightsPath`.
  public func save(graph graphPath: String, weights weightsPath: String) throws {
    try Model.saveGraph(graph, to: graphPath)
    try SafeTensors.write(parameters.entries, metadata: ["format": "kiln", "model": graph.name], to: weightsPath)
  }

  /// Writes `graph` as a versioned JSON model file, atomically.
  public static func saveGraph(_ graph: Graph, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try encoder.encode(ModelFile(graph: graph)), to: path)
  }

  /// Reads a graph written by `saveGraph(_:to:)`.
  public static func loadGraph(from path: String) throws -> Graph {
    let data = try AtomicFile.read(path)
    let file: ModelFile
    do {
      file = try JSONDecoder().decode(ModelFile.self, from: data)
    } catch let error as KilnError {
      throw KilnError.file(path: path, message: "the graph is inconsistent: \(error)")
    } catch {
      throw KilnError.file(path: path, message: "not a Kiln model file (\(error))")
    }
    guard file.format == "kiln-model", file.version == ModelFile.currentVersion else {
      throw KilnError.file(path: path, message: "format \(file.format) version \(file.version) is not kiln-model version \(ModelFile.currentVersion)")
    }
    return file.graph
  }

  /// Reads a model saved by `save(graph:weights:)`.
  public static func load(graph graphPath: String, weights weightsPath: String) throws -> Model {
    try Model(graph: Model.loadGraph(from: graphPath), weightsFrom: weightsPath)
  }
}
