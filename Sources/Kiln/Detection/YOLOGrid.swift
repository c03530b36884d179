import Foundation

/// The output grid of a single-stage, YOLO-style detector, and everything that depends on its
/// layout: training targets, the loss, and decoding predictions into boxes.
///
/// The image is cut into `cells` × `cells` cells; each cell predicts at most one object. The
/// network's output is `[N, 5 + classes, cells, cells]`, per cell: an objectness logit, four box
/// logits and `classes` class logits. Box logits decode as in YOLO v1: σ(tx), σ(ty) place the
/// centre inside the cell; σ(tw)², σ(th)² are the width and height as fractions of the image.
///
/// The loss is YOLO v1's with two documented changes: class scores get a softmax cross-entropy
/// (v1: squared error on probabilities), and the objectness target is 1 (v1: the IoU of the
/// predicted box with the true one). Per cell, with o = 1 when an object's centre falls in it:
///
///     λcoord·o·Σ(σ(t) − t̂)²  +  (o + λnoobj·(1 − o))·(σ(objectness) − o)²  −  o·Σ t̂c·log softmax(c)
///
/// summed over cells and averaged over the batch (λcoord = 5, λnoobj = ½ as in the paper; the
/// box targets t̂ are the inverse of the decoding: centre offsets in the cell and square roots of
/// the sizes, so errors on small boxes weigh more).
public struct YOLOGrid: Hashable, Sendable, Codable {
  /// Cells per side.
  public var cells: Int
  /// Object classes.
  public var classes: Int
  /// The input's width in pixels.
  public var width: Int
  /// The input's height in pixels.
  public var height: Int
  /// λcoord: the weight of box errors.
  public var coordinateWeight: Double = 5
  /// λnoobj: the weight of objectness errors in cells without an object.
  public var noObjectWeight: Double = 0.5

  /// The grid of a detector for `width` × `height` inputs, `cells` cells per side, `classes` classes.
  public init(cells: Int, classes: Int, width: Int, height: Int) {
    self.cells = cells
    self.classes = classes
    self.width = width
    self.height = height
  }

  /// Channels of the network's output: objectness, four box values, class scores.
  public var channels: Int { 5 + classes }

  /// The names of the loss's inputs: objectness targets `[N, 1, S, S]`, box targets
  /// `[N, 4, S, S]` and one-hot classes `[N, classes, S, S]`.
  public static let targetInputs = (objects: "objects", boxes: "boxes", classes: "classes")

  private var cellWidth: Float { Float(width) / Float(cells) }
  private var cellHeight: Float { Float(height) / Float(cells) }

  // MARK: Training

  /// The loss inputs for a batch whose image i holds `objects[i]`. An object belongs to the
  /// cell holding its centre; when two share a cell, the larger one is the cell's target.
  public func targets(_ objects: [[Detection]]) throws -> [String: Tensor<Float>] {
    let (n, plane) = (objects.count, cells * cells)
    var (present, boxes, labels) = (
      [Float](repeating: 0, count: n * plane), [Float](repeating: 0, count: n * 4 * plane),
      [Float](repeating: 0, count: n * classes * plane)
    )
    for (image, found) in objects.enumerated() {
      for object in found.sorted(by: { $0.box.area < $1.box.area }) {
        guard (0..<classes).contains(object.label) else {
          throw KilnError.invalidArgument("object of class \(object.label) in image \(image), but the grid has \(classes) classes")
        }
        let column = min(max(Int(object.box.centerX / cellWidth), 0), cells - 1)
        let row = min(max(Int(object.box.centerY / cellHeight), 0), cells - 1)
        let cell = row * cells + column
        present[image * plane + cell] = 1
        let target = [
          object.box.centerX / cellWidth - Float(column), object.box.centerY / cellHeight - Float(row),
          (object.box.width / Float(width)).squareRoot(), (object.box.height / Float(height)).squareRoot(),
        ]
        for (k, value) in target.enumerated() { boxes[(image * 4 + k) * plane + cell] = min(max(value, 0), 1) }
        for c in 0..<classes { labels[(image * classes + c) * plane + cell] = c == object.label ? 1 : 0 }
      }
    }
    return [
      Self.targetInputs.objects: try Tensor(shape: [n, 1, cells, cells], scalars: present),
      Self.targetInputs.boxes: try Tensor(shape: [n, 4, cells, cells], scalars: boxes),
      Self.targetInputs.classes: try Tensor(shape: [n, classes, cells, cells], scalars: labels),
    ]
  }

