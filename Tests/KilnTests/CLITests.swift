import Foundation
import Testing

@testable import Kiln

/// End-to-end runs of the `kiln` executable built by `swift build`.
@Suite struct CLITests {
  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  func kiln(_ arguments: String...) throws -> Result { try execute("kiln", arguments) }

  func execute(_ executable: String, _ arguments: [String]) throws -> Result {
    let binary = packageRoot.appendingPathComponent(".build/debug/\(executable)")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
      throw KilnError.invalidArgument("\(binary.path) is missing: run `swift build` before `swift test` (make test does)")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let (out, err) = (Pipe(), Pipe())
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
  }

  /// Expects a failure whose message is one line containing `fragment`.
  func expectFailure(_ result: Result, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status != 0, sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n").filter { !$0.isEmpty }
    #expect(lines.count == 1, "one-line error, got: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(fragment), "\(result.stderr) lacks \(fragment)", sourceLocation: sourceLocation)
  }

  @Test func zooHelpIsGolden() throws {
    let help = try kiln("zoo", "--help")
    #expect(help.status == 0)
    #expect(help.stdout == """
      OVERVIEW: List the models of the zoo with their parameters and multiply-adds.

      Examples:
        kiln zoo
        kiln summary resnet18
        kiln bench resnet18 --input-shape 1,3,224,224

      USAGE: kiln zoo

      OPTIONS:
        -h, --help              Show help information.


      """)
  }

  @Test(arguments: ["summary", "run", "dump", "train", "saliency", "zoo"])
  func everyCommandHasHelpWithExamples(command: String) throws {
    let help = try kiln(command, "--help")
    #expect(help.status == 0)
    #expect(help.stdout.contains("Examples:"))
    #expect(help.stdout.contains("kiln \(command)") || command == "zoo")
  }

  @Test func zooAndSummary() throws {
    let zoo = try kiln("zoo")
    #expect(zoo.status == 0)
    let rows = zoo.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(4).joined(separator: " ") }
    #expect(rows.contains("lenet5 1,1,32,32 61,706 0.000"))
    #expect(rows.contains("resnet18 1,3,224,224 11,689,512 1.814"))
    #expect(rows.count == Zoo.entries.count + 2)
    let summary = try kiln("summary", "lenet5")
    #expect(summary.status == 0 && summary.stdout.contains("Parameters: 61,706 (trainable 61,706, state 0)"))
    let json = try kiln("summary", "lenet5", "--input-shape", "4,1,32,32", "--json")
    let decoded = try JSONDecoder().decode(Kiln.Summary.self, from: Data(json.stdout.utf8))
    #expect(decoded.rows[0].outputShape == [4, 6, 28, 28])
    #expect(decoded.multiplyAdds == 4 * 416_520)
  }

  @Test func dumpPrintsTheGraph() throws {
    #expect(try kiln("dump", "lenet5").stdout == Zoo.lenet5().text)
    #expect(try kiln("dump", "lenet5", "--dot").stdout.hasPrefix("digraph \"lenet5\""))
    let backward = try kiln("dump", "lenet5", "--backward", "--freeze", "conv1").stdout
    #expect(backward.contains("grad.conv2.weight = conv_weight_grad("))
    #expect(!backward.contains("grad.conv1"))
    #expect(backward.contains("outputs %"))
  }

  /// `bench` and `dump --program` generate code for another CPU with --target-cpu: AVX2 code
  /// (8 floats a vector) is timed and planned on any x86-64 machine with AVX2.
  @Test func benchAndDumpTakeATargetCPU() throws {
    let bench = try kiln("bench", "lenet5", "--target-cpu", "x86-64-v3", "--compiled-only", "--no-layers", "--repetitions", "5", "--seconds", "0.05")
    #expect(bench.status == 0 && bench.stdout.contains("LLVM target x86-64-v3") && !bench.stdout.contains("AVX-512"), "\(bench.stdout) \(bench.stderr)")
    let program = try kiln("dump", "resnet18", "--program", "--target-cpu", "x86-64-v3")
    #expect(program.status == 0 && program.stdout.contains("f0 = conv([1,3,224,224], [64,3,7,7], [64]) : [1,64,112,112] by direct with"), "\(program.stdout)")
    let directory = try temporaryDirectory()
    for command in [["bench", "lenet5"], ["dump", "lenet5", "--program"], ["compile", "lenet5", "-o", directory + "/lenet5.so"]] {
      expectFailure(try execute("kiln", command + ["--target-cpu", "znver9"]), "LLVM 14 does not know the CPU \"znver9\"")
    }
  }

  @Test func runClassifiesAFashionMNISTImage() throws {
    let images = FashionMNIST.files(.test).images
    let result = try kiln("run", "lenet5", "--input", images, "--index", "0", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect(report["label"] as? Int == 9)
    let top = try #require(report["top"] as? [[String: Any]])
    #expect(top.count == 5)
    #expect(top.compactMap { $0["probability"] as? Double }.reduce(0, +) <= 1.0001)
    // Without --input, the Fashion-MNIST test set from --data-dir.
    let text = try kiln("run", "lenet5", "--index", "1", "--data-dir", FashionMNIST.defaultDirectory)
    #expect(text.stdout.contains("true class: 2 (Pullover)"))
    expectFailure(try kiln("run", "lenet5", "--data-dir", "/nonexistent"), "/nonexistent/t10k-images-idx3-ubyte.gz: no such file")
  }

  @Test func runsAModelFileWithItsWeights() throws {
    let directory = try temporaryDirectory()
    let model = try Model(graph: Zoo.lenet5(), seed: 5)
    try model.save(graph: directory + "/lenet5.json", weights: directory + "/lenet5.safetensors")
    let input = Tensor<Float>(random([1, 1, 32, 32], seed: 6))
    try SafeTensors.write([("input", input)], to: directory + "/x.safetensors")
    let result = try kiln("run", directory + "/lenet5.json", "--weights", directory + "/lenet5.safetensors", "--input", directory + "/x.safetensors", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let output = try #require(report["output"] as? [Double])
    let expected = try model.predict(input).scalars
    for (a, b) in zip(output, expected) { #expect(abs(a - Double(b)) < 1e-5) }
  }

  @Test func residualBlockExampleRuns() throws {
    let result = try execute("residual-block", [])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("Parameters: 20,418 (trainable 20,194, state 224)"))
    #expect(result.stdout.contains("logits for the first Fashion-MNIST test image: ["))
  }

  @Test func trainResumeAndSaliency() throws {
    let directory = try temporaryDirectory()
    let out = directory + "/lenet5.safetensors"
    let train = try kiln("train", "lenet5", "--epochs", "1", "--limit", "64", "--batch", "32", "--optimizer", "adam", "--lr", "0.001", "--out", out)
    #expect(train.status == 0, "\(train.stderr)")
    #expect(train.stdout.contains("epoch 1: train loss"))
    #expect(FileManager.default.fileExists(atPath: directory + "/lenet5.ckpt.safetensors"))
    let resumed = try kiln(
      "train", "lenet5", "--epochs", "2", "--limit", "64", "--batch", "32", "--optimizer", "adam", "--lr", "0.001", "--out", out,
      "--resume", directory + "/lenet5.ckpt.safetensors")
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stdout.contains("resumed") && resumed.stdout.contains("epoch 2:") && !resumed.stdout.contains("epoch 1:"))
    let saliency = try kiln("saliency", "lenet5", "--weights", out, "--index", "0", "--out", directory + "/map.png")
    #expect(saliency.status == 0, "\(saliency.stderr)")
    #expect(saliency.stdout.contains("true class Ankle boot"))
    let png = try Data(contentsOf: URL(fileURLWithPath: directory + "/map.png"))
    #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    expectFailure(
      try kiln("train", "lenet5", "--limit", "64", "--batch", "32", "--optimizer", "momentum", "--out", out, "--resume", directory + "/lenet5.ckpt.safetensors"),
      "was written with optimizer")
    expectFailure(try kiln("train", "lenet5", "--optimizer", "lion"), "--optimizer lion is not one of sgd, momentum, nesterov, adagrad, rmsprop, adam")
    expectFailure(try kiln("train", "lenet5", "--freeze", "conv7", "--limit", "64"), "cannot freeze conv7")
  }

  @Test func onnxModelsWorkLikeZooModels() throws {
    let onnx = packageRoot.appendingPathComponent("Tests/KilnONNXTests/Fixtures/lenet5.onnx").path
    let summary = try kiln("summary", onnx, "--input-shape", "1,1,32,32")
    #expect(summary.status == 0, "\(summary.stderr)")
    #expect(summary.stdout.contains("Parameters: 61,706"))
    let run = try kiln("run", onnx, "--input-shape", "1,1,32,32", "--index", "0", "--input", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    #expect(run.status == 0, "\(run.stderr)")
    let directory = try temporaryDirectory()
    let converted = try kiln("import", onnx, "--input-shape", "1,1,32,32", "-o", directory + "/lenet.kiln.json", "--weights", directory + "/lenet.safetensors")
    #expect(converted.status == 0, "\(converted.stderr)")
    #expect(converted.stdout.contains("61,706 parameters"))
    let reloaded = try kiln("summary", directory + "/lenet.kiln.json")
    #expect(reloaded.stdout.contains("Parameters: 61,706"))
    expectFailure(try kiln("summary", onnx), "input input has dynamic dimensions [N,1,32,32]; give its shape with --input-shape")
  }

  /// `bench` and `compile` keep the model's own batch (from --input-shape or the file) unless
  /// --batch asks for another; `run` on an ONNX model says whose weights it uses.
  @Test func theModelsBatchStandsWithoutBatch() throws {
    let directory = try temporaryDirectory()
    let compiled = try kiln("compile", "lenet5", "--input-shape", "8,1,32,32", "-o", directory + "/b8.so")
    #expect(compiled.status == 0, "\(compiled.stderr)")
    #expect(try String(contentsOfFile: directory + "/b8.h", encoding: .utf8).contains("#define B8_INPUT_INPUT_SIZE 8192"))
    let rebatched = try kiln("compile", "lenet5", "--input-shape", "8,1,32,32", "--batch", "2", "-o", directory + "/b2.so")
    #expect(rebatched.status == 0, "\(rebatched.stderr)")
    #expect(try String(contentsOfFile: directory + "/b2.h", encoding: .utf8).contains("#define B2_INPUT_INPUT_SIZE 2048"))
    let bench = try kiln("bench", "lenet5", "--input-shape", "4,1,32,32", "--no-layers", "--repetitions", "1000", "--seconds", "0.05")
    #expect(bench.status == 0 && bench.stdout.contains("[4,10]"), "\(bench.stdout) \(bench.stderr)")
    // With the caches emptied before every run (here of a layer too).
    let cold = try kiln("bench", "lenet5", "--only", "conv1", "--compiled-only", "--cold", "--repetitions", "2")
    #expect(cold.status == 0 && cold.stdout.contains("conv1") && cold.stdout.contains("total"), "\(cold.stdout) \(cold.stderr)")
    expectFailure(try kiln("bench", "lenet5", "--seconds", "0"), "--batch, --repetitions and --seconds must be positive")
    // A training step, against the interpreter's and alone (no interpreted time, no speedup).
    for compiledOnly in [false, true] {
      let step = try execute("kiln", ["bench", "lenet5", "--input-shape", "4,1,32,32", "--train", "--repetitions", "2"] + (compiledOnly ? ["--compiled-only"] : []))
      let row = step.stdout.split(separator: "\n").first { $0.hasPrefix("train step") }.map { $0.split(separator: " ").map(String.init) } ?? []
      #expect(step.status == 0 && row.count > 5 && (row[4] == "–") == compiledOnly, "\(step.stdout) \(step.stderr)")
    }
    let onnx = packageRoot.appendingPathComponent("Tests/KilnONNXTests/Fixtures/lenet5.onnx").path
    let run = try kiln("run", onnx, "--input-shape", "1,1,32,32")
    #expect(run.status == 0 && !run.stdout.contains("untrained"), "\(run.stdout) \(run.stderr)")
  }

  @Test func trainWithAugmentation() throws {
    let directory = try temporaryDirectory()
    let result = try kiln("train", "lenet5", "--limit", "64", "--batch", "32", "--augment", "crop2,flip", "--out", directory + "/w.safetensors")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("epoch 1:"))
    expectFailure(try kiln("train", "lenet5", "--limit", "64", "--augment", "blur"), "augmentation blur is not one of cropN, translateN or flip")
  }

  @Test func visualizeDrawsFiltersAndFeatureMaps() throws {
    let directory = try temporaryDirectory()
    let filters = try kiln("visualize", "lenet5", "--out", directory + "/filters.png")
    #expect(filters.status == 0, "\(filters.stderr)")
    #expect(filters.stdout.contains("6 filters of 1×5×5"))
    let maps = try kiln("visualize", "lenet5", "--what", "activations", "--layer", "pool1", "--index", "2", "--out", directory + "/maps.png")
    #expect(maps.status == 0, "\(maps.stderr)")
    #expect(maps.stdout.contains("6 maps of 14×14 from pool1 for test image 2 (Trouser)"))
    let patches = try kiln(
      "visualize", "lenet5", "--what", "top-patches", "--layer", "conv2.relu", "--channel", "1", "--count", "4", "--limit", "50", "--out", directory + "/patches.png")
    #expect(patches.status == 0, "\(patches.stderr)")
    #expect(patches.stdout.contains("the 4 strongest responses of channel 1 of conv2.relu over 50 test images"), "\(patches.stdout)")
    let guided = try kiln(
      "visualize", "lenet5", "--what", "guided-backprop", "--layer", "conv2.relu", "--channel", "2", "--index", "1", "--out", directory + "/guided.png")
    #expect(guided.status == 0, "\(guided.stderr)")
    #expect(guided.stdout.contains("test image 1 (Pullover): channel 2 of conv2.relu projected back"), "\(guided.stdout)")
    for file in ["filters.png", "maps.png", "patches.png", "guided.png"] {
      #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)")).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }
    expectFailure(try kiln("visualize", "lenet5", "--what", "activations"), "--what activations needs --layer")
    expectFailure(try kiln("visualize", "lenet5", "--what", "top-patches", "--layer", "fc1"), "fc1 is not a layer of lenet5 with [N, C, H, W] maps")
    expectFailure(try kiln("visualize", "lenet5", "--layer", "fc9"), "lenet5 has no 2D convolution called fc9")
  }

  @Test func badInputGivesOneLineErrors() throws {
    expectFailure(try kiln("summary", "nosuch"), "no model nosuch in the zoo (there are: lenet5, alexnet, alexnet_lrn, zfnet, vgg11")
    expectFailure(try kiln("summary", "lenet5", "--input-shape", "1,x"), "--input-shape 1,x is not a list of positive integers")
    expectFailure(try kiln("summary", "lenet5", "--input-shape", "1,1,4,4"), "conv1 (Conv2D): output would be empty")
    expectFailure(try kiln("run", "lenet5", "--weights", "/nonexistent/w.safetensors"), "/nonexistent/w.safetensors: no such file")
    expectFailure(try kiln("run", "lenet5", "--index=-1", "--input", "x"), "--index must be 0 or more")
    expectFailure(try kiln("run", "lenet5", "--input", "notes.txt"), "neither a .safetensors file nor an IDX images file")
    expectFailure(try kiln("frobnicate"), "Unexpected argument 'frobnicate'")
  }
}
