import Foundation
import Kiln
import KilnLLVM
import Testing

@testable import KilnONNX

/// torchvision's classification and segmentation models, exported by PyTorch and run by ONNX
/// Runtime (`scripts/export-torchvision.py`, which `make test` runs first), imported by Kiln and run
/// compiled (and interpreted, for the small ones): every output value must agree within
/// 1e-4 + 1e-5·max|reference| + 1e-3·|reference|. A model that stops importing fails here.
///
/// The term in the largest output is there because a float sum's error follows the size of its
/// terms, not of its result: inception_v3's logits (random weights) reach 5.3e10 and cancel down
/// to 6e7 in places, where ONNX Runtime and Kiln (compiled 1.3e-3, interpreted 5.9e-4 of that
/// value on a Xeon with AVX-512) differ by far more than 1e-3 of the value itself.
@Suite struct TorchvisionTests {
  static let directory = ProcessInfo.processInfo.environment["KILN_TORCHVISION_ONNX"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".build/torchvision-onnx").path

  static let classification = [
    "alexnet", "vgg16_bn", "resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "squeezenet1_0",
    "squeezenet1_1", "googlenet", "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_b0", "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny",
  ]
  static let segmentation = ["fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large"]
  /// Models small enough for the reference interpreter too (under about 0.3 G multiply-adds).
  static let interpreted: Set = ["squeezenet1_1", "mobilenet_v3_small", "shufflenet_v2_x1_0", "mnasnet1_0", "lraspp_mobilenet_v3_large"]

  @Test(arguments: classification + segmentation)
  func importsAndAgreesWithONNXRuntime(name: String) throws {
    let model = "\(Self.directory)/\(name).onnx"
    let referencePath = "\(Self.directory)/\(name).reference.safetensors"
    guard FileManager.default.fileExists(atPath: model), FileManager.default.fileExists(atPath: referencePath) else {
      Issue.record("\(model) is missing: run python3 scripts/export-torchvision.py \(Self.directory) (make test does)")
      return
    }
    let reference = try SafeTensors.read(referencePath).tensors
    let (input, expected) = (try #require(reference["input"]), try #require(reference["output"]))
    let imported = try ONNXImport.model(path: model)
    var outputs = [("compiled", try Compiler().compile(imported).predict(input))]
    if Self.interpreted.contains(name) { outputs.append(("interpreted", try imported.predict(input))) }
    for (backend, output) in outputs {
      #expect(output.shape == expected.shape, "\(name) \(backend)")
      let scale = expected.scalars.map(abs).max() ?? 0
      let ratios = zip(output.scalars, expected.scalars).map { abs($0 - $1) / (1e-4 + 1e-5 * scale + 1e-3 * abs($1)) }
      #expect(ratios.allSatisfy { $0 <= 1 }, "\(name) \(backend): the worst difference is \(ratios.max { !($0 >= $1) } ?? 0)× the tolerance")
    }
  }
}
