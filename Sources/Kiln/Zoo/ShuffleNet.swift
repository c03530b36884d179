extension Zoo {
  /// ShuffleNet v1 (Zhang et al. 2018) with 3 groups, width 1.0, as Megvii's reference code: stages
  /// of 4/8/4 units with 240/480/960 channels. A unit is a grouped 1×1 convolution to a quarter of
  /// the stage's channels + BN + ReLU, a channel shuffle, a depthwise 3×3 + BN, a grouped 1×1 + BN,
  /// added to the input (stride 1) or concatenated with its 3×3 average pool (stride 2), then ReLU.
  /// The first unit's first 1×1 is not grouped (24 input channels are too few).
  public static func shufflenetV1(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    let groups = 3
    func unit(output: Int, stride: Int, firstInNetwork: Bool, name: String) -> Block {
      Block(name: name) { x in
        let bottleneck = output / 4
        let mainOutput = stride == 2 ? output - x.shape[1] : output
        let y = try x.apply(ConvBN(bottleneck, kernel: 1, groups: firstInNetwork ? 1 : groups, name: "reduce"))
          .channelShuffle(groups: groups)
          .apply(ConvBN.depthwise(stride: stride, activation: nil, name: "depthwise"))
          .apply(ConvBN(mainOutput, kernel: 1, groups: groups, activation: nil, name: "expand"))
        guard stride == 2 else { return try (y + x).relu() }
        return try Symbol.concat([try x.apply(AvgPool2D(3, stride: 2, padding: 1, name: "shortcut")), y], axis: 1).relu()
      }
    }
    return try Graph(name: "shufflenet_v1", input: input) {
      ConvBN(24, kernel: 3, stride: 2, padding: 1, name: "stem")
      MaxPool2D(3, stride: 2, padding: 1, name: "maxpool")
      for (stage, (units, channels)) in zip([4, 8, 4], [240, 480, 960]).enumerated() {
        Sequential(name: "stage\(stage + 2)") {
          for index in 0..<units {
            unit(output: channels, stride: index == 0 ? 2 : 1, firstInNetwork: stage == 0 && index == 0, name: "\(index)")
          }
        }
      }
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Dense(classes, bias: false, name: "classifier")
    }
  }
}
