// Object detection with a single-stage, YOLO-style detector: one to four Fashion-MNIST items on
// 96×96 canvases strewn with fragments of other items. The network ends in a 6×6 grid; each cell
// predicts objectness, a box and class scores (`YOLOGrid`), trained with compiled steps on YOLO
// v1's loss. The report gives VOC mAP@0.5 on held-out canvases and a PNG of predicted and true
// boxes; then the detector is compiled to a shared object and a C program finds the same objects
// through `detector_detect` as the Swift library does.
//
//   swift run -c release detection --images 10000 --epochs 10 --out out/detection
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct DetectionExample: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "detection", abstract: "Train a YOLO-style detector on cluttered Fashion-MNIST canvases; report mAP@0.5; detect from C.")

  @Option(help: "Training canvases.")
  var images = 10_000
  @Option(help: "Held-out canvases (from the test split's items).")
  var testImages = 500
  @Option(help: "Epochs.")
  var epochs = 10
  @Option(help: "Canvases the C program runs on.")
  var cCanvases = 16
  @Option(help: "The score threshold of the C program's detections.")
  var cThreshold: Float = 0.3
  @Option(help: "Directory for detection.png, detector.so and the C program.")
  var out = "out/detection"

  static let batch = 32
  static let layout = ObjectScenes.Layout(side: 96, objects: 1...4, sizes: 22...40, clutter: 16)
  static let grid = YOLOGrid(cells: 6, classes: 10, width: 96, height: 96)

  /// Four conv + pool stages (96 → 6), a 3×3 convolution, and a 1×1 convolution to the grid's
  /// 15 channels per cell.
  static func architecture(batch: Int) throws -> Graph {
    try Graph(name: "detector", input: [batch, 1, layout.side, layout.side]) {
      for (level, channels) in [16, 32, 64, 128].enumerated() {
        Conv2D(channels, kernel: 3, padding: 1, activation: .relu, name: "conv\(level + 1)")
        MaxPool2D(2, name: "pool\(level + 1)")
      }
      Conv2D(128, kernel: 3, padding: 1, activation: .relu, name: "conv5")
      Conv2D(grid.channels, kernel: 1, name: "head")
    }
  }

  func run() throws {
    let train = try ObjectScenes(pasting: FashionMNIST.load(.train, normalization: .unit), count: images, layout: Self.layout, seed: 1)
    let test = try ObjectScenes(pasting: FashionMNIST.load(.test, normalization: .unit), count: testImages, layout: Self.layout, seed: 2)
    let (batch, grid) = (Self.batch, Self.grid)
    let model = try Model(graph: Self.architecture(batch: batch), seed: 1)
    let compiler = try Compiler()
    let training = try TrainingGraph(model: model.graph, optimizer: Optimizer(.adam)) { try grid.loss($0[0]) }
    var trainer = try Trainer(model: model, training: training) { try CompiledTraining($0, parameters: $1, compiler: compiler) }
    let start = Date()
    for epoch in 0..<epochs {
      var losses: [Float] = []
      for indices in Dataset.batchIndices(count: train.count, size: batch, shuffleSeed: UInt64(epoch)) {
        var feeds = try grid.targets(indices.map { train.objects[$0] })
        feeds["input"] = try train.batch(indices)
        losses.append(try trainer.step(feeds, learningRate: epoch < epochs * 3 / 4 ? 1e-3 : 2e-4).loss)
      }
      print(String(format: "epoch %d: loss %.3f per canvas", epoch + 1, losses.reduce(0, +) / Float(max(losses.count, 1))))
    }
    print(String(format: "trained on %d canvases × %d epochs in %.0f s", train.count, epochs, Date().timeIntervalSince(start)))
    let weights = try trainer.trainedModel.parameters

    // Held-out canvases through the compiled model; every box scoring 0.01 or more counts for mAP.
    let compiled = try compiler.compile(Model(graph: model.graph, parameters: weights))
    var found: [[Detection]] = []
    for start in stride(from: 0, to: test.count - batch + 1, by: batch) {
      let output = try compiled.predict(test.batch(Array(start..<(start + batch))))
      found += try (0..<batch).map { try grid.detect(output, image: $0, scoreThreshold: 0.01) }
    }
    let truths = Array(test.objects.prefix(found.count))
    let report = AveragePrecision.evaluate(detections: found, truths: truths, classes: grid.classes)
    print(String(format: "%d held-out canvases, %d objects: mAP@0.5 %.3f", found.count, truths.joined().count, report.mean))
    print("AP per class: " + zip(FashionMNIST.classNames, report.perClass).map { String(format: "%@ %.2f", $0, $1 ?? .nan) }.joined(separator: ", "))

    // Eight canvases with the boxes scoring 0.3 or more.
    let plane = Self.layout.side * Self.layout.side
    let tiles = (0..<min(8, found.count)).map { i in
      RGBImage.detections(Array(test.pixels[(i * plane)..<((i + 1) * plane)]), width: Self.layout.side, height: Self.layout.side,
        truths: truths[i], found: found[i].filter { $0.score >= 0.3 }, scale: 2)
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try RGBImage.grid(stride(from: 0, to: tiles.count, by: 4).map { Array(tiles[$0..<min($0 + 4, tiles.count)]) }, gap: 4).writePNG(to: "\(out)/detection.png")
    print("wrote \(out)/detection.png: true boxes blue, detections scoring ≥ 0.3 green (right class, IoU ≥ 0.5) or red")

    try detectFromC(Model(graph: Self.architecture(batch: 1), parameters: weights), test: test, compiler: compiler)
  }

  /// Compiles the batch-1 detector to `detector.so`, runs `detect.c` on the first canvases, and
  /// compares its objects with `YOLOGrid.detect` on the JIT's output.
  func detectFromC(_ single: Model, test: ObjectScenes, compiler: Compiler) throws {
    let count = min(cCanvases, test.count)
    let directory = URL(fileURLWithPath: out).standardizedFileURL.path
    try compiler.emitSharedObject(single, to: "\(directory)/detector.so", detector: Self.grid)
    try Data(test.pixels.prefix(count * Self.layout.side * Self.layout.side).withUnsafeBytes { Data($0) })
      .write(to: URL(fileURLWithPath: "\(directory)/canvases.f32"))
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("detect.c").path
    try shell("cc", "-O2", "-I", directory, "-o", "\(directory)/detect", source, "\(directory)/detector.so", "-Wl,-rpath,\(directory)")
    let printed = try shell("\(directory)/detect", "\(directory)/canvases.f32", String(count), String(cThreshold), "0.45")
    print("ran: detect canvases.f32 \(count)  (C, through detector_detect in detector.so)")
    // "canvas I: N objects", then "label score x0 y0 x1 y1" per object.
    var fromC: [[Detection]] = []
    for line in printed.split(separator: "\n") {
      if line.hasPrefix("canvas") { fromC.append([]); continue }
      let v = line.split(separator: " ").compactMap { Float($0) }
      guard v.count == 6, !fromC.isEmpty else { throw ValidationError("unexpected output of detect: \(line)") }
      fromC[fromC.count - 1].append(Detection(box: Box(x0: v[2], y0: v[3], x1: v[4], y1: v[5]), label: Int(v[0]), score: v[1]))
    }
    let jit = try compiler.compile(single)
    let fromSwift = try (0..<count).map { try Self.grid.detect(jit.predict(test.batch([$0])), image: 0, scoreThreshold: cThreshold, iouThreshold: 0.45) }
    let sameObjects = fromC.count == count && zip(fromC, fromSwift).allSatisfy { c, s in c.count == s.count && zip(c, s).allSatisfy { $0.label == $1.label } }
    var (boxDifference, scoreDifference): (Float, Float) = (0, 0)
    for (c, s) in zip(fromC.joined(), fromSwift.joined()) {
      let corners = [c.box.x0 - s.box.x0, c.box.y0 - s.box.y0, c.box.x1 - s.box.x1, c.box.y1 - s.box.y1].map(abs)
      boxDifference = max(boxDifference, corners.max() ?? 0)
      scoreDifference = max(scoreDifference, abs(c.score - s.score))
    }
    print(String(format: "C and Swift: %@ (%d objects in %d canvases; boxes within %.2g px, scores within %.2g)",
      sameObjects ? "the same objects" : "DIFFERENT objects", fromSwift.joined().count, count, boxDifference, scoreDifference))
    if !sameObjects { throw ValidationError("the C program's objects differ from the Swift library's") }
  }

  /// Runs a program; its output, or an error with what it said.
  @discardableResult
  func shell(_ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    (process.standardOutput, process.standardError) = (pipe, pipe)
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ValidationError("\(arguments.joined(separator: " ")) failed: \(output)") }
    return output
  }
}
