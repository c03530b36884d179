import Foundation
import KilnRuntime
import Testing

@testable import Kiln

/// Boxes, non-maximum suppression (Swift and the C runtime), VOC average precision, the YOLO grid's
/// targets, loss and decoding, and the scenes detectors train on.
@Suite struct DetectionTests {
  let grid = YOLOGrid(cells: 3, classes: 2, width: 30, height: 24)

  @Test func intersectionOverUnion() {
    let a = Box(x0: 0, y0: 0, x1: 2, y1: 2)
    #expect(a.iou(Box(x0: 1, y0: 1, x1: 3, y1: 3)) == Float(1) / 7)  // overlap 1, union 4 + 4 − 1
    #expect(a.iou(a) == 1)
    #expect(a.iou(Box(x0: 2, y0: 0, x1: 4, y1: 2)) == 0)  // touching edges
    #expect(Box(centerX: 5, centerY: 4, width: 4, height: 2) == Box(x0: 3, y0: 3, x1: 7, y1: 5))
  }

  /// B overlaps A by 81/119 and goes; C is apart; D sits on A but is another class, so it stays
  /// unless suppression ignores classes.
  @Test func nonMaximumSuppressionKeepsTheBestOfEachCluster() {
    let a = Detection(box: Box(x0: 0, y0: 0, x1: 10, y1: 10), label: 0, score: 0.9)
    let b = Detection(box: Box(x0: 1, y0: 1, x1: 11, y1: 11), label: 0, score: 0.8)
    let c = Detection(box: Box(x0: 20, y0: 20, x1: 30, y1: 30), label: 0, score: 0.7)
    let d = Detection(box: Box(x0: 0, y0: 0, x1: 10, y1: 10), label: 1, score: 0.6)
    #expect(NonMaximumSuppression.apply([c, b, d, a], iouThreshold: 0.5) == [a, c, d])
    #expect(NonMaximumSuppression.apply([c, b, d, a], iouThreshold: 0.5, perClass: false) == [a, c])
    #expect(NonMaximumSuppression.apply([c, b, d, a], iouThreshold: 0.7) == [a, b, c, d])  // 0.68 is below 0.7
    #expect(NonMaximumSuppression.apply([c, b, d, a], iouThreshold: 0.5, maxDetections: 2) == [a, c])
  }

  /// The C runtime's `kiln_nms` keeps the same detections in the same order as the Swift one, on
  /// random clusters with tied scores and several classes.
  @Test func cAndSwiftSuppressionAgree() {
    var generator = SplitMix64(seed: 5)
    for trial in 0..<300 {
      let count = trial % 40
      let detections = (0..<count).map { _ in
        let (x, y) = (Float(generator.next() % 40), Float(generator.next() % 40))
        return Detection(
          box: Box(x0: x, y0: y, x1: x + Float(5 + generator.next() % 20), y1: y + Float(5 + generator.next() % 20)),
          label: Int(generator.next() % 3), score: Float(generator.next() % 10) / 10)
      }
      let threshold = Float(trial % 7) / 8
      let perClass = trial % 2 == 0
      let maxKept = trial % 5 == 0 ? 3 : 1000
      var c = detections.map { kiln_detection(x0: $0.box.x0, y0: $0.box.y0, x1: $0.box.x1, y1: $0.box.y1, label: Int32($0.label), score: $0.score) }
      var kept = 0
      #expect(kiln_nms(&c, c.count, threshold, perClass ? 1 : 0, maxKept, &kept) == KILN_OK)
      let fromC = c.prefix(kept).map { Detection(box: Box(x0: $0.x0, y0: $0.y0, x1: $0.x1, y1: $0.y1), label: Int($0.label), score: $0.score) }
      #expect(fromC == NonMaximumSuppression.apply(detections, iouThreshold: threshold, perClass: perClass, maxDetections: maxKept), "trial \(trial)")
    }
    var kept = 0
    #expect(kiln_nms(nil, 0, 0.5, 1, 10, &kept) == KILN_OK && kept == 0)
    #expect(kiln_nms(nil, 3, 0.5, 1, 10, &kept) == KILN_ERR_INVALID_ARGUMENT)
  }

