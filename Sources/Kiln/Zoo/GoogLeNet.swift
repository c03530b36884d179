extension Zoo {
  /// One inception module: 1×1; 1×1 → 3×3; 1×1 → 3×3 (torchvision's choice where the paper has
  /// 5×5); 3×3 max pool → 1×1; concatenated along channels.
  static func inception(_ c1: Int, _ c3Reduce: Int, _ c3: Int, _ c5Reduce: Int, _ c5: Int, _ poolProjection: Int, name: String) -> Block {
    func unit(_ channels: Int, kernel: Int, name: String) -> ConvBN {
      ConvBN(channels, kernel: kernel, padding: kernel / 2, epsilon: 0.001, name: name)
    }
    return Block(name: name) { x in
      let branches = [
        try x.apply(unit(c1, kernel: 1, name: "branch1")),
        try x.apply(Sequential(name: "branch2") { unit(c3Reduce, kernel: 1, name: "0"); unit(c3, kernel: 3, name: "1") }),
        try x.apply(Sequential(name: "branch3") { unit(c5Reduce, kernel: 1, name: "0"); unit(c5, kernel: 3, name: "1") }),
        try x.apply(Sequential(name: "branch4") {
          MaxPool2D(3, stride: 1, padding: 1, ceilMode: true, name: "0")
          unit(poolProjection, kernel: 1, name: "1")
        }),
      ]
      return try Symbol.concat(branches, axis: 1)
    }
  }

  /// GoogLeNet (Inception v1, Szegedy et al. 2015) in torchvision's layout: batch norm after every
  /// convolution, no auxiliary heads; 6,624,904 parameters, 1.5 G multiply-adds at 224×224.
  public static func googlenet(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    try Graph(name: "googlenet", input: input) {
      ConvBN(64, kernel: 7, stride: 2, padding: 3, epsilon: 0.001, name: "conv1")
      MaxPool2D(3, stride: 2, ceilMode: true, name: "maxpool1")
      ConvBN(64, kernel: 1, epsilon: 0.001, name: "conv2")
      ConvBN(192, kernel: 3, padding: 1, epsilon: 0.001, name: "conv3")
      MaxPool2D(3, stride: 2, ceilMode: true, name: "maxpool2")
      inception(64, 96, 128, 16, 32, 32, name: "inception3a")
      inception(128, 128, 192, 32, 96, 64, name: "inception3b")
      MaxPool2D(3, stride: 2, ceilMode: true, name: "maxpool3")
      inception(192, 96, 208, 16, 48, 64, name: "inception4a")
      inception(160, 112, 224, 24, 64, 64, name: "inception4b")
      inception(128, 128, 256, 24, 64, 64, name: "inception4c")
      inception(112, 144, 288, 32, 64, 64, name: "inception4d")
      inception(256, 160, 320, 32, 128, 128, name: "inception4e")
      MaxPool2D(2, stride: 2, ceilMode: true, name: "maxpool4")
      inception(256, 160, 320, 32, 128, 128, name: "inception5a")
      inception(384, 192, 384, 48, 128, 128, name: "inception5b")
      GlobalPool(.average, name: "avgpool")
      Flatten(name: "flatten")
      Dropout(0.2, name: "dropout")
      Dense(classes, name: "fc")
    }
  }
}
