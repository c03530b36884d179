extension Zoo {
  /// LeNet-5 with full C3 connectivity: conv 5×5 (6) → pool → conv 5×5 (16) → pool → conv 5×5 (120)
  /// → dense 84 → dense `classes`; 61,706 parameters for 10 classes. Input `[N, 1, 32, 32]`
  /// (pad 28×28 images by 2).
  public static func lenet5(input: [Int] = [1, 1, 32, 32], classes: Int = 10) throws -> Graph {
    try Graph(name: "lenet5", input: input) {
      Conv2D(6, kernel: 5, activation: .relu, name: "conv1")
      MaxPool2D(2, name: "pool1")
      Conv2D(16, kernel: 5, activation: .relu, name: "conv2")
      MaxPool2D(2, name: "pool2")
      Conv2D(120, kernel: 5, activation: .relu, name: "conv3")
      Flatten(name: "flatten")
      Dense(84, activation: .relu, name: "fc1")
      Dense(classes, name: "fc2")
    }
  }

  /// A single 3×3 convolution with 64 filters, padding 1 and bias — the size of ResNet's first
  /// stage, the anchor ../shared/peers benchmarks ONNX Runtime and PyTorch on.
  public static func conv64(input: [Int] = [1, 64, 56, 56]) throws -> Graph {
    try Graph(name: "conv64_56", input: input) { Conv2D(64, kernel: 3, padding: 1, name: "conv") }
  }
}
