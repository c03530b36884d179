import ArgumentParser
import Kiln
import KilnLLVM

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Test-set accuracy of a classifier on Fashion-MNIST.",
    discussion: """
      Examples:
        kiln evaluate lenet5 --weights lenet5.safetensors
        kiln evaluate lenet5 --weights lenet5.safetensors --backend interp --limit 1000
      """)

  @OptionGroup var options: ModelOptions

  @Option(help: "Trained weights (safetensors).")
  var weights: String?

  @OptionGroup var data: DataOptions

  @Option(help: "Evaluate the first N test images only.")
  var limit: Int?

  @Option(help: "jit or interp.")
  var backend = Backend.jit

  func validate() throws {
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
  }

  func run() throws {
    let model = try options.model(weights: weights)
    guard let shape = model.inputType?.shape, shape.count == 4, shape[2] >= 28, (shape[2] - 28) % 2 == 0 else {
      throw ValidationError("Fashion-MNIST images need a model input [N,1,S,S] with even S ≥ 28")
    }
    let test = try FashionMNIST.load(.test, directory: data.directory, limit: limit, padding: (shape[2] - 28) / 2)
    guard test.count > 0 else { throw ValidationError("the test set in \(data.directory) holds no images: there is nothing to evaluate") }
    let compiled = backend == .jit ? try Compiler().compile(model) : nil
    var correct = 0
    for index in 0..<test.count {
      let (image, label) = test.batch([index])
      let logits = try compiled?.predict(image) ?? model.predict(image)
      if logits.argmaxRows()[0] == Int(label.scalars[0]) { correct += 1 }
    }
    print("accuracy \(correct)/\(test.count) = \(String(format: "%.2f", 100 * Double(correct) / Double(test.count)))% (\(backend.rawValue))")
  }
}
