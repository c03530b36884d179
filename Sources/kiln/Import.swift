import ArgumentParser
import Foundation
import Kiln
import KilnONNX

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert an ONNX model into a Kiln model file and its weights.",
    discussion: """
      Maps 53 operators of ONNX opsets 11–21: convolutions, pooling, Gemm/MatMul,
      arithmetic, activations (Relu, LeakyRelu, Elu, Sigmoid, Tanh, Clip,
      HardSigmoid, HardSwish, Erf, Gelu, Swish, Softmax, LogSoftmax),
      BatchNormalization, LayerNormalization, the Reduce family, Resize/Upsample,
      layout (Flatten, Reshape, Transpose, Concat, Split, Slice, Pad, Gather,
      Unsqueeze, Squeeze) and shape computations (Shape, Cast, Range,
      ConstantOfShape), which fold into constants; initializers become parameters.
      Every other operator is listed in one error. The other commands read .onnx
      files directly, too.

      Examples:
        kiln import lenet.onnx -o lenet.kiln.json --weights lenet.safetensors
        kiln import resnet18.onnx --input-shape 1,3,224,224 -o resnet18.kiln.json --weights resnet18.safetensors
        kiln compile resnet18.kiln.json --weights resnet18.safetensors -o resnet18.so
      """)

  @Argument(help: "The ONNX model (.onnx).")
  var model: String

  @Option(name: .customLong("input-shape"), help: "The input's shape where the model's is dynamic, e.g. 1,3,224,224.")
  var inputShape: String?

  @Option(name: .shortAndLong, help: "The Kiln model file to write (.json).")
  var output: String

  @Option(help: "The safetensors file for the weights.")
  var weights: String

  func run() throws {
    let imported = try ONNXImport.model(path: model, defaultShape: try inputShape.map(parseShape))
    try imported.save(graph: output, weights: weights)
    let summary = Kiln.Summary(imported.graph)
    print("\(imported.graph.nodes.count) nodes, \(grouped(summary.trainableParameters + summary.stateParameters)) parameters; wrote \(output) and \(weights)")
  }
}