  /// One class: truths T1, T2 in image 0 and T3 in image 1. Ranked detections: hit T1, miss, T1
  /// again (a duplicate counts as false), hit T3. Precision 1, ½, ⅓, ½ at recall ⅓, ⅓, ⅓, ⅔;
  /// made non-increasing: 1, ½, ½, ½; AP = ⅓·1 + ⅓·½ = ½. A second class found perfectly has
  /// AP 1, a third with no truths is left out: mAP ¾.
  @Test func vocAveragePrecisionByHand() {
    func box(_ x: Float) -> Box { Box(x0: x, y0: 0, x1: x + 10, y1: 10) }
    let truths = [
      [Detection(box: box(0), label: 0), Detection(box: box(50), label: 0), Detection(box: box(100), label: 1)],
      [Detection(box: box(20), label: 0)],
    ]
    let detections = [
      [
        Detection(box: box(1), label: 0, score: 0.9), Detection(box: box(200), label: 0, score: 0.8),
        Detection(box: box(0), label: 0, score: 0.7), Detection(box: box(100), label: 1, score: 0.3),
      ],
      [Detection(box: box(21), label: 0, score: 0.6), Detection(box: box(20), label: 2, score: 0.5)],
    ]
    let report = AveragePrecision.evaluate(detections: detections, truths: truths, classes: 3)
    #expect(abs(report.perClass[0]! - 0.5) < 1e-12)
    #expect(report.perClass[1] == 1)
    #expect(report.perClass[2] == nil)
    #expect(abs(report.mean - 0.75) < 1e-12)
    // At IoU 0.9 the shifted boxes (IoU 9/11) no longer count: class 0 finds only the exact T1 copy.
    let strict = AveragePrecision.evaluate(detections: detections, truths: truths, classes: 3, iouThreshold: 0.9)
    #expect(abs(strict.perClass[0]! - 1.0 / 3 * 1.0 / 3) < 1e-12)  // recall ⅓ reached at rank 3: precision ⅓
  }

  /// Objects' targets sit in the cell holding their centre; logits made from the targets decode
  /// back to the objects.
  @Test func targetsDecodeBackToTheObjects() throws {
    let objects = [
      [Detection(box: Box(x0: 2, y0: 3, x1: 12, y1: 9), label: 1), Detection(box: Box(x0: 21, y0: 17, x1: 29, y1: 23), label: 0)],
      [Detection(box: Box(x0: 9, y0: 7, x1: 19, y1: 16), label: 0)],
    ]
    let targets = try grid.targets(objects)
    let present = try #require(targets["objects"]).scalars
    // Image 0: centres (7, 6) → cell (0, 0), (25, 20) → cell (2, 2); image 1: (14, 11.5) → (1, 1).
    #expect(present == [1, 0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 1, 0, 0, 0, 0])
    let boxes = try #require(targets["boxes"]).scalars
    #expect(abs(boxes[0] - 0.7) < 1e-6 && abs(boxes[9] - 0.75) < 1e-6)  // 7/10 − 0 and 6/8 − 0
    #expect(abs(boxes[18] - (10 / Float(30)).squareRoot()) < 1e-6 && abs(boxes[27] - (6 / Float(24)).squareRoot()) < 1e-6)
    let classes = try #require(targets["classes"]).scalars
    #expect(classes[0] == 0 && classes[9] == 1 && classes[8] == 1 && classes[17] == 0)

    // Logits: ±12 for objectness and classes, logit(t) for the boxes.
    let plane = 9
    var output = [Float](repeating: 0, count: 2 * grid.channels * plane)
    for image in 0..<2 {
      for cell in 0..<plane {
        let has = present[image * plane + cell] == 1
        output[(image * grid.channels) * plane + cell] = has ? 12 : -12
        for k in 0..<4 {
          let t = min(max(boxes[(image * 4 + k) * plane + cell], 1e-4), 1 - 1e-4)
          output[(image * grid.channels + 1 + k) * plane + cell] = log(t / (1 - t))
        }
        for c in 0..<2 { output[(image * grid.channels + 5 + c) * plane + cell] = classes[(image * 2 + c) * plane + cell] == 1 ? 12 : -12 }
      }
    }
    let tensor = try Tensor(shape: [2, grid.channels, 3, 3], scalars: output)
    for image in 0..<2 {
      let found = try grid.detect(tensor, image: image, scoreThreshold: 0.5)
      #expect(found.count == objects[image].count)
      for truth in objects[image] {
        let match = found.first { $0.label == truth.label && $0.box.iou(truth.box) > 0.999 }
        #expect(match != nil && match!.score > 0.99, "image \(image): \(truth) not among \(found)")
      }
    }
    expectError("cannot decode image 2") { _ = try grid.decode(tensor, image: 2, scoreThreshold: 0.5) }
    expectError("class 2 in image 0", "2 classes") { _ = try grid.targets([[Detection(box: Box(x0: 0, y0: 0, x1: 1, y1: 1), label: 2)]]) }
  }

