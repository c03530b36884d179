import Foundation
import Testing

@testable import Kiln

@Suite struct ZooTests {
  /// Trainable parameters at the published input size: the published figures (torchvision's,
  /// Keras' for MobileNet v1), or derived below where there is no reference.
  static let parameterCounts: [(String, Int)] = [
    ("lenet5", 61_706), ("alexnet", 61_100_840), ("vgg11", 132_863_336), ("vgg16", 138_357_544),
    ("googlenet", 6_624_904), ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032),
    ("densenet121", 7_978_856), ("mobilenet_v1", 4_231_976), ("mobilenet_v2", 3_504_872),
    ("nin", ZooTests.ninParameters), ("se_resnet18", ZooTests.seResNet18Parameters),
    ("shufflenet_v1", ZooTests.shuffleNetParameters), ("textcnn", ZooTests.textCNNParameters),
    ("c3d_small", ZooTests.c3dParameters), ("vgg11_cifar", ZooTests.vgg11CIFARParameters),
    ("resnext50_32x4d", 25_028_904), ("vgg11_lrn", 132_863_336), ("zfnet", ZooTests.zfnetParameters),
    ("alexnet_lrn", ZooTests.alexnetLRNParameters),
  ]

  /// Weights and biases of a dense layer.
  static func dense(_ inputs: Int, _ outputs: Int) -> Int { inputs * outputs + outputs }

  /// The layers ZFNet and the published AlexNet share after their first convolution: 96 → 256
  /// (5×5) → 384 → 384 → 256 (3×3), then 256·6·6 → 4096 → 4096 → 1000.
  static let alexnetBody = conv(96, 256, 25) + conv(256, 384, 9) + conv(384, 384, 9) + conv(384, 256, 9)
    + dense(256 * 36, 4096) + dense(4096, 4096) + dense(4096, 1000)
  /// ZFNet's first layer is 96 filters of 7×7; the published AlexNet's 96 of 11×11.
  static let zfnetParameters = conv(3, 96, 49) + alexnetBody
  static let alexnetLRNParameters = conv(3, 96, 121) + alexnetBody

  static func conv(_ inChannels: Int, _ outChannels: Int, _ kernel: Int, groups: Int = 1, bias: Bool = true) -> Int {
    inChannels / groups * outChannels * kernel + (bias ? outChannels : 0)
  }

  /// mlpconv blocks 5×5 192 → 160 → 96, 5×5 192 → 192 → 192, 3×3 192 → 192 → 10, all with bias.
  static let ninParameters =
    conv(3, 192, 25) + conv(192, 160, 1) + conv(160, 96, 1) + conv(96, 192, 25) + 2 * conv(192, 192, 1)
    + conv(192, 192, 9) + conv(192, 192, 1) + conv(192, 10, 1)

  /// ResNet-18 plus, in each of the two blocks per width C, dense C → C/16 and C/16 → C with bias.
  static let seResNet18Parameters = 11_689_512 + [64, 128, 256, 512].map { c in 2 * (c * (c / 16) + c / 16 + (c / 16) * c + c) }.reduce(0, +)

  /// Megvii's ShuffleNet v1 (g = 3): stem 3×3 conv 24 + BN; per unit a grouped 1×1 to out/4 + BN,
  /// depthwise 3×3 + BN, grouped 1×1 to out (minus the input channels when strided) + BN; a dense
  /// 960 → 1000 without bias. BN has 2 trainable scalars per channel.
  static let shuffleNetParameters: Int = {
    var total = conv(3, 24, 9, bias: false) + 2 * 24
    var inChannels = 24
    for (units, out) in zip([4, 8, 4], [240, 480, 960]) {
      for unit in 0..<units {
        let mid = out / 4
        let mainOut = unit == 0 ? out - inChannels : out
        total += conv(inChannels, mid, 1, groups: inChannels == 24 ? 1 : 3, bias: false) + 2 * mid
        total += conv(mid, mid, 9, groups: mid, bias: false) + 2 * mid
        total += conv(mid, mainOut, 1, groups: 3, bias: false) + 2 * mainOut
        inChannels = out
      }
    }
    return total + 960 * 1000
  }()

  /// Embedding 10,000 × 128; 100 filters of widths 3, 4, 5 over 128 channels; dense 300 → 2.
  static let textCNNParameters = 10_000 * 128 + [3, 4, 5].map { conv(128, 100, $0) }.reduce(0, +) + 300 * 2 + 2

  /// 3×3×3 convolutions 3 → 16 → 32 → 64 → 128, dense 128 → 10.
  static let c3dParameters = conv(3, 16, 27) + conv(16, 32, 27) + conv(32, 64, 27) + conv(64, 128, 27) + 128 * 10 + 10

  /// VGG-11's convolutions (3×3, bias), dense 512 → 10.
  static let vgg11CIFARParameters = zip([3, 64, 128, 256, 256, 512, 512, 512], [64, 128, 256, 256, 512, 512, 512, 512])
    .map { conv($0, $1, 9) }.reduce(0, +) + 512 * 10 + 10

  @Test(arguments: parameterCounts)
  func parameterCount(name: String, expected: Int) throws {
    let summary = Summary(try Zoo.entry(named: name).graph())
    #expect(summary.trainableParameters == expected, "\(name)")
  }

  @Test func everyEntryHasAParameterCountTest() {
    #expect(Set(Zoo.entries.map(\.name)).subtracting(Self.parameterCounts.map(\.0)) == ["conv64_56"])
  }

  /// Published multiply-adds at 224×224 (convolutions and dense layers), within 1% (2% for
  /// ShuffleNet, whose paper rounds to 140 M).
  @Test(arguments: [
    ("alexnet", 0.71e9, 0.01), ("vgg16", 15.5e9, 0.01), ("resnet18", 1.81e9, 0.01), ("resnet50", 4.09e9, 0.01),
    ("googlenet", 1.5e9, 0.01), ("densenet121", 2.83e9, 0.01), ("mobilenet_v1", 569e6, 0.01), ("mobilenet_v2", 300e6, 0.01),
    ("shufflenet_v1", 140e6, 0.02), ("resnext50_32x4d", 4.23e9, 0.01),
  ])
  func multiplyAdds(name: String, published: Double, tolerance: Double) throws {
    let macs = Double(Summary(try Zoo.entry(named: name).graph()).multiplyAdds)
    #expect(abs(macs - published) / published < tolerance, "\(name): \(macs)")
  }

  /// Every model runs forward at its small input: the right output shape, finite, not constant.
  @Test(arguments: Zoo.entries.map(\.name))
  func forwardPass(name: String) throws {
    let entry = try Zoo.entry(named: name)
    let model = try Model(graph: try entry.graph(input: entry.smallInput), seed: 7)
    let output = try model.run(model.graph.sampleInputs(seed: 1))[0]
    #expect(output.shape[0] == entry.smallInput[0])
    #expect(output.scalars.allSatisfy { $0.isFinite })
    #expect(Set(output.scalars).count > 1, "\(name): constant output \(output.scalars.prefix(4))")
  }

  @Test func torchvisionParameterNames() throws {
    let resnet = Set(try Zoo.resnet(.resnet18).parameterNames())
    for name in ["conv1.weight", "bn1.running_var", "layer1.0.conv2.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "fc.weight"] {
      #expect(resnet.contains(name), "\(name)")
    }
    let mobilenet = Set(try Zoo.mobilenetV2().parameterNames())
    for name in ["features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.1.weight", "features.2.conv.3.running_mean", "features.18.1.bias", "classifier.1.weight"] {
      #expect(mobilenet.contains(name), "\(name)")
    }
    let densenet = Set(try Zoo.densenet121().parameterNames())
    #expect(densenet.isSuperset(of: ["features.denseblock4.denselayer16.conv2.weight", "features.transition3.norm.weight", "features.norm5.bias", "classifier.weight"]))
    #expect(Set(try Zoo.alexnet().parameterNames()).isSuperset(of: ["features.10.weight", "classifier.6.bias"]))
    #expect(Set(try Zoo.vgg(.vgg16).parameterNames()).isSuperset(of: ["features.28.weight", "classifier.3.weight"]))
    #expect(Set(try Zoo.googlenet().parameterNames()).isSuperset(of: ["conv1.conv.weight", "inception4e.branch4.1.bn.weight", "fc.bias"]))
    // ResNeXt-50 32×4d: the first stage's 3×3 is 128 filters in 32 groups of 4 channels.
    let resnext = try Zoo.resnet(.resnet50, groups: 32, widthPerGroup: 4)
    #expect(resnext.index(of: "layer1.0.conv2.weight").map { resnext[$0].type.shape } == [128, 4, 3, 3])
    #expect(resnext.index(of: "layer4.2.conv3.weight").map { resnext[$0].type.shape } == [2048, 1024, 1, 1])
  }

  /// ZFNet's feature maps have the sizes of the paper's Fig. 3, and the published AlexNet's those
  /// of Krizhevsky et al.
  @Test func publishedFeatureMapSizes() throws {
    let zfnet = try Zoo.zfnet()
    for (name, side) in [("features.0", 110), ("features.2", 55), ("features.4", 26), ("features.6", 13), ("features.12", 13), ("features.14", 6)] {
      #expect(zfnet.index(of: name).map { zfnet[$0].type.shape[2] } == side, "\(name)")
    }
    let alexnet = try Zoo.alexnetLRN()
    for (name, side) in [("features.0", 55), ("features.3", 27), ("features.7", 13), ("features.14", 6)] {
      #expect(alexnet.index(of: name).map { alexnet[$0].type.shape[2] } == side, "\(name)")
    }
  }

  @Test func unknownNameListsTheZoo() {
    #expect { try Zoo.entry(named: "resnet19") } throws: { "\($0)".contains("resnet18, resnet34") }
  }

  @Test func adaptiveAveragePoolWindows() throws {
    // 3 → 2 cells: windows [0, 2) and [1, 3) on each axis of 0…8.
    let graph = try Graph(name: "adaptive", input: [1, 1, 3, 3]) { AdaptiveAvgPool2D(2) }
    let y = try Interpreter<Double>(graph).run(["input": iota([1, 1, 3, 3])])[graph.outputs[0]]
    expectClose(y, [1, 1, 2, 2], [2, 3, 5, 6])
    // 1 → 3 repeats; 4 → 2 is a plain 2×2 average pool.
    let up = try Graph(name: "up", input: [1, 2, 1, 1]) { AdaptiveAvgPool2D(3) }
    expectClose(try Interpreter<Double>(up).run(["input": T([1, 2, 1, 1], [4, -1])])[up.outputs[0]], [1, 2, 3, 3], Array(repeating: 4, count: 9) + Array(repeating: -1, count: 9))
    let even = try Graph(name: "even", input: [1, 1, 4, 4]) { AdaptiveAvgPool2D(2) }
    #expect(even.nodes.filter { if case .pool = $0.op { return true } else { return false } }.count == 1)
    expectClose(try Interpreter<Double>(even).run(["input": iota([1, 1, 4, 4])])[even.outputs[0]], [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5])
    let same = try Graph(name: "same", input: [1, 1, 6, 6]) { AdaptiveAvgPool2D(6) }
    #expect(same.nodes.count == 1)
  }

  @Test func adaptiveAveragePoolGradient() throws {
    let graph = try Graph(name: "adaptive", input: [2, 3, 5, 7]) { AdaptiveAvgPool2D([3, 2]) }
    try GradientCheck.check(graph, feeds: ["input": random([2, 3, 5, 7], seed: 4)], targets: ["input"])
  }
}

extension Graph {
  func parameterNames() -> [String] { parameters.map { self[$0].name } }
}
