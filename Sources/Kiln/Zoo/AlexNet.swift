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
      Sequential(name: "classifier") {
        Dropout(0.5, name: "0")
        Dense(4096, activation: .relu, name: "1")
        Dropout(0.5, name: "3")
        Dense(4096, activation: .relu, name: "4")
        Dense(classes, name: "6")
      }
    }
  }
}
