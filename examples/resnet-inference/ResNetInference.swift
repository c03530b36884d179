// ResNet-18 inference: build the architecture with Kiln's builder, load weights exported from
// PyTorch (their names are torchvision's, so they load as they are), compile with the JIT and time
// it; with a reference file, check the logits against PyTorch's.
//
//   python3 examples/resnet-inference/export_resnet18.py --out /tmp/resnet18
//   swift run -c release resnet-inference --weights /tmp/resnet18/weights.safetensors \
//     --reference /tmp/resnet18/reference.safetensors
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct ResNetInference: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resnet-inference", abstract: "Load PyTorch ResNet-18 weights, compile the model, time it and check it against PyTorch.")

  @Option(help: "A ResNet-18 state_dict as safetensors (without: seeded random weights).")
  var weights: String?
  @Option(help: "A safetensors file with an `input` [1,3,S,S] and the `logits` PyTorch computed for it.")
  var reference: String?
  @Option(help: "Input height and width when there is no reference file.")
  var size = 224
  @Option(help: "Timed runs.")
  var repetitions = 20
  @Option(help: "Threads of the compiled code.")
  var threads = 1

  func run() throws {
    let expected = try reference.map { path in
      let tensors = try SafeTensors.read(path).tensors
      guard let input = tensors["input"], let logits = tensors["logits"], input.rank == 4 else {
        throw ValidationError("\(path) needs an `input` [1,3,S,S] and the `logits` PyTorch computed for it")
      }
      return (input: input, logits: logits)
    }
    let side = expected?.input.shape[2] ?? size
    let graph = try Zoo.resnet(.resnet18, input: [1, 3, side, side])
    let model = try weights.map { try Model(graph: graph, weightsFrom: $0) } ?? Model(graph: graph, seed: 0)
    let weightCount = graph.trainableParameters().map { graph[$0].type.elementCount }.reduce(0, +)
    print("ResNet-18: \(weightCount) weights and \(model.parameters.scalarCount - weightCount) batch-norm statistics from \(weights ?? "seeded initialisation")")

    let compiled = try Compiler().compile(model, threads: threads)
    print(String(format: "JIT compile %.2f s", compiled.compileSeconds))
    let input = expected?.input ?? graph.sampleInputs(seed: 1)["input"]!
    var logits = try compiled.predict(input)
    var times: [Double] = []
    for _ in 0..<repetitions {
      let start = DispatchTime.now().uptimeNanoseconds
      logits = try compiled.predict(input)
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    print(String(format: "%d×%d image, %d thread(s): %.2f ms min, %.2f ms median over %d runs", side, side, threads, times[0], times[times.count / 2], repetitions))
    let top = logits.scalars.enumerated().sorted { $0.element > $1.element }.prefix(5)
    print("top-5 classes: " + top.map { String(format: "%d (%.3f)", $0.offset, $0.element) }.joined(separator: ", "))

    // Compiled code against Kiln's interpreter, and against PyTorch when there is a reference.
    let interpreted = try model.predict(input)
    print(String(format: "largest difference from Kiln's interpreter: %.2e", largestDifference(logits, interpreted)))
    if let expected {
      let difference = largestDifference(logits, expected.logits)
      let scale = expected.logits.scalars.map(abs).max() ?? 1
      print(String(format: "largest difference from the reference logits: %.2e (logits up to %.2f)", difference, scale))
      guard difference <= 1e-4 * max(scale, 1) else { throw ValidationError("the logits differ from the reference's by more than 1e-4 relative") }
      print("matches the reference within 1e-4")
    }
  }

  func largestDifference(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Float {
    zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
  }
}
