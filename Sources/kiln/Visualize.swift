import ArgumentParser
import Foundation
import Kiln

struct Visualize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Draw a convolution's filters, or a layer's feature maps for one test image, as a PNG grid.",
    discussion: """
      --what filters draws the weights of a 2D convolution (--layer, default: the first): each filter
      normalised on its own, three input channels as colour, otherwise blue (negative), white (zero)
      and red (positive). --what activations draws every channel of layer --layer for Fashion-MNIST
      test image --index, brightest where the activation is largest.

      Examples:
        kiln visualize lenet5 --weights lenet5.safetensors --what filters --out filters.png
        kiln visualize lenet5 --weights lenet5.safetensors --what activations --layer conv1 --index 0 --out maps.png
      """)

  enum What: String, ExpressibleByArgument, CaseIterable {
    case filters, activations
  }

  @OptionGroup var options: ModelOptions

  @Option(help: "Trained weights (safetensors).")
  var weights: String?

  @Option(help: "filters or activations.")
  var what = What.filters

  @Option(help: "The convolution (filters) or layer (activations) to draw.")
  var layer: String?

  @Option(help: "Which Fashion-MNIST test image (activations).")
  var index = 0

  @OptionGroup var data: DataOptions

  @Option(help: "The PNG to write.")
  var out = "visualize.png"

  func validate() throws {
    guard index >= 0 else { throw ValidationError("--index must be 0 or more, got \(index)") }
    if what == .activations && layer == nil { throw ValidationError("--what activations needs --layer (see `kiln summary` for the names)") }
  }

  func run() throws {
    let model = try options.model(weights: weights)
    switch what {
    case .filters:
      let weight = try Visualization.filters(model, layer: layer)
      try Visualization.filterGrid(weight, scale: max(120 / weight.shape[2], 1)).writePNG(to: out)
      print("\(weight.shape[0]) filters of \(weight.shape[1])×\(weight.shape[2])×\(weight.shape[3]); wrote \(out)")
    case .activations:
      let (image, label) = try data.testImage(index, for: model, purpose: "feature maps")
      let single = model.inputType?.shape.first == 1 ? model : try Model(graph: model.graph.rebatched(to: 1), parameters: model.parameters)
      let maps = try Visualization.activations(single, input: image, layer: layer ?? "")
      try Visualization.activationGrid(maps, scale: max(96 / maps.shape[1], 1)).writePNG(to: out)
      print("\(maps.shape[0]) maps of \(maps.shape[1])×\(maps.shape[2]) from \(layer ?? "") for test image \(index) (\(FashionMNIST.classNames[label])); wrote \(out)")
    }
  }
}
