import ArgumentParser
import Foundation
import Kiln
import KilnLLVM
import RealModule

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a model's forward pass (compiled with the JIT, or in the reference interpreter) and print its output.",
    discussion: """
      --input takes an IDX image file (gzipped or not; its labels file is found by name, and the
      image is normalised with the Fashion-MNIST statistics and zero-padded to the model's input),
      or a safetensors file holding the input tensor. Without --input, a model whose input is one
      greyscale image gets Fashion-MNIST test image --index from --data-dir, and any other model a
      seeded random input. Classifier outputs are printed as the top classes with their softmax
      probabilities.

      Examples:
        kiln run lenet5 --index 3
        kiln run lenet5 --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --index 3
        kiln run lenet5 --weights lenet5.safetensors --input image.safetensors --json
      """)

  @OptionGroup var options: ModelOptions

  @Option(help: "Weights (safetensors) whose names and shapes match the model's parameters.")
  var weights: String?

  @Option(help: "Input: an IDX images file or a safetensors file.")
  var input: String?

  @Option(help: "Which image of an IDX file to run.")
  var index = 0

  @OptionGroup var data: DataOptions

  @Option(help: "How many classes to list.")
  var top = 5

  @Flag(help: "Print JSON.")
  var json = false

  @Option(help: "jit (compiled with LLVM) or interp (the reference interpreter).")
  var backend = Backend.jit

  func validate() throws {
    guard index >= 0 else { throw ValidationError("--index must be 0 or more, got \(index)") }
    guard top >= 1 else { throw ValidationError("--top must be 1 or more, got \(top)") }
  }

  func run() throws {
    let model = try options.model(weights: weights)
    guard let inputType = model.inputType, model.graph.inputs.count == 1 else {
      throw ValidationError("kiln run needs a model with exactly one input")
    }
    // The engine first: it refuses a model too large for this machine before its input is made.
    let compiled = backend == .jit ? try Compiler().compile(model) : nil
    if compiled == nil { try Interpreter<Float>.checkMemory(for: model.graph) }
    let (tensor, label, source) = try loadInput(model.graph, shape: inputType.shape)
    let output = try compiled?.predict(tensor) ?? model.predict(tensor)
    let ranking = output.rank == 2 && output.shape[0] == 1 ? topClasses(output.scalars) : []
    let names = output.count == 10 && label != nil ? FashionMNIST.classNames : nil
    if json {
      let report = Report(
        model: model.graph.name, input: source, label: label, outputShape: output.shape, output: output.scalars,
        top: ranking.map { Report.Entry(index: $0.index, name: names?[$0.index], probability: $0.probability) })
      try printJSON(report)
      return
    }
    print("model \(model.graph.name) (\(backend.rawValue)), input \(source)" + (weights == nil && !options.isONNX ? " (untrained weights, seed \(options.seed))" : ""))
    if let label { print("true class: \(label)" + (names.map { " (\($0[label]))" } ?? "")) }
    print("output \(TensorType(output.shape))")
    for entry in ranking {
      let name = names.map { " \($0[entry.index])" } ?? ""
      print(String(format: "  class %d%@: %.4f", entry.index, name, entry.probability))
    }
    if ranking.isEmpty { print(output.scalars.prefix(20).map { String($0) }.joined(separator: " ")) }
  }

  /// The input tensor, its true label if known, and a description of where it came from.
  private func loadInput(_ graph: Graph, shape: [Int]) throws -> (Tensor<Float>, Int?, String) {
    guard let input = input ?? (fitsImage(shape) ? FashionMNIST.files(.test, directory: data.directory).images : nil) else {
      return (Array(graph.sampleInputs(seed: options.seed).values)[0], nil, "random (seed \(options.seed))")
    }
    if input.hasSuffix(".safetensors") {
      let tensors = try SafeTensors.read(input).tensors
      guard let name = tensors.count == 1 ? tensors.names.first : tensors["input"].map({ _ in "input" }), let found = tensors[name] else {
        throw ValidationError("\(input) holds \(tensors.count) tensors; name the input tensor `input`")
      }
      guard found.shape == shape else {
        throw ValidationError("\(input): tensor \(name) is \(TensorType(found.shape)) but the model expects \(TensorType(shape))")
      }
      return (found, nil, "\(input) [\(name)]")
    }
    let labels = input.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
    guard labels != input else {
      throw ValidationError("\(input) is neither a .safetensors file nor an IDX images file named *images-idx3*")
    }
    guard fitsImage(shape) else {
      throw ValidationError("an IDX image (1×28×28) fits models with input [1,1,S,S] for even S ≥ 28, not \(TensorType(shape))")
    }
    let data = try Dataset(
      images: input, labels: labels, limit: min(index, Int.max - 1) + 1, padding: (shape[2] - 28) / 2, normalization: FashionMNIST.normalization)
    guard index < data.count else { throw ValidationError("--index \(index) is outside the \(data.count) images of \(input)") }
    let batch = data.batch([index])
    return (batch.images, data.labels[index], "\(input) #\(index)")
  }

  /// Whether a 1×28×28 image, zero-padded equally on all sides, fills an input of `shape`.
  private func fitsImage(_ shape: [Int]) -> Bool {
    shape.count == 4 && shape[0] == 1 && shape[1] == 1 && shape[2] == shape[3] && shape[2] >= 28 && (shape[2] - 28) % 2 == 0
  }

  private func topClasses(_ logits: [Float]) -> [(index: Int, probability: Float)] {
    let top = logits.max() ?? 0
    let exps = logits.map { Float.exp($0 - top) }
    let total = exps.reduce(0, +)
    let ranked: [(index: Int, probability: Float)] = exps.indices.map { ($0, exps[$0] / total) }
    return Array(ranked.sorted { $0.probability > $1.probability }.prefix(self.top))
  }

  private struct Report: Encodable {
    struct Entry: Encodable {
      var index: Int
      var name: String?
      var probability: Float
    }
    var model: String
    var input: String
    var label: Int?
    var outputShape: [Int]
    var output: [Float]
    var top: [Entry]
  }
}
