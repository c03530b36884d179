/// A named architecture of the model zoo.
public struct ZooEntry: Sendable {
  /// The name the CLI and `Zoo.entry(named:)` know it by.
  public let name: String
  /// One line on the architecture and its source.
  public let summary: String
  /// The input shape the architecture was published with (batch 1).
  public let defaultInput: [Int]
  /// A smaller input the architecture still accepts, for tests and quick runs of the big models.
  public let smallInput: [Int]
  let build: @Sendable (_ input: [Int]) throws -> Graph

  /// The architecture for `input` (default: `defaultInput`).
  public func graph(input: [Int]? = nil) throws -> Graph {
    try build(input ?? defaultInput)
  }
}

/// The classic CNNs, built with the public builder API. Each returns the architecture as a
/// `Graph`; `Model(graph:seed:)` gives it weights.
public enum Zoo {
  static let imageNet = [1, 3, 224, 224]
  static let cifar = [1, 3, 32, 32]

  /// Every architecture, in the order `kiln zoo` lists them.
  public static let entries: [ZooEntry] = [
    ZooEntry(
      name: "lenet5", summary: "LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, 32×32 greyscale, 10 classes",
      defaultInput: [1, 1, 32, 32], smallInput: [1, 1, 32, 32], build: { try lenet5(input: $0) }),
    ZooEntry(
      name: "alexnet", summary: "AlexNet, torchvision's single-GPU layout, 1000 classes",
      defaultInput: imageNet, smallInput: [1, 3, 63, 63], build: { try alexnet(input: $0) }),
    ZooEntry(
      name: "alexnet_lrn", summary: "AlexNet as published (one tower, LRN after conv1 and conv2, 227×227), 1000 classes",
      defaultInput: [1, 3, 227, 227], smallInput: [1, 3, 67, 67], build: { try alexnetLRN(input: $0) }),
    ZooEntry(
      name: "zfnet", summary: "ZFNet (Zeiler & Fergus 2013): 7×7 stride-2 first layer, LRN, 1000 classes",
      defaultInput: imageNet, smallInput: [1, 3, 63, 63], build: { try zfnet(input: $0) }),
    ZooEntry(
      name: "vgg11", summary: "VGG-11 (configuration A), torchvision layout, 1000 classes",
      defaultInput: imageNet, smallInput: cifar, build: { try vgg(.vgg11, input: $0) }),
    ZooEntry(
      name: "vgg11_lrn", summary: "VGG-11 A-LRN: configuration A with local response normalisation after the first layer",
      defaultInput: imageNet, smallInput: cifar, build: { try vgg(.vgg11LRN, input: $0) }),
    ZooEntry(
      name: "vgg16", summary: "VGG-16 (configuration D), torchvision layout, 1000 classes",
      defaultInput: imageNet, smallInput: cifar, build: { try vgg(.vgg16, input: $0) }),
    ZooEntry(
      name: "vgg11_cifar", summary: "VGG-11 convolutions on 32×32 CIFAR images with one dense layer, 10 classes",
      defaultInput: cifar, smallInput: cifar, build: { try vgg11CIFAR(input: $0) }),
    ZooEntry(
      name: "nin", summary: "Network in Network for CIFAR-10 (mlpconv blocks, global average pooling)",
      defaultInput: cifar, smallInput: cifar, build: { try nin(input: $0) }),
    ZooEntry(
      name: "googlenet", summary: "GoogLeNet / Inception v1 with batch norm, no auxiliary heads (torchvision)",
      defaultInput: imageNet, smallInput: cifar, build: { try googlenet(input: $0) }),
    ZooEntry(
      name: "resnet18", summary: "ResNet-18, basic blocks (torchvision)",
      defaultInput: imageNet, smallInput: cifar, build: { try resnet(.resnet18, input: $0) }),
    ZooEntry(
      name: "resnet34", summary: "ResNet-34, basic blocks (torchvision)",
      defaultInput: imageNet, smallInput: cifar, build: { try resnet(.resnet34, input: $0) }),
    ZooEntry(
      name: "resnet50", summary: "ResNet-50, bottleneck blocks, stride in the 3×3 (torchvision v1.5)",
      defaultInput: imageNet, smallInput: cifar, build: { try resnet(.resnet50, input: $0) }),
    ZooEntry(
      name: "resnext50_32x4d", summary: "ResNeXt-50 32×4d: ResNet-50 with 32-group 3×3 convolutions (torchvision)",
      defaultInput: imageNet, smallInput: cifar, build: { try resnet(.resnet50, groups: 32, widthPerGroup: 4, input: $0) }),
    ZooEntry(
      name: "se_resnet18", summary: "ResNet-18 with squeeze-and-excitation (reduction 16) in every block",
      defaultInput: imageNet, smallInput: cifar, build: { try resnet(.resnet18, squeezeExcitation: true, input: $0) }),
    ZooEntry(
      name: "densenet121", summary: "DenseNet-121, growth rate 32 (torchvision)",
      defaultInput: imageNet, smallInput: cifar, build: { try densenet121(input: $0) }),
    ZooEntry(
      name: "mobilenet_v1", summary: "MobileNet v1, width 1.0, depthwise-separable blocks",
      defaultInput: imageNet, smallInput: cifar, build: { try mobilenetV1(input: $0) }),
    ZooEntry(
      name: "mobilenet_v2", summary: "MobileNet v2, inverted residuals with ReLU6 (torchvision)",
      defaultInput: imageNet, smallInput: cifar, build: { try mobilenetV2(input: $0) }),
    ZooEntry(
      name: "shufflenet_v1", summary: "ShuffleNet v1, 3 groups, width 1.0 (Megvii's layout)",
      defaultInput: imageNet, smallInput: cifar, build: { try shufflenetV1(input: $0) }),
    ZooEntry(
      name: "textcnn", summary: "Kim's text CNN: embedding, 1D convolutions of widths 3/4/5, max over time; input: token ids",
      defaultInput: [1, 64], smallInput: [2, 16], build: { try textCNN(length: $0[1], batch: $0[0]) }),
    ZooEntry(
      name: "c3d_small", summary: "a small C3D: four 3D convolutions over 16-frame 112×112 clips",
      defaultInput: [1, 3, 16, 112, 112], smallInput: [1, 3, 8, 32, 32], build: { try c3dSmall(input: $0) }),
    ZooEntry(
      name: "conv64_56", summary: "one 3×3 convolution, 64→64 channels on 56×56 (the peers' ResNet-stage benchmark anchor)",
      defaultInput: [1, 64, 56, 56], smallInput: [1, 64, 12, 12], build: { try conv64(input: $0) }),
  ]

  /// The entry called `name`, or an error listing the names there are.
  public static func entry(named name: String) throws -> ZooEntry {
    guard let entry = entries.first(where: { $0.name == name }) else {
      throw KilnError.invalidArgument(
        "no model \(name) in the zoo (there are: \(entries.map(\.name).joined(separator: ", "))) and no such model file")
    }
    return entry
  }
}
