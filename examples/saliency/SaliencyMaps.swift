// What a trained classifier looks at: for a few Fashion-MNIST test images, the gradient of the
// predicted class's score with respect to the pixels (through Kiln's backward graph) and an
// occlusion map (how much the score drops when a grey square hides each region), drawn side by
// side in one PNG.
//
//   swift run -c release saliency --out out/saliency
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct SaliencyMaps: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "saliency", abstract: "Saliency and occlusion maps of LeNet-5 on Fashion-MNIST, as a PNG.")

  @Option(help: "Trained LeNet-5 weights (safetensors); without them, LeNet-5 is trained first.")
  var weights: String?
  @Option(help: "Training images when training first.")
  var limit = 12_000
  @Option(help: "Test images to map.")
  var images = 6
  @Option(help: "Side of the occluding square, in pixels.")
  var patch = 4
  @Option(help: "Directory for saliency.png.")
  var out = "out/saliency"

  func run() throws {
    let single = try Zoo.lenet5(input: [1, 1, 32, 32])
    let model = try weights.map { try Model(graph: single, weightsFrom: $0) } ?? train()
    let test = try FashionMNIST.load(.test, limit: images, padding: 2)
    var rows: [[RGBImage]] = []
    for index in 0..<test.count {
      let image = test.batch([index]).images
      let predicted = try model.predict(image).argmaxRows()[0]
      let gradient = try Saliency.gradient(model, input: image, class: predicted).scalars.map(abs)
      let background = image.scalars.min() ?? 0
      let occlusion = try Saliency.occlusion(model, input: image, class: predicted, patch: patch, stride: max(patch / 2, 1), fill: background)
      rows.append([
        RGBImage.map(image.scalars, width: 32, height: 32),
        RGBImage.map(gradient, width: 32, height: 32, colormap: RGBImage.hot),
        RGBImage.map(occlusion.scalars.map { max($0, 0) }, width: 32, height: 32, colormap: RGBImage.hot),
      ])
      // How much of each map falls on the garment (pixels brighter than the background).
      let garment = image.scalars.map { $0 > background + 0.1 }
      func share(_ map: [Float]) -> Float {
        zip(map, garment).filter(\.1).map(\.0).reduce(0, +) / max(map.reduce(0, +), .leastNormalMagnitude)
      }
      let area = Float(garment.filter { $0 }.count) / Float(garment.count)
      let names = FashionMNIST.classNames
      print(String(format: "image %d: %@, predicted %@; the garment covers %.0f%% of the image and holds %.0f%% of the gradient, %.0f%% of the occlusion drop",
        index, names[test.labels[index]], names[predicted], 100 * area, 100 * share(gradient), 100 * share(occlusion.scalars.map { max($0, 0) })))
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try RGBImage.grid(rows, scale: 6, gap: 6).writePNG(to: "\(out)/saliency.png")
    print("wrote \(out)/saliency.png: one row per image; the image, |∂score/∂pixel|, the occlusion drop")
  }

  /// LeNet-5 trained for two epochs with compiled training steps, moved to batch 1.
  func train() throws -> Model {
    let compiler = try Compiler()
    let data = try FashionMNIST.load(.train, limit: limit, padding: 2)
    let architecture = try Zoo.lenet5(input: [32, 1, 32, 32])
    var trainer = try Trainer(model: Model(graph: architecture, seed: 1), optimizer: Optimizer(.momentum)) {
      try CompiledTraining($0, parameters: $1, compiler: compiler)
    }
    for epoch in 0..<2 {
      let result = try trainer.trainEpoch(on: data, epoch: epoch, seed: 1, schedule: .constant(0.02))
      print(String(format: "training epoch %d: accuracy %.1f%%", epoch + 1, 100 * result.accuracy))
    }
    return try Model(graph: architecture.rebatched(to: 1), parameters: trainer.trainedModel.parameters)
  }
}
