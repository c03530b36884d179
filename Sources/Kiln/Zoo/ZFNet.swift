extension Zoo {
  /// ZFNet (Zeiler & Fergus 2013, their Fig. 3): AlexNet with a 7×7 stride-2 first layer and a
  /// stride-2 second one. 224×224 → conv1 96×7×7/2 (padding 1) 110² → max pool 3/2 55² → LRN →
  /// conv2 256×5×5/2 26² → max pool 3/2 13² → LRN → conv3–5 384, 384, 256 ×3×3 13² → max pool 3/2
  /// 6² → 4096 → 4096 → `classes`. The first two pools round up (Caffe's rule) to give the
  /// paper's 55 and 13; the normalisation is AlexNet's (size 5, α = 10⁻⁴, β = 0.75, k = 2).
  /// 62,357,608 parameters, 1.17 G multiply-adds. Names follow AlexNet's torchvision numbering.
  public static func zfnet(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    try Graph(name: "zfnet", input: input) {
      Sequential(name: "features") {
        Conv2D(96, kernel: 7, stride: 2, padding: 1, activation: .relu, name: "0")
        MaxPool2D(3, stride: 2, ceilMode: true, name: "2")
        krizhevskyLRN(name: "3")
        Conv2D(256, kernel: 5, stride: 2, activation: .relu, name: "4")
        MaxPool2D(3, stride: 2, ceilMode: true, name: "6")
        krizhevskyLRN(name: "7")
        publishedUpperLayers()
      }
      Flatten(name: "flatten")
      fullyConnectedHead(classes)
    }
  }
}
