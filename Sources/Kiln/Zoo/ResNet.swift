extension Zoo {
  /// ResNet depths of He et al. 2016 (torchvision's v1.5: a bottleneck strides in its 3×3).
  public enum ResNetDepth: Int, Sendable {
    /// Basic blocks [2, 2, 2, 2].
    case resnet18 = 18
    /// Basic blocks [3, 4, 6, 3].
    case resnet34 = 34
    /// Bottleneck blocks [3, 4, 6, 3].
    case resnet50 = 50

    var blocks: [Int] {
      switch self {
      case .resnet18: return [2, 2, 2, 2]
      case .resnet34, .resnet50: return [3, 4, 6, 3]
      }
    }

    var bottleneck: Bool { self == .resnet50 }
  }

  /// The shortcut of a block: the input, or a strided 1×1 projection + batch norm (`downsample`)
  /// when the shape changes.
  static func shortcut(_ x: Symbol, channels: Int, stride: Int) throws -> Symbol {
    guard stride != 1 || x.shape[1] != channels else { return x }
    return try x.apply(ConvBN(channels, kernel: 1, stride: stride, activation: nil, name: "downsample", convName: "0", bnName: "1"))
  }

  /// conv 3×3 → BN → ReLU → conv 3×3 → BN (→ `excite`) + shortcut → ReLU.
  static func basicBlock(_ channels: Int, stride: Int, squeezeExcitation: Bool, name: String) -> Block {
    Block(name: name) { x in
      var y = try x.apply(ConvBN(channels, kernel: 3, stride: stride, padding: 1, name: nil, convName: "conv1", bnName: "bn1"))
      y = try y.apply(ConvBN(channels, kernel: 3, padding: 1, activation: nil, name: nil, convName: "conv2", bnName: "bn2"))
      if squeezeExcitation { y = try y.apply(squeezeExcite(reduction: 16, name: "se")) }
      return try (y + shortcut(x, channels: channels, stride: stride)).relu()
    }
  }

  /// 1×1 (width) → 3×3 (width, strided, in `groups`) → 1×1 (4·planes), each with BN, + shortcut →
  /// ReLU; width is `planes` for ResNet, planes·widthPerGroup/64·groups for ResNeXt.
  static func bottleneckBlock(_ planes: Int, stride: Int, groups: Int, widthPerGroup: Int, name: String) -> Block {
    let width = planes * widthPerGroup / 64 * groups
    return Block(name: name) { x in
      var y = try x.apply(ConvBN(width, kernel: 1, name: nil, convName: "conv1", bnName: "bn1"))
      y = try y.apply(ConvBN(width, kernel: 3, stride: stride, padding: 1, groups: groups, name: nil, convName: "conv2", bnName: "bn2"))
      y = try y.apply(ConvBN(4 * planes, kernel: 1, activation: nil, name: nil, convName: "conv3", bnName: "bn3"))
      return try (y + shortcut(x, channels: 4 * planes, stride: stride)).relu()
    }
  }

  /// Squeeze-and-excitation (Hu et al. 2018): global average → dense C/`reduction` + ReLU → dense
  /// C + sigmoid → channel weights that scale the input.
  public static func squeezeExcite(reduction: Int, name: String) -> Block {
    Block(name: name) { x in
      let channels = x.shape[1]
      let weights = try x.globalAvgPool().flattened()
        .apply(Dense(max(1, channels / reduction), activation: .relu, name: "fc1"))
        .apply(Dense(channels, activation: .sigmoid, name: "fc2"))
        .reshaped([x.shape[0], channels] + Array(repeating: 1, count: x.rank - 2))
      return try x * weights
    }
  }

  /// ResNet-18/34/50 in torchvision's layout and names (`layer1.0.conv1.weight`, `fc.bias`), so its
  /// weights load directly: 11,689,512 / 21,797,672 / 25,557,032 parameters; 1.81 / 3.66 / 4.09 G
  /// multiply-adds at 224×224. `squeezeExcitation` adds an SE block (reduction 16) to every basic
  /// block before the residual sum (SE-ResNet-18). `groups` and `widthPerGroup` make the
  /// bottleneck's 3×3 a grouped convolution (ResNeXt, Xie et al. 2017): `.resnet50` with 32 groups
  /// of width 4 is torchvision's ResNeXt-50 32×4d, 25,028,904 parameters, 4.23 G multiply-adds.
  public static func resnet(
    _ depth: ResNetDepth, squeezeExcitation: Bool = false, groups: Int = 1, widthPerGroup: Int = 64, input: [Int] = [1, 3, 224, 224],
    classes: Int = 1000
  ) throws -> Graph {
    let name = groups > 1 ? "resnext\(depth.rawValue)_\(groups)x\(widthPerGroup)d" : (squeezeExcitation ? "se_" : "") + "\(depth)"
    return try Graph(name: name, input: input) {
      ConvBN(64, kernel: 7, stride: 2, padding: 3, name: nil, convName: "conv1", bnName: "bn1")
      MaxPool2D(3, stride: 2, padding: 1, name: "maxpool")
      for (stage, (count, width)) in zip(depth.blocks, [64, 128, 256, 512]).enumerated() {
        Sequential(name: "layer\(stage + 1)") {
          for index in 0..<count {
            let stride = stage > 0 && index == 0 ? 2 : 1
            if depth.bottleneck {
              bottleneckBlock(width, stride: stride, groups: groups, widthPerGroup: widthPerGroup, name: "\(index)")
            } else {
              basicBlock(width, stride: stride, squeezeExcitation: squeezeExcitation, name: "\(index)")
            }
          }
        }
      }
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Dense(classes, name: "fc")
    }
  }
}
