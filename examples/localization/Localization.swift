// Classification and localization: one Fashion-MNIST item pasted at a random place and size on a
// 64×64 canvas strewn with fragments of other items. A small CNN has two heads — ten class scores
// and a box (centre and size) — trained together on cross-entropy plus smooth-L1 with compiled
// steps. The report gives test accuracy, mean IoU and how often both are right, and a PNG of
// test canvases with the true and predicted boxes.
//
//   swift run -c release localization --images 12000 --epochs 8 --out out/localization
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct Localization: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "localization", abstract: "Classify and locate Fashion-MNIST items on cluttered canvases; report accuracy and mean IoU.")

  @Option(help: "Training canvases.")
  var images = 12_000
  @Option(help: "Test canvases (from the test split's items).")
  var testImages = 1_000
  @Option(help: "Epochs.")
  var epochs = 8
  @Option(help: "Directory for localization.png.")
  var out = "out/localization"

  static let batch = 32
  static let layout = ObjectScenes.Layout(side: 64, objects: 1...1, sizes: 24...48, clutter: 10)
  /// Box targets are (centre x, centre y, width, height) in units of this many pixels, so that
  /// smooth-L1 sees errors of a few units (its linear part) early and below one unit (its
  /// quadratic part) at the end.
  static let boxUnit: Float = 8

  /// Two heads on one trunk: `classes` `[N, 10]` and `box` `[N, 4]`.
  static func architecture(batch: Int) throws -> Graph {
    try Graph(name: "localizer") { builder in
      var x = try builder.input("input", shape: [batch, 1, layout.side, layout.side])
      for (level, channels) in [16, 32, 64, 64].enumerated() {
        x = try x.apply(Conv2D(channels, kernel: 3, padding: 1, activation: .relu, name: "conv\(level + 1)"))
        x = try x.apply(MaxPool2D(2, name: "pool\(level + 1)"))  // 32, 16, 8, 4
      }
      let features = try x.flattened().apply(Dense(256, activation: .relu, name: "fc"))
      return [try features.apply(Dense(10, name: "classes")), try features.apply(Dense(4, name: "box"))]
    }
  }

  static func boxTarget(_ box: Box) -> [Float] { [box.centerX, box.centerY, box.width, box.height].map { $0 / boxUnit } }
  static func box(_ values: ArraySlice<Float>) -> Box {
    let v = values.map { $0 * boxUnit }
    return Box(centerX: v[0], centerY: v[1], width: v[2], height: v[3])
  }

  func run() throws {
    let train = try ObjectScenes(pasting: FashionMNIST.load(.train, normalization: .unit), count: images, layout: Self.layout, seed: 1)
    let test = try ObjectScenes(pasting: FashionMNIST.load(.test, normalization: .unit), count: testImages, layout: Self.layout, seed: 2)
    let batch = Self.batch
    let model = try Model(graph: Self.architecture(batch: batch), seed: 1)
    // Cross-entropy of the class scores plus smooth-L1 of the box, both per image.
    let training = try TrainingGraph(model: model.graph, optimizer: Optimizer(.adam)) { outputs in
      let labels = try outputs[0].builder.input("labels", shape: [batch], dtype: .i32)
      let boxes = try outputs[1].builder.input("boxes", shape: [batch, 4])
      return try outputs[0].softmaxCrossEntropy(labels: labels) + outputs[1].smoothL1(targets: boxes, reduction: .sum).scaled(by: 1 / Double(batch))
    }
    let compiler = try Compiler()
    var trainer = try Trainer(model: model, training: training) { try CompiledTraining($0, parameters: $1, compiler: compiler) }
    let start = Date()
    for epoch in 0..<epochs {
      var losses: [Float] = []
      for indices in Dataset.batchIndices(count: train.count, size: batch, shuffleSeed: UInt64(epoch)) {
        let objects = indices.map { train.objects[$0][0] }
        let feeds = ["input": try train.batch(indices), "boxes": try Tensor(shape: [batch, 4], scalars: objects.flatMap { Self.boxTarget($0.box) })]
        let labels = ["labels": try Tensor<Int32>(shape: [batch], scalars: objects.map { Int32($0.label) })]
        losses.append(try trainer.step(feeds, integers: labels, learningRate: epoch < epochs * 3 / 4 ? 1e-3 : 2e-4).loss)
      }
      print(String(format: "epoch %d: loss %.4f (cross-entropy + smooth-L1)", epoch + 1, losses.reduce(0, +) / Float(max(losses.count, 1))))
    }
    print(String(format: "trained on %d canvases × %d epochs in %.0f s", train.count, epochs, Date().timeIntervalSince(start)))

    // The test canvases through the compiled model, a batch at a time.
    let compiled = try compiler.compile(Model(graph: model.graph, parameters: trainer.trainedModel.parameters))
    var predictions: [(label: Int, box: Box)] = []
    for start in stride(from: 0, to: test.count - batch + 1, by: batch) {
      let results = try compiled.run(["input": test.batch(Array(start..<(start + batch)))])
      let (labels, boxes) = (results[0].argmaxRows(), results[1].scalars)
      predictions += (0..<batch).map { (labels[$0], Self.box(boxes[($0 * 4)..<($0 * 4 + 4)])) }
    }
    let truths = test.objects.prefix(predictions.count).map { $0[0] }
    let ious = zip(predictions, truths).map { Double($0.box.iou($1.box)) }
    let correct = zip(predictions, truths).map { $0.label == $1.label }
    let both = zip(correct, ious).filter { $0 && $1 >= 0.5 }.count
    print(String(format: "%d test canvases: accuracy %.1f%%, mean IoU %.3f, IoU ≥ 0.5 on %.1f%%, right class and IoU ≥ 0.5 on %.1f%%",
      truths.count, 100 * Double(correct.filter { $0 }.count) / Double(truths.count), ious.reduce(0, +) / Double(ious.count),
      100 * Double(ious.filter { $0 >= 0.5 }.count) / Double(ious.count), 100 * Double(both) / Double(truths.count)))

    // Twelve test canvases: true box blue, predicted box green (right class, IoU ≥ 0.5) or red.
    let plane = Self.layout.side * Self.layout.side
    let tiles = (0..<min(12, truths.count)).map { i in
      RGBImage.detections(Array(test.pixels[(i * plane)..<((i + 1) * plane)]), width: Self.layout.side, height: Self.layout.side,
        truths: [truths[i]], found: [Detection(box: predictions[i].box, label: predictions[i].label)])
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try RGBImage.grid(stride(from: 0, to: tiles.count, by: 6).map { Array(tiles[$0..<min($0 + 6, tiles.count)]) }, gap: 4).writePNG(to: "\(out)/localization.png")
    print("wrote \(out)/localization.png: true boxes blue, predictions green (right class, IoU ≥ 0.5) or red")
    for i in 0..<min(12, truths.count) {
      print(String(format: "canvas %2d: %@ → %@, IoU %.2f", i, FashionMNIST.classNames[truths[i].label], FashionMNIST.classNames[predictions[i].label], ious[i]))
    }
  }
}
