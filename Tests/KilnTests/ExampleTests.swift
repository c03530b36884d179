import Foundation
import Testing

@testable import Kiln

/// The examples of `examples/`, each run at a small size as a user would run it.
@Suite struct ExampleTests {
  func run(_ example: String, _ arguments: [String]) throws -> CLITests.Result {
    let result = try CLITests().execute(example, arguments)
    #expect(result.status == 0, "\(example): \(result.stderr)")
    return result
  }

  @Test func transferLearning() throws {
    let result = try run("transfer-learning", ["160"])
    #expect(result.stdout.contains("after training the head"))
    #expect(result.stdout.contains("frozen layers bit-identical: true"))
  }

  @Test func lenetFashionMNIST() throws {
    let directory = try temporaryDirectory()
    let result = try run("lenet-fashion-mnist", ["--limit", "640", "--test-limit", "200", "--epochs", "1", "--out", directory])
    #expect(result.stdout.contains("epoch 1: loss"))
    let accuracy = result.stdout.split(separator: "\n").first { $0.hasPrefix("test accuracy") }
    #expect(accuracy != nil, "\(result.stdout)")
    for file in ["lenet5.safetensors", "lenet5.so", "lenet5.h"] {
      #expect(FileManager.default.fileExists(atPath: "\(directory)/\(file)"), "\(file) missing")
    }
    // The saved weights load into the batch-1 model.
    _ = try Model(graph: Zoo.lenet5(input: [1, 1, 32, 32]), weightsFrom: "\(directory)/lenet5.safetensors")
  }

  @Test func saliency() throws {
    let directory = try temporaryDirectory()
    let result = try run("saliency", ["--limit", "640", "--images", "2", "--out", directory])
    #expect(result.stdout.contains("image 0: Ankle boot, predicted"), "\(result.stdout)")
    #expect(result.stdout.contains("of the gradient,") && result.stdout.contains("of the occlusion drop"))
    let png = try Data(contentsOf: URL(fileURLWithPath: directory + "/saliency.png"))
    #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
  }

  /// The kernels through the compiled convolution: the interpreter's results, and every kernel
  /// whose weights sum to 1 keeps the image's mean brightness (replicated borders).
  @Test func imageFilters() throws {
    let directory = try temporaryDirectory()
    let result = try run("image-filters", ["--index", "3", "--out", directory])
    let agreement = result.stdout.split(separator: "\n").first { $0.hasPrefix("compiled equals the interpreter within") }
    #expect(agreement.flatMap { $0.split(separator: " ").last.flatMap { Float($0) } }.map { $0 < 1e-5 } == true, "\(result.stdout)")
    for kernel in ["sharpen", "box-blur", "gaussian-blur"] {
      // "sharpen: kernel […] → …/sharpen.png, mean 0.1673 (image 0.1673), range …"
      let line = result.stdout.split(separator: "\n").first { $0.hasPrefix(kernel + ":") } ?? ""
      let words = line.split(whereSeparator: { " (),".contains($0) })
      let means = zip(words, words.dropFirst()).compactMap { ["mean", "image"].contains(String($0)) ? Float($1) : nil }
      #expect(means.count == 2 && abs(means[0] - means[1]) < 1e-3, "\(kernel): \(line)")
    }
    for file in ["image-filters", "edges", "sharpen", "box-blur", "gaussian-blur", "original"] {
      #expect(FileManager.default.fileExists(atPath: "\(directory)/\(file).png"), "\(file).png missing")
    }
  }

  @Test func autoencoder() throws {
    let directory = try temporaryDirectory()
    let result = try run("autoencoder", ["--limit", "1024", "--epochs", "1", "--show", "4", "--out", directory])
    // "test images: mean squared error E per pixel (predicting the mean pixel everywhere: B)"
    let numbers = result.stdout.split(separator: "\n").first { $0.hasPrefix("test images") }?
      .split(whereSeparator: { " ():".contains($0) }).compactMap { Float($0) } ?? []
    #expect(numbers.count == 2 && numbers[0] < numbers[1], "reconstructions no better than the mean: \(result.stdout)")
    #expect(FileManager.default.fileExists(atPath: directory + "/reconstructions.png"))
  }

