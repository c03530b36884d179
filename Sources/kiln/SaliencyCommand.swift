import ArgumentParser
import Foundation
import Kiln

struct SaliencyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "saliency",
    abstract: "Write a PNG of where a classifier looks: input, gradient saliency and occlusion maps.",
    discussion: """
      For Fashion-MNIST test image --index, the PNG shows three panels side by side: the image,
      |∂ score / ∂ input| of the top class (hot colours: large gradients), and the drop in that
      score when a --patch × --patch square around each pixel is hidden.

      Examples:
        kiln saliency lenet5 --weights lenet5.safetensors --index 0 --out saliency.png
        kiln saliency lenet5 --weights lenet5.safetensors --index 7 --patch 6 --out coat.png
      """)

  @OptionGroup var options: ModelOptions

  @Option(help: "Trained weights (safetensors).")
  var weights: String?

  @Option(help: "Which Fashion-MNIST test image.")
  var index = 0

  @OptionGroup var data: DataOptions

  @Option(help: "Side of the occluding square, in pixels.")
  var patch = 4

  @Option(help: "The PNG to write.")
  var out = "saliency.png"

  func validate() throws {
    guard index >= 0 else { throw ValidationError("--index must be 0 or more, got \(index)") }
    guard patch >= 1 else { throw ValidationError("--patch must be at least 1, got \(patch)") }
  }

  func run() throws {
    let model = try options.model(weights: weights)
    guard model.inputType?.shape.first == 1 else {
      throw ValidationError("saliency maps need a single-image model (input [1,1,S,S])")
    }
    let (image, label) = try data.testImage(index, for: model, purpose: "saliency maps")
    let logits = try model.predict(image)
    let top = logits.argmaxRows()[0]
    let gradient = try Saliency.gradient(model, input: image, class: top)
    let occlusion = try Saliency.occlusion(model, input: image, class: top, patch: patch, stride: max(patch / 2, 1), fill: image.scalars.min() ?? 0)
    let (height, width) = (image.shape[2], image.shape[3])
    let panels = [
      RGBImage.map(image.scalars, width: width, height: height),
      RGBImage.map(gradient.scalars.map(abs), width: width, height: height, colormap: RGBImage.hot),
      RGBImage.map(occlusion.scalars.map { max($0, 0) }, width: width, height: height, colormap: RGBImage.hot),
    ]
    try RGBImage.grid([panels], scale: 8, gap: 8).writePNG(to: out)
    let names = FashionMNIST.classNames
    print("image \(index): true class \(names[label]), predicted \(names[top]); wrote \(out)")
  }
}
