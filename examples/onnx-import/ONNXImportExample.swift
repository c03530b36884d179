// An ONNX model from PyTorch to a shared object: import it, compile it with the JIT, check its
// logits against the reference (ONNX Runtime's, written by export_models.py), then compile it
// ahead of time into <name>.so with its C header.
//
//   python3 examples/onnx-import/export_models.py --out /tmp/onnx-models
//   swift run -c release onnx-import --model /tmp/onnx-models/resnet18.onnx \
//     --reference /tmp/onnx-models/resnet18.reference.safetensors --out out/onnx
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM
import KilnONNX

@main struct ONNXImportExample: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "onnx-import", abstract: "Import an ONNX model, check it against reference outputs and compile it to a .so.")

  @Option(help: "The ONNX model.")
  var model: String
  @Option(help: "A safetensors file with an `input` and the `logits` another runtime computed for it.")
  var reference: String
  @Option(help: "Directory for the shared object and its header.")
  var out = "out/onnx"

  func run() throws {
    let tensors = try SafeTensors.read(reference).tensors
    guard let input = tensors["input"], let expected = tensors["logits"] else {
      throw ValidationError("\(reference) needs an `input` and the `logits` computed for it")
    }
    let imported = try ONNXImport.model(path: model, defaultShape: input.shape)
    let summary = Summary(imported.graph)
    print("\(model): \(imported.graph.nodes.count) Kiln nodes, \(summary.trainableParameters) parameters, \(summary.multiplyAdds) multiply-adds")
    let compiler = try Compiler()
    let compiled = try compiler.compile(imported)
    let logits = try compiled.predict(input)
    let scale = max(expected.scalars.map(abs).max() ?? 1, 1)
    let difference = zip(logits.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
    print(String(format: "JIT compile %.2f s; largest difference from the reference logits %.2e (logits up to %.2f)", compiled.compileSeconds, difference, scale))
    guard logits.shape == expected.shape, difference <= 1e-4 * scale else { throw ValidationError("the logits differ from the reference's by more than 1e-4") }

    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
    let header = try compiler.emitSharedObject(imported, to: "\(out)/\(name).so", prefix: name)
    print("matches the reference within 1e-4; wrote \(out)/\(name).so and \(header)")
  }
}
