// 3D convolution over time: short clips of a Fashion-MNIST image sliding right, left, down or up
// across the frame (8 frames, one pixel a frame, a random offset across the motion) are classified
// by their direction. No single frame tells the direction; only the time axis of the 3×3×3
// kernels can.
//
//   swift run -c release video-3d --clips 4000 --epochs 3
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct Video3D: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "video-3d", abstract: "Classify the motion direction of clips made from Fashion-MNIST images with 3D convolutions.")

  @Option(help: "Training clips (one per training image).")
  var clips = 4_000
  @Option(help: "Test clips (one per test image).")
  var testClips = 1_000
  @Option(help: "Epochs.")
  var epochs = 3

  static let (frames, side, batch) = (8, 36, 16)
  static let directions = ["right", "left", "down", "up"]

  static func architecture(batch: Int) throws -> Graph {
    try Graph(name: "video3d", input: [batch, 1, frames, side, side]) {
      Conv3D(8, kernel: 3, padding: 1, activation: .relu, name: "conv1")
      MaxPool3D(2, name: "pool1")  // 8×4×18×18
      Conv3D(16, kernel: 3, padding: 1, activation: .relu, name: "conv2")
      MaxPool3D(2, name: "pool2")  // 16×2×9×9
      Flatten()
      Dense(directions.count, name: "fc")
    }
  }

  /// Clips [count, 1, frames, side, side] of `data`'s images moving in direction i mod 4, and
  /// those directions as labels.
  static func clips(of data: Dataset, seed: UInt64) -> (clips: [Float], labels: [Float]) {
    var generator = SplitMix64(seed: seed)
    let plane = side * side
    var clips = [Float](repeating: 0, count: data.count * frames * plane)
    for i in 0..<data.count {
      let direction = i % 4
      let across = Int(generator.next() % UInt64(side - 28 + 1))
      for t in 0..<frames {
        let along = direction % 2 == 0 ? t : frames - 1 - t
        let (left, top) = direction < 2 ? (along, across) : (across, along)
        let frame = (i * frames + t) * plane
        for y in 0..<28 {
          for x in 0..<28 { clips[frame + (top + y) * side + left + x] = data.pixels[i * 784 + y * 28 + x] }
        }
      }
    }
    return (clips, (0..<data.count).map { Float($0 % 4) })
  }

  func run() throws {
    let train = Self.clips(of: try FashionMNIST.load(.train, limit: clips, normalization: .unit), seed: 1)
    let test = Self.clips(of: try FashionMNIST.load(.test, limit: testClips, normalization: .unit), seed: 2)
    let clipSize = Self.frames * Self.side * Self.side
    func batch(_ data: (clips: [Float], labels: [Float]), _ indices: [Int]) throws -> [String: Tensor<Float>] {
      [
        "input": try Tensor(shape: [indices.count, 1, Self.frames, Self.side, Self.side], scalars: indices.flatMap { data.clips[($0 * clipSize)..<(($0 + 1) * clipSize)] }),
        "labels": try Tensor(shape: [indices.count], scalars: indices.map { data.labels[$0] }),
      ]
    }

    let compiler = try Compiler()
    var trainer = try Trainer(model: Model(graph: Self.architecture(batch: Self.batch), seed: 1), optimizer: Optimizer(.momentum)) {
      try CompiledTraining($0, parameters: $1, compiler: compiler)
    }
    for epoch in 0..<epochs {
      var (correct, seen, loss) = (0, 0, 0.0)
      for indices in Dataset.batchIndices(count: train.labels.count, size: Self.batch, shuffleSeed: UInt64(epoch)) {
        let feeds = try batch(train, indices)
        let step = try trainer.step(feeds, learningRate: 0.01)
        correct += zip(step.logits.argmaxRows(), feeds["labels"]!.scalars).filter { $0 == Int($1) }.count
        seen += indices.count
        loss += Double(step.loss) * Double(indices.count)
      }
      print(String(format: "epoch %d: loss %.4f, training accuracy %.1f%%", epoch + 1, loss / Double(seen), 100 * Double(correct) / Double(seen)))
    }

    // Test clips, compiled at batch 1, with the accuracy per direction.
    let model = try Model(graph: Self.architecture(batch: 1), parameters: trainer.trainedModel.parameters)
    let compiled = try compiler.compile(model)
    var hits = [Int](repeating: 0, count: 4)
    for index in 0..<test.labels.count {
      let feeds = try batch(test, [index])
      if try compiled.predict(feeds["input"]!).argmaxRows()[0] == index % 4 { hits[index % 4] += 1 }
    }
    let perDirection = (0..<4).map { Double(hits[$0]) / Double(max((test.labels.count + 3 - $0) / 4, 1)) }
    print(String(format: "test accuracy %.1f%% over %d clips (", 100 * Double(hits.reduce(0, +)) / Double(test.labels.count), test.labels.count)
      + zip(Self.directions, perDirection).map { String(format: "%@ %.0f%%", $0, 100 * $1) }.joined(separator: ", ") + "; chance 25%)")
  }
}
