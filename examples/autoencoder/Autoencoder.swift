// A convolutional autoencoder on Fashion-MNIST: two strided convolutions squeeze a 28×28 image
// into 32 maps of 7×7, two transposed convolutions grow it back; trained (with compiled training
// steps) to reproduce its input under a per-pixel binary cross-entropy. Writes a PNG with test
// images above their reconstructions.
//
//   swift run -c release autoencoder --epochs 3 --out out/autoencoder
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct Autoencoder: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "autoencoder", abstract: "Train a convolutional autoencoder on Fashion-MNIST and draw its reconstructions.")

  @Option(help: "Training images (the first N of 60,000).")
  var limit = 12_000
  @Option(help: "Epochs.")
  var epochs = 3
  @Option(help: "Test images to reconstruct and draw.")
  var show = 10
  @Option(help: "Directory for reconstructions.png.")
  var out = "out/autoencoder"

  static func architecture(batch: Int) throws -> Graph {
    try Graph(name: "autoencoder", input: [batch, 1, 28, 28]) {
      Conv2D(16, kernel: 3, stride: 2, padding: 1, activation: .relu, name: "encoder1")  // 16×14×14
      Conv2D(32, kernel: 3, stride: 2, padding: 1, activation: .relu, name: "encoder2")  // 32×7×7
      ConvTranspose2D(16, kernel: 3, stride: 2, padding: 1, outputPadding: 1, activation: .relu, name: "decoder1")  // 16×14×14
      ConvTranspose2D(1, kernel: 3, stride: 2, padding: 1, outputPadding: 1, name: "decoder2")  // 1×28×28 logits
    }
  }

  func run() throws {
    // Pixels in 0…1: they are the targets of the per-pixel cross-entropy.
    let train = try FashionMNIST.load(.train, limit: limit, normalization: .unit)
    let test = try FashionMNIST.load(.test, limit: show, normalization: .unit)
    let compiler = try Compiler()
    let batch = 32
    var trainer = try Trainer(model: Model(graph: Self.architecture(batch: batch), seed: 1), optimizer: Optimizer(.adam), loss: .binaryCrossEntropy) {
      try CompiledTraining($0, parameters: $1, compiler: compiler)
    }
    for epoch in 0..<epochs {
      let start = Date()
      var losses: [Float] = []
      for indices in train.batchIndices(size: batch, shuffleSeed: UInt64(epoch)) {
        let images = train.batch(indices).images
        losses.append(try trainer.step(["input": images, "targets": images], learningRate: 2e-3).loss)
      }
      print(String(format: "epoch %d: cross-entropy %.4f per pixel, %.1f s", epoch + 1, losses.reduce(0, +) / Float(losses.count), Date().timeIntervalSince(start)))
    }

    // Reconstructions of test images, compiled at their batch size.
    let model = try Model(graph: Self.architecture(batch: test.count), parameters: trainer.trainedModel.parameters)
    let images = test.batch(Array(0..<test.count)).images
    let reconstructions = try compiler.compile(model).predict(images).scalars.map { 1 / (1 + exp(-$0)) }
    let error = zip(reconstructions, images.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(images.count)
    let mean = train.pixels.reduce(0, +) / Float(train.pixels.count)
    let baseline = images.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(images.count)
    print(String(format: "test images: mean squared error %.4f per pixel (predicting the mean pixel everywhere: %.4f)", error, baseline))

    let plane = 28 * 28
    let tiles = { (pixels: [Float]) in (0..<test.count).map { RGBImage.map(Array(pixels[($0 * plane)..<(($0 + 1) * plane)]), width: 28, height: 28) } }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try RGBImage.grid([tiles(images.scalars), tiles(reconstructions)], scale: 3, gap: 4).writePNG(to: "\(out)/reconstructions.png")
    print("wrote \(out)/reconstructions.png: test images above, reconstructions below")
  }
}