  @Test func video3D() throws {
    let result = try run("video-3d", ["--clips", "320", "--test-clips", "40", "--epochs", "1"])
    #expect(result.stdout.contains("epoch 1: loss"))
    #expect(result.stdout.contains("over 40 clips (right"), "\(result.stdout)")
  }

  /// The numbers of the lines of `text` that start with `prefix`, e.g. the losses of "step N: loss L".
  func numbers(_ text: String, after prefix: String) -> [Float] {
    text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { $0.split(separator: " ").last.flatMap { Float($0) } }
  }

  @Test func styleTransfer() throws {
    let directory = try temporaryDirectory()
    let result = try run("style-transfer", ["--steps", "40", "--out", directory])
    let losses = numbers(result.stdout, after: "step ")
    #expect(losses.count == 6 && losses.last! < 0.5 * losses.first!, "the loss did not fall: \(result.stdout)")
    #expect(FileManager.default.fileExists(atPath: directory + "/style-transfer.png"))
  }

  @Test func textCNN() throws {
    let data = packageRoot.appendingPathComponent("examples/text-cnn/sentences.tsv").path
    let result = try run("text-cnn", ["--data", data, "--epochs", "6"])
    #expect(result.stdout.contains("320 training and 80 test sentences, 4 classes (cooking, sports, technology, weather)"))
    let accuracy = result.stdout.split(separator: "\n").first { $0.hasPrefix("test accuracy") }?.split(separator: " ")[2].dropLast()
    #expect(accuracy.flatMap { Double($0) }.map { $0 > 50 } == true, "no better than chance (25%): \(result.stdout)")
    let missing = try CLITests().execute("text-cnn", ["--data", "/nonexistent/sentences.tsv"])
    #expect(missing.status != 0 && missing.stderr.contains("cannot read /nonexistent/sentences.tsv"))
  }

  @Test func segmentation() throws {
    let directory = try temporaryDirectory()
    let result = try run("segmentation", ["--images", "480", "--test-images", "48", "--epochs", "2", "--out", directory])
    // "48 test images: pixel accuracy A%, mean IoU M (background …, circle …, square …, triangle …)"
    let line = result.stdout.split(separator: "\n").first { $0.contains("test images: pixel accuracy") }.map(String.init) ?? ""
    let numbers = line.split(whereSeparator: { " %,()".contains($0) }).compactMap { Double($0) }
    #expect(numbers.count == 7, "\(result.stdout)")
    // Better than calling every pixel background.
    let background = result.stdout.split(separator: "\n").first { $0.contains("are background") }?.split(separator: "%").first.flatMap { Double($0) }
    #expect(numbers.count == 7 && background != nil && numbers[1] > background! + 5 && numbers[2] > 0.3, "\(result.stdout)")
    #expect(FileManager.default.fileExists(atPath: directory + "/segmentation.png"))
  }

  @Test func localization() throws {
    let directory = try temporaryDirectory()
    let result = try run("localization", ["--images", "640", "--test-images", "96", "--epochs", "1", "--out", directory])
    // "96 test canvases: accuracy A%, mean IoU M, IoU ≥ 0.5 on P%, right class and IoU ≥ 0.5 on Q%"
    let line = result.stdout.split(separator: "\n").first { $0.contains("test canvases: accuracy") }.map(String.init) ?? ""
    let numbers = line.split(whereSeparator: { " %,".contains($0) }).compactMap { Double($0) }
    #expect(numbers.count == 7, "\(result.stdout)")
    // One epoch on 640 canvases already places boxes better than the canvas's centre square would
    // on average (IoU about 0.2 for items of 24–48 pixels on 64).
    #expect(numbers.count == 7 && numbers[2] > 0.25, "\(result.stdout)")
    #expect(result.stdout.contains("canvas  0: "))
    #expect(FileManager.default.fileExists(atPath: directory + "/localization.png"))
  }

