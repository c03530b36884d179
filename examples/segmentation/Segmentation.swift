// Semantic segmentation with a small U-Net: circles, squares and triangles on noisy backgrounds
// (generated here from a seed) are labelled pixel by pixel. Strided convolutions go down to 8×8,
// transposed convolutions come back up, and each level's features are concatenated to the way
// up (the skip connections). Training runs as compiled steps; the report gives pixel accuracy,
// the IoU of every class and their mean, and a PNG of inputs, true masks and predictions.
//
//   swift run -c release segmentation --images 3000 --epochs 6 --out out/segmentation
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct Segmentation: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "segmentation", abstract: "Train a small U-Net to segment synthetic shapes; report pixel accuracy and IoU, draw the masks.")

  @Option(help: "Training images.")
  var images = 3_000
  @Option(help: "Test images.")
  var testImages = 300
  @Option(help: "Epochs.")
  var epochs = 6
  @Option(help: "Directory for segmentation.png.")
  var out = "out/segmentation"

  static let (side, batch) = (32, 16)
  static let classes = ["background", "circle", "square", "triangle"]

  /// The U-Net: logits `[N·side², classes]` (a row per pixel) for images `[N, 1, side, side]`.
  static func architecture(batch: Int) throws -> Graph {
    try Graph(name: "unet", input: [batch, 1, side, side]) { x in
      func conv(_ x: Symbol, _ channels: Int, _ name: String, stride: Int = 1) throws -> Symbol {
        try x.apply(Conv2D(channels, kernel: 3, stride: stride, padding: 1, activation: .relu, name: name))
      }
      func up(_ x: Symbol, _ skip: Symbol, _ channels: Int, level: Int) throws -> Symbol {
        let upsampled = try x.apply(ConvTranspose2D(channels, kernel: 2, stride: 2, activation: .relu, name: "up\(level)"))
        return try conv(Symbol.concat([upsampled, skip]), channels, "dec\(level)")
      }
      let level1 = try conv(x, 16, "enc1")  // 16×32×32
      let level2 = try conv(conv(level1, 32, "down2", stride: 2), 32, "enc2")  // 32×16×16
      let bottom = try conv(conv(level2, 64, "down3", stride: 2), 64, "enc3")  // 64×8×8
      let decoded = try up(up(bottom, level2, 32, level: 2), level1, 16, level: 1)  // 16×32×32
      let logits = try decoded.apply(Conv2D(classes.count, kernel: 1, name: "head"))
      // One row of class scores per pixel, for the softmax cross-entropy.
      return try logits.transposed([0, 2, 3, 1]).reshaped([batch * side * side, classes.count])
    }
  }

  /// `count` images `[count, 1, side, side]` and their masks (class per pixel): one to three
  /// shapes of random class, size, place and brightness over Gaussian noise; later shapes cover
  /// earlier ones.
  static func shapes(count: Int, seed: UInt64) -> (images: [Float], masks: [Int]) {
    var generator = SplitMix64(seed: seed)
    func uniform(_ range: ClosedRange<Double>) -> Double { range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUnit() }
    let plane = side * side
    var images = [Float](repeating: 0, count: count * plane)
    var masks = [Int](repeating: 0, count: count * plane)
    for image in 0..<count {
      let base = image * plane
      for p in 0..<plane { images[base + p] = Float(0.3 * generator.nextNormal()) }
      for _ in 0..<Int(uniform(1...3.99)) {
        let kind = Int(uniform(1...3.99))
        let (cx, cy, r) = (uniform(6...26), uniform(6...26), uniform(4...8))
        let brightness = Float(uniform(0.8...1.6))
        for y in 0..<side {
          for x in 0..<side {
            let (dx, dy) = (Double(x) + 0.5 - cx, Double(y) + 0.5 - cy)
            let inside: Bool
            switch kind {
            case 1: inside = dx * dx + dy * dy <= r * r
            case 2: inside = abs(dx) <= r * 0.85 && abs(dy) <= r * 0.85
            default: inside = dy <= r * 0.8 && dy >= -r && abs(dx) <= (dy + r) * 0.55  // apex up
            }
            if inside {
              images[base + y * side + x] = brightness + Float(0.3 * generator.nextNormal())
              masks[base + y * side + x] = kind
            }
          }
        }
      }
    }
    return (images, masks)
  }

  func run() throws {
    let plane = Self.side * Self.side
    let train = Self.shapes(count: images, seed: 1)
    let test = Self.shapes(count: testImages, seed: 2)
    let compiler = try Compiler()
    var trainer = try Trainer(model: Model(graph: Self.architecture(batch: Self.batch), seed: 1), optimizer: Optimizer(.adam)) {
      try CompiledTraining($0, parameters: $1, compiler: compiler)
    }
    func batch(_ data: (images: [Float], masks: [Int]), _ indices: [Int]) throws -> [String: Tensor<Float>] {
      [
        "input": try Tensor(shape: [indices.count, 1, Self.side, Self.side], scalars: indices.flatMap { data.images[($0 * plane)..<(($0 + 1) * plane)] }),
        "labels": try Tensor(shape: [indices.count * plane], scalars: indices.flatMap { data.masks[($0 * plane)..<(($0 + 1) * plane)].map(Float.init) }),
      ]
    }
    for epoch in 0..<epochs {
      var losses: [Float] = []
      for indices in Dataset.batchIndices(count: images, size: Self.batch, shuffleSeed: UInt64(epoch)) {
        losses.append(try trainer.step(batch(train, indices), learningRate: 2e-3).loss)
      }
      print(String(format: "epoch %d: cross-entropy %.4f per pixel", epoch + 1, losses.reduce(0, +) / Float(max(losses.count, 1))))
    }

    // Test images through the compiled model, one batch at a time.
    let model = try Model(graph: Self.architecture(batch: Self.batch), parameters: trainer.trainedModel.parameters)
    let compiled = try compiler.compile(model)
    var predicted: [Int] = []
    for start in stride(from: 0, to: testImages - Self.batch + 1, by: Self.batch) {
      predicted += try compiled.predict(batch(test, Array(start..<(start + Self.batch)))["input"]!).argmaxRows()
    }
    let truth = Array(test.masks.prefix(predicted.count))
    let accuracy = Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(truth.count)
    let iou = Self.classes.indices.map { c -> Double in
      let both = zip(predicted, truth).filter { $0 == c && $1 == c }.count
      let either = zip(predicted, truth).filter { $0 == c || $1 == c }.count
      return either == 0 ? 1 : Double(both) / Double(either)
    }
    print(String(format: "%.1f%% of the test pixels are background (calling everything background scores that)",
      100 * Double(truth.filter { $0 == 0 }.count) / Double(truth.count)))
    print(String(format: "%d test images: pixel accuracy %.1f%%, mean IoU %.3f (", truth.count / plane, 100 * accuracy, iou.reduce(0, +) / Double(iou.count))
      + zip(Self.classes, iou).map { String(format: "%@ %.3f", $0, $1) }.joined(separator: ", ") + ")")

    // Six test images: input, true mask, predicted mask.
    let colours: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (230, 60, 60), (60, 200, 80), (70, 110, 240)]
    func maskTile(_ mask: ArraySlice<Int>) -> RGBImage {
      var tile = RGBImage(width: Self.side, height: Self.side)
      for (i, c) in mask.enumerated() { tile[i % Self.side, i / Self.side] = colours[c] }
      return tile
    }
    let rows = (0..<min(6, truth.count / plane)).map { i -> [RGBImage] in
      let range = (i * plane)..<((i + 1) * plane)
      return [RGBImage.map(Array(test.images[range]), width: Self.side, height: Self.side), maskTile(test.masks[range]), maskTile(predicted[range])]
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try RGBImage.grid(rows, scale: 4, gap: 4).writePNG(to: "\(out)/segmentation.png")
    print("wrote \(out)/segmentation.png: image, true mask, prediction (red circle, green square, blue triangle)")
  }
}
