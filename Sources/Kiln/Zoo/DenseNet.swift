extension Zoo {
  /// DenseNet-121 (Huang et al. 2017) in torchvision's layout and names: growth rate 32, blocks of
  /// 6/12/24/16 layers (BN → ReLU → 1×1 conv to 128 → BN → ReLU → 3×3 conv to 32, concatenated onto
  /// the block's features), transitions halving channels and size; 7,978,856 parameters,
  /// 2.83 G multiply-adds at 224×224.
  public static func densenet121(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    let growth = 32
    func denseLayer(_ index: Int) -> Block {
      Block(name: "denselayer\(index)") { x in
        let y = try x.apply(BatchNorm(name: "norm1")).relu()
          .apply(Conv2D(4 * growth, kernel: 1, bias: false, name: "conv1"))
          .apply(BatchNorm(name: "norm2")).relu()
          .apply(Conv2D(growth, kernel: 3, padding: 1, bias: false, name: "conv2"))
        return try Symbol.concat([x, y], axis: 1)
      }
    }
    func transition(_ index: Int) -> Block {
      Block(name: "transition\(index)") { x in
        try x.apply(BatchNorm(name: "norm")).relu()
          .apply(Conv2D(x.shape[1] / 2, kernel: 1, bias: false, name: "conv"))
          .apply(AvgPool2D(2, name: "pool"))
      }
    }
    let blocks = [6, 12, 24, 16]
    return try Graph(name: "densenet121", input: input) {
      Sequential(name: "features") {
        ConvBN(64, kernel: 7, stride: 2, padding: 3, name: nil, convName: "conv0", bnName: "norm0")
        MaxPool2D(3, stride: 2, padding: 1, name: "pool0")
        for (index, layers) in blocks.enumerated() {
          Sequential(name: "denseblock\(index + 1)") { for layer in 1...layers { denseLayer(layer) } }
          if index < blocks.count - 1 { transition(index + 1) }
        }
        BatchNorm(name: "norm5")
      }
      Activation(.relu)
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Dense(classes, name: "classifier")
    }
  }
}
