import Foundation
import Testing

@testable import Kiln

@Suite struct VisualizationTests {
  @Test func filtersAndTheirGrid() throws {
    let lenet = try Model(graph: Zoo.lenet5(), seed: 1)
    let first = try Visualization.filters(lenet)
    #expect(first == lenet.parameters["conv1.weight"])
    #expect(try Visualization.filters(lenet, layer: "conv2").shape == [16, 6, 5, 5])
    expectError("lenet5 has no 2D convolution called fc1 (there are: conv1, conv2, conv3)") { _ = try Visualization.filters(lenet, layer: "fc1") }
    // Six 5×5 filters at scale 4: rows of three, 2-pixel gaps.
    let grid = Visualization.filterGrid(first, scale: 4)
    #expect(grid.width == 3 * 20 + 2 * 2 && grid.height == 2 * 20 + 2)
    // Zero is white, the most negative weight of a filter blue, the most positive red.
    #expect(RGBImage.diverging(0.5) == (255, 255, 255) && RGBImage.diverging(0) == (0, 0, 255) && RGBImage.diverging(1) == (255, 0, 0))
    let signed = try Tensor<Float>(shape: [1, 1, 1, 3], scalars: [-2, 0, 1])
    let tile = Visualization.filterGrid(signed, scale: 1)
    #expect(tile[0, 0] == (0, 0, 255) && tile[1, 0] == (255, 255, 255) && tile[2, 0] == (255, 128, 128))
  }

  @Test func activationsAreTheLayersOutput() throws {
    // y = 2x + 1, then ReLU: hand-checked maps.
    var model = try Model(name: "one", input: [1, 1, 2, 2]) { x in try x.apply(Conv2D(1, kernel: 1, activation: .relu, name: "c")) }
    model.parameters["c.weight"] = try Tensor(shape: [1, 1, 1, 1], scalars: [2])
    model.parameters["c.bias"] = try Tensor(shape: [1], scalars: [1])
    let maps = try Visualization.activations(model, input: Tensor(shape: [1, 1, 2, 2], scalars: [1, -3, 0, 2]), layer: model.graph[model.graph.outputs[0]].name)
    #expect(maps.shape == [1, 2, 2] && maps.scalars == [3, 0, 1, 5])
    expectError("one has no layer nope with [N, C, H, W] maps (there are: input") {
      _ = try Visualization.activations(model, input: Tensor(shape: [1, 1, 2, 2], scalars: [0, 0, 0, 0]), layer: "nope")
    }
  }
}

/// Top patches on images whose answers are known: one bright pixel each, a convolution that
/// passes pixels through, a 2×2 max pool (receptive field 4, jump 2, starting at −1).
@Suite struct TopPatchesTests {
  @Test func strongestResponsesAndTheirPatches() throws {
    var center = try Tensor<Float>(shape: [1, 1, 3, 3], repeating: 0)
    center[0, 0, 1, 1] = 1
    let model = try Model(name: "probe", input: [3, 1, 6, 6]) {
      Conv2D(weight: center, padding: 1)
      MaxPool2D(2)
    }
    var images = try Tensor<Float>(shape: [3, 1, 6, 6], repeating: 0)
    images[0, 0, 2, 3] = 5
    images[1, 0, 0, 0] = 9
    images[2, 0, 5, 5] = 1
    let patches = try TopPatches.find(model, images: images, layer: "max_pool1", channel: 0, count: 3)
    #expect(patches.map(\.image) == [1, 0, 2])
    #expect(patches.map(\.position) == [[0, 0], [1, 1], [2, 2]])
    #expect(patches.map(\.activation) == [9, 5, 1])
    // Patches are 4×4 windows at −1 + 2·position; outside the image they hold its background, 0.
    for (patch, bright) in zip(patches, [(1, 1, Float(9)), (1, 2, 5), (2, 2, 1)]) {
      #expect(patch.pixels.shape == [1, 4, 4])
      var expected = [Float](repeating: 0, count: 16)
      expected[bright.0 * 4 + bright.1] = bright.2
      #expect(patch.pixels.scalars == expected, "image \(patch.image)")
    }
    expectError("max_pool1 has channels 0..<1") { _ = try TopPatches.find(model, images: images, layer: "max_pool1", channel: 1, count: 3) }
    expectError("nope is not a layer of probe") { _ = try TopPatches.find(model, images: images, layer: "nope", channel: 0, count: 1) }
  }
}

/// Guided backpropagation against hand-computed gradients: after a ReLU, a negative weight sends
/// back a negative gradient, which the plain gradient keeps and guided backpropagation stops.
@Suite struct GuidedBackpropagationTests {
  @Test func onlyPositiveGradientsPassTheReLUs() throws {
    let x = try Tensor<Float>(shape: [1, 1, 4], scalars: [1, -2, 3, 0.5])
    for (weight, plain, guided) in [(Float(-1), [Float](repeating: -1, count: 4), [Float](repeating: 0, count: 4)), (2, [2, 2, 2, 2], [2, 2, 2, 2])] {
      let kernel = try Tensor<Float>(shape: [1, 1, 1], scalars: [weight])
      let model = try Model(name: "probe", input: [1, 1, 4]) {
        Activation(.relu, name: "r1")
        Conv1D(weight: kernel, name: "c")
      }
      // The score is Σ c = weight·Σ relu(x): its gradient is the weight where x > 0; guided, the
      // ReLU passes it back only if it is positive.
      let mask: [Float] = [1, 0, 1, 1]
      let projection = try GuidedBackpropagation.projection(model, input: x, layer: "c", channel: 0)
      let gradient = try GuidedBackpropagation.projection(model, input: x, layer: "c", channel: 0, guided: false)
      #expect(gradient.scalars == zip(plain, mask).map { $0 * $1 }, "weight \(weight)")
      // The plain projection is the VJP with a cotangent of ones on the channel.
      let vjp = try model.vjp(["input": x], cotangent: Tensor(shape: [1, 1, 4], repeating: 1), of: "c", withRespectTo: ["input"])
      #expect(vjp.gradients["input"] == gradient)
      #expect(projection.scalars == zip(guided, mask).map { $0 * $1 }, "weight \(weight)")
    }
    let model = try Model(name: "probe", input: [1, 1, 4]) { Activation(.relu, name: "r1") }
    expectError("guided backpropagation needs one image, a channel in 0..<1") {
      _ = try GuidedBackpropagation.projection(model, input: x, layer: "r1", channel: 2)
    }
  }
}
