extension Zoo {
  /// Network in Network for CIFAR-10 (Lin, Chen & Yan 2014): three "mlpconv" blocks — a spatial
  /// convolution followed by two 1×1 convolutions, all with ReLU — separated by 3×3 stride-2 pools
  /// and dropout; the last block has one channel per class and global average pooling replaces the
  /// dense classifier. 966,986 parameters for 10 classes.
  public static func nin(input: [Int] = [1, 3, 32, 32], classes: Int = 10) throws -> Graph {
    func mlpconv(_ channels: [Int], kernel: Int, name: String) -> Sequential {
      Sequential(name: name) {
        Conv2D(channels[0], kernel: kernel, padding: kernel / 2, activation: .relu, name: "conv")
        Conv2D(channels[1], kernel: 1, activation: .relu, name: "cccp1")
        Conv2D(channels[2], kernel: 1, activation: .relu, name: "cccp2")
      }
    }
    return try Graph(name: "nin", input: input) {
      mlpconv([192, 160, 96], kernel: 5, name: "block1")
      MaxPool2D(3, stride: 2, ceilMode: true, name: "pool1")
      Dropout(0.5, name: "drop1")
      mlpconv([192, 192, 192], kernel: 5, name: "block2")
      AvgPool2D(3, stride: 2, ceilMode: true, name: "pool2")
      Dropout(0.5, name: "drop2")
      mlpconv([192, 192, classes], kernel: 3, name: "block3")
      GlobalPool(.average, name: "pool3")
      Flatten(name: "flatten")
    }
  }
}