  /// The detection loss of `prediction` (the network's output), adding the three target inputs
  /// to its graph: the objective for `TrainingGraph(model:optimizer:objective:)`.
  public func loss(_ prediction: Symbol) throws -> Symbol {
    let n = prediction.shape.first ?? 0
    guard prediction.shape == [n, channels, cells, cells] else {
      throw KilnError.invalidArgument(
        "a YOLO grid of \(cells)×\(cells) cells and \(classes) classes needs the output [N, \(channels), \(cells), \(cells)], "
          + "but \(prediction.builder.graph[prediction.value].name) is \(prediction.type); end the network with a 1×1 convolution to \(channels) channels")
    }
    let builder = prediction.builder
    let names = Self.targetInputs
    let objects = try builder.input(names.objects, shape: [n, 1, cells, cells])
    let boxes = try builder.input(names.boxes, shape: [n, 4, cells, cells])
    let labels = try builder.input(names.classes, shape: [n, classes, cells, cells])
    let parts = try prediction.split(axis: 1, sizes: [1, 4, classes])
    let everything = [0, 1, 2, 3]
    let objectError = try parts[0].sigmoid() - objects
    let objectWeight = try objects.scaled(by: 1 - noObjectWeight, shift: noObjectWeight)
    let objectTerm = try (objectWeight * objectError * objectError).reduced(.sum, axes: everything)
    let boxError = try parts[1].sigmoid() - boxes
    let boxTerm = try (objects * boxError * boxError).reduced(.sum, axes: everything).scaled(by: coordinateWeight)
    let classTerm = try (objects * labels * parts[2].logSoftmax(axis: 1)).reduced(.sum, axes: everything)
    return try (objectTerm + boxTerm - classTerm).scaled(by: 1 / Double(n))
  }

  // MARK: Inference

  /// The boxes of image `image` of `output` (`[N, 5 + classes, S, S]`) whose score — σ(objectness)
  /// times the best class's softmax probability — is at least `scoreThreshold`, one per cell at
  /// most, in cell order. The C runtime's `kiln_yolo_decode` computes the same numbers.
  public func decode(_ output: Tensor<Float>, image: Int, scoreThreshold: Float) throws -> [Detection] {
    guard output.shape.count == 4, output.shape.dropFirst() == [channels, cells, cells], (0..<output.shape[0]).contains(image) else {
      throw KilnError.invalidArgument("cannot decode image \(image) of \(TensorType(output.shape)) with a grid of \(cells)×\(cells) cells and \(classes) classes")
    }
    let plane = cells * cells
    let values = output.scalars[(image * channels * plane)..<((image + 1) * channels * plane)]
    let base = values.startIndex
    func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
    var found: [Detection] = []
    for cell in 0..<plane {
      func channel(_ c: Int) -> Float { values[base + c * plane + cell] }
      var (label, best) = (0, channel(5))
      for c in 1..<classes where channel(5 + c) > best { (label, best) = (c, channel(5 + c)) }
      var sum: Float = 0
      for c in 0..<classes { sum += Foundation.exp(channel(5 + c) - best) }
      let score = sigmoid(channel(0)) / sum
      guard score >= scoreThreshold else { continue }
      let (row, column) = cell.quotientAndRemainder(dividingBy: cells)
      let (w, h) = (sigmoid(channel(3)), sigmoid(channel(4)))
      let box = Box(
        centerX: (Float(column) + sigmoid(channel(1))) * cellWidth, centerY: (Float(row) + sigmoid(channel(2))) * cellHeight,
        width: w * w * Float(width), height: h * h * Float(height))
      found.append(Detection(box: box, label: label, score: score))
    }
    return found
  }

  /// The objects found in image `image` of `output`: `decode` then per-class non-maximum
  /// suppression.
  public func detect(_ output: Tensor<Float>, image: Int, scoreThreshold: Float = 0.25, iouThreshold: Float = 0.45) throws -> [Detection] {
    NonMaximumSuppression.apply(try decode(output, image: image, scoreThreshold: scoreThreshold), iouThreshold: iouThreshold)
  }
}
