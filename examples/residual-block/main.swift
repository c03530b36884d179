// A small residual network built with Kiln's builder API: a Sequential chain around functional
// blocks (residual add, squeeze-and-excitation), summarised and run in the reference interpreter.
//
//   swift run residual-block
import Foundation
import Kiln

/// conv → BN → ReLU → conv → BN, plus the input (or a strided 1×1 projection of it), then ReLU.
func residual(_ channels: Int, stride: Dims = 1, name: String) -> Block {
  Block(name: name) { x in
    var y = try x.apply(Conv2D(channels, kernel: 3, stride: stride, padding: 1, bias: false))
    y = try y.apply(BatchNorm()).relu()
    y = try y.apply(Conv2D(channels, kernel: 3, padding: 1, bias: false)).apply(BatchNorm())
    let shortcut = stride == 1 && x.shape[1] == channels
      ? x : try x.apply(Conv2D(channels, kernel: 1, stride: stride, bias: false, name: "downsample"))
    return try (y + shortcut).relu()
  }
}

/// Channel attention: global average → bottleneck → sigmoid weights per channel.
func squeezeExcitation(reduction: Int = 4) -> Block {
  Block(name: "se") { x in
    let channels = x.shape[1]
    let weights = try x.globalAvgPool().flattened()
      .apply(Dense(channels / reduction, activation: .relu))
      .apply(Dense(channels, activation: .sigmoid))
      .reshaped([x.shape[0], channels, 1, 1])
    return try x * weights
  }
}

do {
  let model = try Model(name: "tiny-resnet", input: [1, 1, 28, 28], seed: 1) {
    Conv2D(16, kernel: 3, padding: 1, bias: false, name: "stem")
    BatchNorm()
    Activation(.relu)
    residual(16, name: "layer1")
    residual(32, stride: 2, name: "layer2")
    squeezeExcitation()
    GlobalPool(.average)
    Flatten()
    Dense(10, name: "head")
  }
  print(Summary(model.graph).text)
  let image = try FashionMNIST.load(.test, limit: 1).batch([0]).images
  let logits = try model.predict(image)
  print("logits for the first Fashion-MNIST test image:", logits.scalars.map { ($0 * 1000).rounded() / 1000 })
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