  /// The C runtime's `kiln_yolo_decode` gives Swift's numbers on random logits.
  @Test func cAndSwiftDecodingAgree() throws {
    let logits = random([2, grid.channels, 3, 3], seed: 8).scalars.map { Float($0 * 3) }
    let tensor = try Tensor(shape: [2, grid.channels, 3, 3], scalars: logits)
    var cGrid = kiln_yolo_grid(cells: 3, classes: 2, width: 30, height: 24)
    for image in 0..<2 {
      let swift = try grid.decode(tensor, image: image, scoreThreshold: 0.2)
      var c = [kiln_detection](repeating: kiln_detection(), count: 9)
      var count = 0
      let status = logits.withUnsafeBufferPointer { kiln_yolo_decode($0.baseAddress! + image * grid.channels * 9, &cGrid, 0.2, &c, &count) }
      #expect(status == KILN_OK)
      #expect(!swift.isEmpty && swift.count < 9, "the threshold should keep some cells and drop others")
      #expect(c.prefix(count).map { Detection(box: Box(x0: $0.x0, y0: $0.y0, x1: $0.x1, y1: $0.y1), label: Int($0.label), score: $0.score) } == swift)
    }
  }

  /// The loss by hand (YOLO v1's terms with a softmax cross-entropy for classes) equals the graph's,
  /// and its gradient matches finite differences.
  @Test func yoloLossByHandAndGradient() throws {
    let objects = [[Detection(box: Box(x0: 2, y0: 3, x1: 12, y1: 9), label: 1)], [Detection(box: Box(x0: 9, y0: 7, x1: 19, y1: 16), label: 0)]]
    let graph = try Graph(name: "yolo_loss") { builder in [try grid.loss(builder.input("input", shape: [2, grid.channels, 3, 3]))] }
    var feeds = try grid.targets(objects).mapValues { Tensor<Double>(validShape: $0.shape, scalars: $0.scalars.map(Double.init)) }
    let prediction = random([2, grid.channels, 3, 3], seed: 3)
    feeds["input"] = prediction
    let loss = try Interpreter<Double>(graph).run(feeds).results[0].scalars[0]

    func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
    let (o, b, c) = (feeds["objects"]!.scalars, feeds["boxes"]!.scalars, feeds["classes"]!.scalars)
    var expected = 0.0
    for image in 0..<2 {
      for cell in 0..<9 {
        func p(_ channel: Int) -> Double { prediction.scalars[(image * grid.channels + channel) * 9 + cell] }
        let has = o[image * 9 + cell]
        expected += (has + 0.5 * (1 - has)) * (sigmoid(p(0)) - has) * (sigmoid(p(0)) - has)
        for k in 0..<4 { expected += 5 * has * (sigmoid(p(1 + k)) - b[(image * 4 + k) * 9 + cell]) * (sigmoid(p(1 + k)) - b[(image * 4 + k) * 9 + cell]) }
        let logSum = Foundation.log(Foundation.exp(p(5)) + Foundation.exp(p(6)))
        for k in 0..<2 { expected -= has * c[(image * 2 + k) * 9 + cell] * (p(5 + k) - logSum) }
      }
    }
    #expect(abs(loss - expected / 2) < 1e-12)
    try GradientCheck.check(graph, feeds: feeds, targets: ["input"])
    expectError("[N, 7, 3, 3]", "1×1 convolution to 7 channels") {
      _ = try Graph(name: "wrong") { builder in [try grid.loss(builder.input("input", shape: [2, 6, 3, 3]))] }
    }
  }

