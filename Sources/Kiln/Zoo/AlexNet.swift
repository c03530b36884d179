extension Zoo {
  /// AlexNet in torchvision's single-GPU layout (Krizhevsky 2014's "one weird trick" variant):
  /// 61,100,840 parameters, 0.71 G multiply-adds at 224×224. Layer names are torchvision's
  /// (`features.0`, `classifier.6`), so its weights load directly.
  public static func alexnet(input: [Int] = [1, 3, 224, 224], classes: Int = 1000) throws -> Graph {
    try Graph(name: "alexnet", input: input) {
      Sequential(name: "features") {
        Conv2D(64, kernel: 11, stride: 4, padding: 2, activation: .relu, name: "0")
        MaxPool2D(3, stride: 2, name: "2")
        Conv2D(192, kernel: 5, padding: 2, activation: .relu, name: "3")
        MaxPool2D(3, stride: 2, name: "5")
        Conv2D(384, kernel: 3, padding: 1, activation: .relu, name: "6")
        Conv2D(256, kernel: 3, padding: 1, activation: .relu, name: "8")
        Conv2D(256, kernel: 3, padding: 1, activation: .relu, name: "10")
        MaxPool2D(3, stride: 2, name: "12")
      }
      AdaptiveAvgPool2D(6, name: "avgpool")
      Flatten(name: "flatten")
      fullyConnectedHead(classes)
    }
  }

  /// The response normalisation of Krizhevsky et al. 2012 (size 5, α = 10⁻⁴, β = 0.75, k = 2),
  /// which ZFNet and VGG's A-LRN reuse.
  static func krizhevskyLRN(name: String) -> LocalResponseNorm {
    LocalResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 2, name: name)
  }

  /// AlexNet as Krizhevsky et al. 2012 describe it, in one tower (no channel groups), with local
  /// response normalisation after the first two convolutions and 227×227 inputs: 96, 256, 384,
  /// 384, 256 filters, no padding in the first layer, no adaptive pooling; 62,378,344 parameters,
  /// 1.14 G multiply-adds. Names follow torchvision's numbering (`features.0`, `classifier.6`).
  public static func alexnetLRN(input: [Int] = [1, 3, 227, 227], classes: Int = 1000) throws -> Graph {
    try Graph(name: "alexnet_lrn", input: input) {
      Sequential(name: "features") {
        Conv2D(96, kernel: 11, stride: 4, activation: .relu, name: "0")
        krizhevskyLRN(name: "2")
        MaxPool2D(3, stride: 2, name: "3")
        Conv2D(256, kernel: 5, padding: 2, activation: .relu, name: "4")
        krizhevskyLRN(name: "6")
        MaxPool2D(3, stride: 2, name: "7")
        publishedUpperLayers()
      }
      Flatten(name: "flatten")
      fullyConnectedHead(classes)
    }
  }

  /// The 3×3 convolutions (384, 384, 256 filters) and the last pool of the published AlexNet and of
  /// ZFNet, numbered 8–14 in the enclosing `features`.
  static func publishedUpperLayers() -> Sequential {
    Sequential {
      Conv2D(384, kernel: 3, padding: 1, activation: .relu, name: "8")
      Conv2D(384, kernel: 3, padding: 1, activation: .relu, name: "10")
      Conv2D(256, kernel: 3, padding: 1, activation: .relu, name: "12")
      MaxPool2D(3, stride: 2, name: "14")
    }
  }

  /// The 4096–4096–`classes` classifier with dropout that AlexNet, ZFNet and VGG share.
  static func fullyConnectedHead(_ classes: Int) -> Sequential {
    Sequential(name: "classifier") {
      Dropout(0.5, name: "0")
      Dense(4096, activation: .relu, name: "1")
      Dropout(0.5, name: "3")
      Dense(4096, activation: .relu, name: "4")
      Dense(classes, name: "6")
    }
  }
}
