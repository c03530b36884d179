import ArgumentParser
import Foundation
import Kiln
import KilnONNX

struct Import: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert an ONNX model into a Kiln model file and its weights.",
    discussion: """
      Maps ONNX opsets 11–21: Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool,
      GlobalMaxPool, Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Elu, Sigmoid, Tanh,
      Softmax, LogSoftmax, BatchNormalization, Dropout, Flatten, Reshape, Transpose, Concat, Split,
      Slice, Pad, Identity, Constant; initializers become parameters. Every other operator is
      listed in one error. The other commands read .onnx files directly, too.

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
