import Foundation
import Testing

@testable import Kiln

/// Bad input to the CLI found by a probe tour: each gives a one-line error and a non-zero exit
/// (never a trap), and no good file is overwritten by a bad one.
@Suite struct HardeningCLITests {
  let cli = CLITests()

  func kiln(_ arguments: String...) throws -> CLITests.Result { try cli.execute("kiln", arguments) }

  /// A diverging run stops at the first non-finite loss, naming the step, and leaves the weights
  /// and checkpoint of an earlier good run as they were.
  @Test func divergedTrainingNeverOverwritesGoodWeights() throws {
    let directory = try temporaryDirectory()
    let out = directory + "/good.safetensors"
    let good = try kiln("train", "lenet5", "--epochs", "1", "--limit", "64", "--batch", "32", "--out", out)
    #expect(good.status == 0, "\(good.stderr)")
    let files = [out, directory + "/good.ckpt.safetensors"]
    let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    let diverged = try kiln("train", "lenet5", "--epochs", "2", "--limit", "640", "--batch", "32", "--lr", "1e6", "--out", out)
    cli.expectFailure(diverged, "training diverged (a learning rate of 1000000.0 may be too high). No weights were written")
    #expect(diverged.stderr.contains("training step "), "\(diverged.stderr)")
    #expect(try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
    cli.expectFailure(try kiln("train", "lenet5", "--lr", "inf", "--out", out), "--lr must be a positive finite number, got inf")
    cli.expectFailure(try kiln("train", "lenet5", "--momentum", "nan", "--out", out), "the optimizer's momentum is nan")
    cli.expectFailure(try kiln("train", "lenet5", "--weight-decay=-1", "--out", out), "the optimizer's weight decay is -1.0")
    #expect(try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
  }

  /// Checkpoints: resuming one that already has every epoch, and forged metadata.
  @Test func checkpointsPastTheEndOrForgedAreHandled() throws {
    let directory = try temporaryDirectory()
    let out = directory + "/w.safetensors"
    let checkpoint = directory + "/w.ckpt.safetensors"
    #expect(try kiln("train", "lenet5", "--epochs", "2", "--limit", "64", "--batch", "32", "--out", out).status == 0)
    let done = try kiln("train", "lenet5", "--epochs", "1", "--limit", "64", "--batch", "32", "--out", out, "--resume", checkpoint)
    #expect(done.status == 0, "\(done.stderr)")
    #expect(done.stdout.contains("wrote \(out): \(checkpoint) had already completed 2 of --epochs 1; nothing trained"), "\(done.stdout)")
    let (tensors, metadata) = try SafeTensors.read(checkpoint)
    for (epoch, step) in [("-5", "4"), ("1", "-1"), ("1", "9223372036854775807"), ("9007199254740993", "2")] {
      var forged = metadata
      forged["epoch"] = epoch
      forged["steps"] = step
      try SafeTensors.write(tensors, metadata: forged, to: directory + "/forged.safetensors")
      cli.expectFailure(
        try kiln("train", "lenet5", "--epochs", "3", "--limit", "64", "--batch", "32", "--out", out, "--resume", directory + "/forged.safetensors"),
        "has impossible metadata (epoch \(epoch), step \(step))")
    }
  }

  @Test func outputPlacesThatCannotBeWrittenAreRefusedBeforeTraining() throws {
    let directory = try temporaryDirectory()
    try Data("a file".utf8).write(to: URL(fileURLWithPath: directory + "/file"))
    let underFile = try kiln("train", "lenet5", "--limit", "64", "--batch", "32", "--out", directory + "/file/w.safetensors")
    cli.expectFailure(underFile, "\(directory)/file: cannot create the directory: Not a directory")
    cli.expectFailure(try kiln("compile", "lenet5", "-o", directory + "/file/lenet5.so"), "\(directory)/file: cannot create the directory: Not a directory")
    let proc = try kiln("train", "lenet5", "--limit", "64", "--batch", "32", "--out", "/proc/w.safetensors")
    cli.expectFailure(proc, "choose another place")
    #expect(!proc.stdout.contains("epoch"))
  }

  @Test func evaluatingNothingIsAnError() throws {
    cli.expectFailure(try kiln("evaluate", "lenet5", "--limit", "0"), "--limit must be at least 1, got 0")
    let directory = try temporaryDirectory()
    let images = Data([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28])
    let labels = Data([0, 0, 8, 1, 0, 0, 0, 0])
    try images.write(to: URL(fileURLWithPath: directory + "/t10k-images-idx3-ubyte.gz"))
    try labels.write(to: URL(fileURLWithPath: directory + "/t10k-labels-idx1-ubyte.gz"))
    cli.expectFailure(try kiln("evaluate", "lenet5", "--data-dir", directory), "holds no images: there is nothing to evaluate")
  }

  /// `--json` writes NaN outputs as "NaN" (JSON has no NaN).
  @Test func jsonOutputWithNaN() throws {
    let directory = try temporaryDirectory()
    var image = try Tensor<Float>(shape: [1, 1, 32, 32], repeating: 0.5)
    image.scalars[0] = .nan
    try SafeTensors.write([("input", image)], to: directory + "/nan.safetensors")
    let run = try kiln("run", "lenet5", "--input", directory + "/nan.safetensors", "--json")
    #expect(run.status == 0, "\(run.stderr)")
    let report = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect((report["output"] as? [String])?.allSatisfy { $0 == "NaN" } == true, "\(run.stdout)")
  }
}