  /// A custom objective that is the built-in loss trains exactly as the built-in loss does.
  @Test func customObjectiveTrainsLikeTheBuiltInLoss() throws {
    let model = try Model(graph: Graph(name: "small", input: [4, 6]) { Dense(3, name: "fc") }, seed: 2)
    let batch: [String: Tensor<Float>] = ["input": try Tensor(shape: [4, 6], scalars: (0..<24).map { Float($0 % 7) / 7 })]
    let labels = ["labels": try Tensor<Int32>(shape: [4], scalars: [0, 2, 1, 2])]
    var builtIn = try Trainer(model: model, optimizer: Optimizer(.momentum))
    let training = try TrainingGraph(model: model.graph, optimizer: Optimizer(.momentum)) { outputs in
      try outputs[0].softmaxCrossEntropy(labels: outputs[0].builder.input("labels", shape: [4], dtype: .i32))
    }
    var custom = try Trainer(model: model, training: training)
    for _ in 0..<3 {
      let (a, b) = (try builtIn.step(batch, integers: labels, learningRate: 0.1), try custom.step(batch, integers: labels, learningRate: 0.1))
      #expect(a.loss == b.loss && a.logits == b.logits)
    }
    let (builtInWeights, customWeights) = (try builtIn.trainedModel.parameters["fc.weight"], try custom.trainedModel.parameters["fc.weight"])
    #expect(builtInWeights == customWeights)
    expectError("objective of small must be a float scalar") {
      _ = try TrainingGraph(model: model.graph, optimizer: Optimizer(.sgd)) { $0[0] }
    }
  }

  /// Scenes are reproducible from their seed, hold the asked number of items, and every true box
  /// lies on the canvas around visible pixels.
  @Test func scenesOfPastedItems() throws {
    // Four 8×8 "items": a filled 4×4 square at a different place in each, class = index.
    var pixels = [Float](repeating: 0, count: 4 * 64)
    for item in 0..<4 {
      for y in 0..<4 { for x in 0..<4 { pixels[item * 64 + (y + item) * 8 + x + item] = 1 } }
    }
    let items = try Dataset(images: pixels, shape: [1, 8, 8], labels: [0, 1, 2, 3], classCount: 4)
    let layout = ObjectScenes.Layout(side: 40, objects: 1...3, sizes: 8...16, clutter: 0)
    let scenes = try ObjectScenes(pasting: items, count: 20, layout: layout, seed: 4)
    let again = try ObjectScenes(pasting: items, count: 20, layout: layout, seed: 4)
    #expect(scenes.pixels == again.pixels && scenes.objects == again.objects)
    #expect(try ObjectScenes(pasting: items, count: 20, layout: layout, seed: 5).pixels != scenes.pixels)
    for (index, objects) in scenes.objects.enumerated() {
      #expect((1...3).contains(objects.count))
      for object in objects {
        #expect(object.box.x0 >= 0 && object.box.y0 >= 0 && object.box.x1 <= 40 && object.box.y1 <= 40)
        // A 4×4 square scaled by 1…2: 4 to 8 pixels a side, and a pixel of bilinear edge on each side.
        #expect((4...10).contains(object.box.width) && (4...10).contains(object.box.height), "scene \(index): \(object.box)")
        let inside = (Int(object.box.y0)..<Int(object.box.y1)).map { y in scenes.pixels[index * 1600 + y * 40 + Int(object.box.centerX)] }
        #expect(inside.contains { $0 > 0.1 })
      }
    }
    #expect(try scenes.batch([3, 1]).shape == [2, 1, 40, 40])
    expectError("item sizes from 2 to the canvas side 40") {
      _ = try ObjectScenes(pasting: items, count: 1, layout: .init(side: 40, objects: 1...1, sizes: 8...50, clutter: 0), seed: 1)
    }
  }
}