  /// The detector at a small size: mAP is reported, and the C program's objects through the
  /// compiled `detector.so` equal the Swift library's (threshold 0: every cell is a candidate,
  /// so non-maximum suppression has work whatever scores one epoch of training gives).
  @Test func detection() throws {
    let directory = try temporaryDirectory()
    let result = try run(
      "detection", ["--images", "320", "--test-images", "64", "--epochs", "1", "--c-canvases", "3", "--c-threshold", "0", "--out", directory])
    let map = result.stdout.split(separator: "\n").first { $0.contains("mAP@0.5") }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    #expect(map.map { (0...1).contains($0) } == true, "\(result.stdout)")
    // "C and Swift: the same objects (N objects in 3 canvases; …)" with N > 0.
    let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("C and Swift: the same objects (") }
    let objects = line?.split(separator: "(").last?.split(separator: " ").first.flatMap { Int($0) }
    #expect(objects.map { $0 > 0 } == true, "\(result.stdout)")
    for file in ["detection.png", "detector.so", "detector.h", "detect"] {
      #expect(FileManager.default.fileExists(atPath: "\(directory)/\(file)"), "\(file) missing")
    }
  }

  @Test func onnxImport() throws {
    let fixtures = packageRoot.appendingPathComponent("Tests/KilnONNXTests/Fixtures").path
    let directory = try temporaryDirectory()
    let result = try run(
      "onnx-import", ["--model", fixtures + "/lenet5.onnx", "--reference", fixtures + "/lenet5.reference.safetensors", "--out", directory])
    #expect(result.stdout.contains("61706 parameters"))
    #expect(result.stdout.contains("matches the reference within 1e-4"), "\(result.stdout)")
    #expect(FileManager.default.fileExists(atPath: directory + "/lenet5.so") && FileManager.default.fileExists(atPath: directory + "/lenet5.h"))
  }

  @Test func resnetInferenceLoadsStateDictsAndListsMismatches() throws {
    let directory = try temporaryDirectory()
    let model = try Model(graph: Zoo.resnet(.resnet18, input: [1, 3, 32, 32]), seed: 7)
    // A state_dict as PyTorch writes it: with batch-norm step counters.
    let counters = model.parameters.names.filter { $0.hasSuffix("running_mean") }.map {
      ($0.replacingOccurrences(of: "running_mean", with: "num_batches_tracked"), Tensor<Float>(validShape: [], scalars: [100]))
    }
    try SafeTensors.write(model.parameters.entries + counters, to: directory + "/weights.safetensors")
    let input = model.graph.sampleInputs(seed: 2)["input"]!
    try SafeTensors.write([("input", input), ("logits", try model.predict(input))], to: directory + "/reference.safetensors")
    let result = try run(
      "resnet-inference", ["--weights", directory + "/weights.safetensors", "--reference", directory + "/reference.safetensors", "--repetitions", "2"])
    #expect(result.stdout.contains("ResNet-18: 11689512 weights and 9600 batch-norm statistics"))
    #expect(result.stdout.contains("matches the reference within 1e-4"), "\(result.stdout)")

    // ResNet-34's weights: the error lists the first mismatches and how many there are.
    let other = try Model(graph: Zoo.resnet(.resnet34, input: [1, 3, 32, 32]), seed: 7)
    try SafeTensors.write(other.parameters.entries, to: directory + "/resnet34.safetensors")
    let failure = try CLITests().execute("resnet-inference", ["--weights", directory + "/resnet34.safetensors", "--size", "32"])
    #expect(failure.status != 0)
    #expect(failure.stderr.contains("mismatches between these weights and model resnet18"), "\(failure.stderr)")
    #expect(failure.stderr.contains("tensor layer1.2.conv1.weight is not a parameter of model resnet18"), "\(failure.stderr)")
  }
}
