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
      test image --index, brightest where the activation is largest. --what top-patches finds the
      --count test images (of the first --limit) on which channel --channel of layer --layer
      responds most, and draws the patch under each response's receptive field. --what guided-backprop
      projects channel --channel of layer --layer back onto test image --index: the image, the plain
      gradient of the channel's summed activation, and guided backpropagation (only positive
      gradients pass the ReLUs), side by side.

      Examples:
        kiln visualize lenet5 --weights lenet5.safetensors --what filters --out filters.png
        kiln visualize lenet5 --weights lenet5.safetensors --what activations --layer conv1 --index 0 --out maps.png
        kiln visualize lenet5 --weights lenet5.safetensors --what top-patches --layer conv2 --channel 3 --out patches.png
        kiln visualize lenet5 --weights lenet5.safetensors --what guided-backprop --layer conv2 --channel 6 --index 2 --out guided.png
      """)

  enum What: String, ExpressibleByArgument, CaseIterable {
    case filters, activations
    case topPatches = "top-patches"
    case guidedBackprop = "guided-backprop"
  }

  @OptionGroup var options: ModelOptions

  @Option(help: "Trained weights (safetensors).")
  var weights: String?

  @Option(help: "filters, activations, top-patches or guided-backprop.")
  var what = What.filters

  @Option(help: "The convolution (filters) or layer (activations) to draw.")
  var layer: String?

  @Option(help: "Which Fashion-MNIST test image (activations, guided-backprop).")
  var index = 0

  @Option(help: "The channel of --layer (top-patches, guided-backprop).")
  var channel = 0

  @Option(help: "Patches to draw (top-patches).")
  var count = 16

  @Option(help: "Test images to search (top-patches).")
  var limit = 1000

  @OptionGroup var data: DataOptions

  @Option(help: "The PNG to write.")
  var out = "visualize.png"

  func validate() throws {
    guard index >= 0 else { throw ValidationError("--index must be 0 or more, got \(index)") }
    if what != .filters && layer == nil { throw ValidationError("--what \(what.rawValue) needs --layer (see `kiln summary` for the names)") }
    guard count >= 1, limit >= 1, channel >= 0 else { throw ValidationError("--count and --limit must be at least 1 and --channel 0 or more") }
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
    case .topPatches:
      _ = try data.testImage(0, for: model, purpose: "top patches")
      let side = model.inputType?.shape[2] ?? 28
      let test = try FashionMNIST.load(.test, directory: data.directory, limit: limit, padding: (side - 28) / 2)
      let patches = try TopPatches.find(model, images: test.batch(Array(0..<test.count)).images, layer: layer ?? "", channel: channel, count: count)
      for patch in patches {
        print("test image \(patch.image) (\(FashionMNIST.classNames[test.labels[patch.image]])) at \(patch.position): \(patch.activation)")
      }
      try Visualization.patchGrid(patches, scale: max(96 / (patches.first?.pixels.shape[1] ?? 1), 1)).writePNG(to: out)
      print("the \(patches.count) strongest responses of channel \(channel) of \(layer ?? "") over \(test.count) test images; wrote \(out)")
    case .guidedBackprop:
      let (image, label) = try data.testImage(index, for: model, purpose: "guided backpropagation")
      let single = model.inputType?.shape.first == 1 ? model : try Model(graph: model.graph.rebatched(to: 1), parameters: model.parameters)
      let guided = try GuidedBackpropagation.projection(single, input: image, layer: layer ?? "", channel: channel)
      let plain = try GuidedBackpropagation.projection(single, input: image, layer: layer ?? "", channel: channel, guided: false)
      let side = image.shape[2]
      func picture(_ values: [Float]) -> RGBImage {
        let extent = max(values.map(abs).max() ?? 1, .leastNormalMagnitude)
        return RGBImage.map(values, width: side, height: side, range: -extent...extent, colormap: RGBImage.diverging)
      }
      try RGBImage.grid([[RGBImage.map(image.scalars, width: side, height: side), picture(plain.scalars), picture(guided.scalars)]], scale: 4, gap: 4)
        .writePNG(to: out)
      let share = guided.scalars.filter { $0 != 0 }.count * 100 / max(guided.count, 1)
      print("test image \(index) (\(FashionMNIST.classNames[label])): channel \(channel) of \(layer ?? "") projected back; \(share)% of the pixels take part in the guided projection; wrote \(out): the image, the plain gradient, guided backpropagation")
    }
  }
}
