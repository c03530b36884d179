extension Zoo {
  /// A small C3D-style network for short clips (after Tran et al. 2015, with fewer and narrower
  /// layers): four 3×3×3 convolutions with ReLU (16, 32, 64, 128 channels), the first pool spatial
  /// only (1×2×2) so early frames are not merged, then 2×2×2 pools, global average pooling and a
  /// dense classifier. Input `[N, C, frames, H, W]`.
  public static func c3dSmall(input: [Int] = [1, 3, 16, 112, 112], classes: Int = 10) throws -> Graph {
    try Graph(name: "c3d_small", input: input) {
      Conv3D(16, kernel: 3, padding: 1, activation: .relu, name: "conv1")
      MaxPool3D([1, 2, 2], name: "pool1")
      Conv3D(32, kernel: 3, padding: 1, activation: .relu, name: "conv2")
      MaxPool3D(2, name: "pool2")
      Conv3D(64, kernel: 3, padding: 1, activation: .relu, name: "conv3")
      MaxPool3D(2, name: "pool3")
      Conv3D(128, kernel: 3, padding: 1, activation: .relu, name: "conv4")
      MaxPool3D(2, name: "pool4")
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Dense(classes, name: "fc")
    }
  }
}
