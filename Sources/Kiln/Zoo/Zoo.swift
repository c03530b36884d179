/// A named architecture of the model zoo.
public struct ZooEntry: Sendable {
  public let name: String
  public let summary: String
  /// The input shape the architecture was published with (batch 1).
  public let defaultInput: [Int]
  let build: @Sendable (_ input: [Int]) throws -> Graph

  /// The architecture for `input` (default: `defaultInput`).
  public func graph(input: [Int]? = nil) throws -> Graph {
    try build(input ?? defaultInput)
  }
}

/// The classic CNNs, built with the public builder API. Each returns the architecture as a
/// `Graph`; `Model(graph:seed:)` gives it weights.
public enum Zoo {
  public static let entries: [ZooEntry] = [
    ZooEntry(
      name: "lenet5", summary: "LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, 32×32 greyscale, 10 classes",
      defaultInput: [1, 1, 32, 32], build: { try lenet5(input: $0) }),
    ZooEntry(
      name: "conv64_56", summary: "one 3×3 convolution, 64→64 channels on 56×56 (the peers' ResNet-stage benchmark anchor)",
      defaultInput: [1, 64, 56, 56], build: { try conv64(input: $0) }),
  ]

  /// The entry called `name`, or an error listing the names there are.
  public static func entry(named name: String) throws -> ZooEntry {
    guard let entry = entries.first(where: { $0.name == name }) else {
      throw KilnError.invalidArgument(
        "no model \(name) in the zoo (there are: \(entries.map(\.name).joined(separator: ", "))) and no such model file")
    }
    return entry
  }

  /// A single 3×3 convolution with 64 filters, padding 1 and bias — the size of ResNet's first
  /// stage, the anchor ../shared/peers benchmarks ONNX Runtime and PyTorch on.
  public static func conv64(input: [Int] = [1, 64, 56, 56]) throws -> Graph {
    try Graph(name: "conv64_56", input: input) { Conv2D(64, kernel: 3, padding: 1, name: "conv") }
  }

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
}