/// Sizes from files and options that overflow 64 bits, or do not fit in memory: errors, not traps.
@Suite struct OverflowingSizeTests {
  let cli = CLITests()

  @Test func safetensorsShapesThatOverflowAreRefused() throws {
    let directory = try temporaryDirectory()
    for shape in ["[1099511627776,1099511627776]", "[4611686018427387904,1]"] {
      let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,4]}}    "
      var data = Data()
      withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
      data.append(contentsOf: Array(header.utf8) + [0, 0, 0, 0])
      try data.write(to: URL(fileURLWithPath: directory + "/w.safetensors"))
      expectError("w has shape", "but spans 4 bytes") { _ = try SafeTensors.read(directory + "/w.safetensors") }
    }
  }

  @Test func idxDimensionsThatOverflowAreRefused() throws {
    let directory = try temporaryDirectory()
    let header: [UInt8] = [0, 0, 8, 3] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF]
    try Data(header + [1, 2, 3]).write(to: URL(fileURLWithPath: directory + "/x.idx"))
    expectError("need more than 2^63; the file is truncated or corrupt") { _ = try IDXFile(path: directory + "/x.idx") }
  }

  @Test func modelFileAttributesThatOverflowAreRefused() throws {
    let directory = try temporaryDirectory()
    try Model.saveGraph(Zoo.lenet5(), to: directory + "/lenet5.json")
    var file = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/lenet5.json"))) as? [String: Any])
    // The first convolution's padding, set to 2^62 on both sides: file.graph.nodes[i].op.conv._0.padding.
    var graph = try #require(file["graph"] as? [String: Any])
    var nodes = try #require(graph["nodes"] as? [[String: Any]])
    let conv = try #require(nodes.firstIndex { ($0["op"] as? [String: Any])?["conv"] != nil })
    var op = try #require(nodes[conv]["op"] as? [String: Any])
    var wrapper = try #require(op["conv"] as? [String: Any])
    var attributes = try #require(wrapper["_0"] as? [String: Any])
    attributes["padding"] = ["before": [1 << 62, 1 << 62], "after": [1 << 62, 1 << 62]]
    wrapper["_0"] = attributes
    op["conv"] = wrapper
    nodes[conv]["op"] = op
    graph["nodes"] = nodes
    file["graph"] = graph
    try JSONSerialization.data(withJSONObject: file).write(to: URL(fileURLWithPath: directory + "/bad.json"))
    expectError("conv1 (Conv2D)", "must each be at most 2^24") { _ = try Model.loadGraph(from: directory + "/bad.json") }
  }

  /// The public tensor API throws where it trapped.
  @Test func tensorsOfTheWrongSizeAreErrors() throws {
    expectError("5 scalars do not fill shape [2, 3] (6 elements)") { _ = try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5]) }
    expectError("1 scalars do not fill shape [-1] (a negative or overflowing size)") { _ = try Tensor<Float>(shape: [-1], scalars: [1]) }
    expectError("a tensor has shape [4294967296, 4294967296]") { _ = try Tensor<Double>(shape: [1 << 32, 1 << 32], repeating: 0) }
    let tensor = try Tensor<Float>(shape: [2, 3], repeating: 1)
    #expect(try tensor.reshaped([3, 2]).shape == [3, 2])
    expectError("6 scalars do not fill shape [4, 2] (8 elements)") { _ = try tensor.reshaped([4, 2]) }
  }

  @Test func commandLineSizesThatOverflowOrCannotFitAreRefused() throws {
    let kiln = { (arguments: [String]) in try cli.execute("kiln", arguments) }
    let tooMany = "is negative or has more than 2^48 elements"
    cli.expectFailure(try kiln(["summary", "lenet5", "--input-shape", "9223372036854775807,1,32,32"]), tooMany)
    cli.expectFailure(try kiln(["summary", "lenet5", "--input-shape", "1,1,4294967296,4294967296"]), tooMany)
    cli.expectFailure(try kiln(["compile", "lenet5", "--batch", "9223372036854775807", "-o", "/tmp/never.so"]), tooMany)
    cli.expectFailure(try kiln(["run", "lenet5", "--index", "9223372036854775807"]), "--index 9223372036854775807 is outside the 10000 images")
    cli.expectFailure(try kiln(["train", "lenet5", "--limit=-5", "--batch", "1"]), "--limit -5 is smaller than the batch 1")
    cli.expectFailure(try kiln(["run", "lenet5", "--input-shape", "1,3,100000,100000"]), "the parameters of lenet5 needs 25185.9 GB of memory but this machine has")
    cli.expectFailure(try kiln(["run", "resnet18", "--input-shape", "64,3,2240,2240"]), "resnet18 needs 41.1 GB of memory but this machine has")
    cli.expectFailure(
      try kiln(["run", "resnet18", "--input-shape", "64,3,2240,2240", "--backend", "interp"]), "running resnet18 in the interpreter needs")
  }
}
