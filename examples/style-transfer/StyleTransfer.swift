// Style transfer by optimising the image itself: a Fashion-MNIST garment (the content) is
// repainted with the texture of a striped pattern (the style). The loss compares Gram matrices
// (channel-by-channel feature correlations) of the image with the style's, and deep features with
// the content's; Kiln differentiates it with respect to the input pixels and compiles loss and
// gradient into one native function, and Adam updates the pixels. The features come from a small
// convolutional network with fixed random weights, which is known to capture texture statistics
// well enough for this.
//
//   swift run -c release style-transfer --steps 300 --out out/style-transfer
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct StyleTransfer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "style-transfer", abstract: "Repaint a Fashion-MNIST image with a striped texture by minimising a Gram-matrix style loss.")

  @Option(help: "Which Fashion-MNIST test image is the content.")
  var index = 1
  @Option(help: "Optimisation steps.")
  var steps = 300
  @Option(help: "Weight of the style loss against the content loss.")
  var styleWeight = 0.5
  @Option(help: "Directory for style-transfer.png.")
  var out = "out/style-transfer"

  static let side = 28

  /// The feature network: two 3×3 convolutions with ReLU; returns the Gram matrices of both and
  /// the first layer's maps.
  static func features(_ image: Symbol) throws -> (grams: [Symbol], content: Symbol) {
    let first = try image.apply(Conv2D(16, kernel: 3, padding: 1, activation: .relu, name: "conv1"))
    let second = try first.apply(Conv2D(32, kernel: 3, stride: 2, padding: 1, activation: .relu, name: "conv2"))
    return (try [first, second].map(gram), first)
  }

  /// F·Fᵀ / positions for maps F [1, C, H, W] seen as [C, H·W].
  static func gram(_ maps: Symbol) throws -> Symbol {
    let (channels, positions) = (maps.shape[1], maps.shape[2...].reduce(1, *))
    let rows = try maps.reshaped([channels, positions])
    return try rows.matmul(rows.transposed([1, 0])).scaled(by: 1 / Double(positions))
  }

  func run() throws {
    let test = try FashionMNIST.load(.test, limit: index + 1)
    guard index < test.count else { throw ValidationError("--index \(index) is outside the test set") }
    let content = try Tensor(shape: [1, 1, Self.side, Self.side], scalars: test.batch([index]).images.scalars)
    // The style: diagonal stripes 6 pixels apart, in the range of the content's pixels.
    let (low, high) = (content.scalars.min() ?? 0, content.scalars.max() ?? 1)
    let style = try Tensor(shape: content.shape, scalars: (0..<(Self.side * Self.side)).map { ($0 / Self.side + $0 % Self.side) % 6 < 3 ? high : low })

    // The loss: style weight · Σ ‖G(x) − G(style)‖² / n + ‖F(x) − F(content)‖² / n.
    let lossGraph = try Graph(name: "style_loss") { b in
      let image = try b.input("image", shape: content.shape)
      let (grams, maps) = try Self.features(image)
      let styleTerms = try grams.enumerated().map { index, gram in
        try gram.meanSquaredError(targets: b.input("style_gram\(index)", shape: gram.shape))
      }
      let contentTerm = try maps.meanSquaredError(targets: b.input("content_maps", shape: maps.shape))
      return [try (styleTerms[0] + styleTerms[1]).scaled(by: styleWeight) + contentTerm]
    }
    let parameters = try Model.initialParameters(for: lossGraph, seed: 5)
    let compiler = try Compiler()
    // Targets through the same feature network (same parameter names, same values).
    let featureGraph = try Graph(name: "features") { b in
      let (grams, maps) = try Self.features(try b.input("image", shape: content.shape))
      return grams + [maps]
    }
    let features = try compiler.compile(featureGraph, parameters: parameters)
    let styleFeatures = try features.run(["image": style])
    let contentFeatures = try features.run(["image": content])

    let differentiated = try lossGraph.differentiated(loss: lossGraph.outputs[0], withRespectTo: [lossGraph.inputs[0]])
    let step = try compiler.compile(differentiated.graph, parameters: parameters)
    var feeds = ["style_gram0": styleFeatures[0], "style_gram1": styleFeatures[1], "content_maps": contentFeatures[2]]

    // Adam on the pixels, starting from the content image.
    var x = content.scalars
    var (m, v) = ([Float](repeating: 0, count: x.count), [Float](repeating: 0, count: x.count))
    let (rate, beta1, beta2): (Float, Float, Float) = (0.02 * (high - low), 0.9, 0.999)
    for t in 1...steps {
      feeds["image"] = try Tensor(shape: content.shape, scalars: x)
      let results = try step.run(feeds)
      guard let gradient = results.gradients["image"]?.scalars else { throw KilnError.invalidGraph("no gradient for the image") }
      let loss = results[0].scalars[0]
      if t == 1 || t % max(steps / 5, 1) == 0 { print(String(format: "step %d: loss %.5f", t, loss)) }
      for i in x.indices {
        m[i] = beta1 * m[i] + (1 - beta1) * gradient[i]
        v[i] = beta2 * v[i] + (1 - beta2) * gradient[i] * gradient[i]
        let (mHat, vHat) = (m[i] / (1 - pow(beta1, Float(t))), v[i] / (1 - pow(beta2, Float(t))))
        x[i] = min(max(x[i] - rate * mHat / (vHat.squareRoot() + 1e-8), low), high)
      }
    }
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let tiles = [content.scalars, style.scalars, x].map { RGBImage.map($0, width: Self.side, height: Self.side) }
    try RGBImage.grid([tiles], scale: 6, gap: 6).writePNG(to: "\(out)/style-transfer.png")
    print("wrote \(out)/style-transfer.png: content, style, result")
  }
}
