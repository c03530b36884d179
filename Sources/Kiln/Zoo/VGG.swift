extension Zoo {
  /// VGG's configurations (Simonyan & Zisserman 2015): output channels of the 3×3 convolutions,
  /// `nil` for a 2×2 max pool.
  public enum VGGConfiguration: Sendable {
    /// 11 weight layers (configuration A).
    case vgg11
    /// 16 weight layers (configuration D).
    case vgg16
    /// Configuration A with local response normalisation after the first convolution (A-LRN).
    case vgg11LRN

    var layers: [Int?] {
      switch self {
      case .vgg11, .vgg11LRN: return [64, nil, 128, nil, 256, 256, nil, 512, 512, nil, 512, 512, nil]
      case .vgg16: return [64, 64, nil, 128, 128, nil, 256, 256, 256, nil, 512, 512, 512, nil, 512, 512, 512, nil]
      }
    }

    /// The model's name: `vgg11`, `vgg16`, `vgg11_lrn`.
    var name: String { self == .vgg11LRN ? "vgg11_lrn" : "\(self)" }
  }

  /// The convolutional part of VGG: 3×3 convolutions with padding 1, bias and ReLU, 2×2 max pools;
  /// torchvision's layer numbering (every conv, ReLU, pool and normalisation counts).
  static func vggFeatures(_ configuration: VGGConfiguration) -> Sequential {
    var index = 0
    var layers: [any Layer] = []
    for channels in configuration.layers {
      if let channels {
        layers.append(Conv2D(channels, kernel: 3, padding: 1, activation: .relu, name: "\(index)"))
        index += 2
        if configuration == .vgg11LRN && index == 2 {
          layers.append(krizhevskyLRN(name: "\(index)"))
          index += 1
        }
      } else {
        layers.append(MaxPool2D(2, name: "\(index)"))
        index += 1
      }
    }
    return Sequential(name: "features") { for layer in layers { layer } }
  }

  /// VGG-11 or VGG-16 as in torchvision (no batch norm, 7×7 adaptive pool, two 4096-unit dropout
  /// layers): 132,863,336 / 138,357,544 parameters; VGG-16 15.5 G multiply-adds at 224×224.
  /// VGG-11 A-LRN has VGG-11's parameters (the normalisation learns none), AlexNet's LRN settings.
  public static func vgg(_ configuration: VGGConfiguration, input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    try Graph(name: configuration.name, input: input) {
      vggFeatures(configuration)
      AdaptiveAvgPool2D(7, name: "avgpool")
      Flatten(name: "flatten")
      Sequential(name: "classifier") {
        Dense(4096, activation: .relu, name: "0")
        Dropout(0.5, name: "2")
        Dense(4096, activation: .relu, name: "3")
        Dropout(0.5, name: "5")
        Dense(classes, name: "6")
      }
    }
  }

  /// VGG-11 for 32×32 CIFAR images: the configuration-A convolutions, five pools down to 512×1×1,
  /// one dense layer — the variant ../shared/peers benchmarks.
  public static func vgg11CIFAR(input: [Int] = [1, 3, 32, 32], classes: Int = 10) throws -> Graph {
    try Graph(name: "vgg11_cifar", input: input) {
      vggFeatures(.vgg11)
      Flatten(name: "flatten")
      Dense(classes, name: "fc")
    }
  }
}
