extension Zoo {
  /// MobileNet v1 (Howard et al. 2017), width 1.0: a strided 3×3 convolution, then 13
  /// depthwise-separable blocks (depthwise 3×3 + BN + ReLU, pointwise 1×1 + BN + ReLU), global
  /// average pooling and a dense classifier; 4,231,976 parameters, 569 M multiply-adds at 224×224.
  public static func mobilenetV1(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    let blocks: [(channels: Int, stride: Int)] = [
      (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
      (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
    ]
    return try Graph(name: "mobilenet_v1", input: input) {
      ConvBN(32, kernel: 3, stride: 2, padding: 1, name: "stem")
      for (index, block) in blocks.enumerated() {
        Sequential(name: "block\(index + 1)") {
          ConvBN.depthwise(stride: block.stride, name: "dw")
          ConvBN(block.channels, kernel: 1, name: "pw")
        }
      }
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Dense(classes, name: "fc")
    }
  }

  /// MobileNet v2 (Sandler et al. 2018) in torchvision's layout and names: inverted residual blocks
  /// (1×1 expansion by t + ReLU6, depthwise 3×3 + ReLU6, linear 1×1 projection, residual sum when
  /// the shape is kept); 3,504,872 parameters, 300 M multiply-adds at 224×224.
  public static func mobilenetV2(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    // expansion t, output channels c, repeats n, first stride s.
    let settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    func invertedResidual(_ expansion: Int, _ channels: Int, stride: Int, index: Int) -> Block {
      Block(name: "\(index)") { x in
        let hidden = x.shape[1] * expansion
        var layers: [any Layer] = []
        if expansion != 1 {
          layers.append(ConvBN(hidden, kernel: 1, activation: .relu6, name: "\(layers.count)", convName: "0", bnName: "1"))
        }
        layers.append(ConvBN.depthwise(stride: stride, activation: .relu6, name: "\(layers.count)", convName: "0", bnName: "1"))
        let project = layers.count
        let y = try x.apply(Sequential(name: "conv") {
          for layer in layers { layer }
          Conv2D(channels, kernel: 1, bias: false, name: "\(project)")
          BatchNorm(name: "\(project + 1)")
        })
        return stride == 1 && x.shape[1] == channels ? try y + x : y
      }
    }
    var blocks: [Block] = []
    for (expansion, channels, repeats, stride) in settings {
      for copy in 0..<repeats {
        blocks.append(invertedResidual(expansion, channels, stride: copy == 0 ? stride : 1, index: blocks.count + 1))
      }
    }
    return try Graph(name: "mobilenet_v2", input: input) {
      Sequential(name: "features") {
        ConvBN(32, kernel: 3, stride: 2, padding: 1, activation: .relu6, name: "0", convName: "0", bnName: "1")
        for block in blocks { block }
        ConvBN(1280, kernel: 1, activation: .relu6, name: "\(blocks.count + 1)", convName: "0", bnName: "1")
      }
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Sequential(name: "classifier") {
        Dropout(0.2, name: "0")
        Dense(classes, name: "1")
      }
    }
  }
}
