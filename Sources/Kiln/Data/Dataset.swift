/// Images with integer class labels, held as normalised floats `[count, channels, height, width]`.
public struct Dataset: Sendable {
  /// Per-pixel normalisation: x ↦ (x / 255 − mean) / std.
  public struct Normalization: Sendable, Equatable {
    /// Subtracted from pixels scaled to 0…1.
    public var mean: Float
    /// Divides the centred pixels.
    public var std: Float
    /// A normalisation with this mean and standard deviation.
    public init(mean: Float, std: Float) {
      self.mean = mean
      self.std = std
    }
    /// Pixels scaled to 0…1 only.
    public static let unit = Normalization(mean: 0, std: 1)
  }

  /// Shape of one image, `[channels, height, width]`.
  public let imageShape: [Int]
  /// Every image, normalised, one after another.
  public let pixels: [Float]
  /// Each image's class.
  public let labels: [Int]
  /// The number of classes.
  public let classCount: Int

  /// A data set from images and labels files in IDX format (optionally gzip-compressed).
  /// `limit` keeps the first images; `padding` adds zero borders (28×28 → 32×32 for LeNet-5).
  public init(
    images imagesPath: String, labels labelsPath: String, classCount: Int = 10, limit: Int? = nil,
    padding: Int = 0, normalization: Normalization = .unit
  ) throws {
    let images = try IDXFile(path: imagesPath)
    let labels = try IDXFile(path: labelsPath)
    guard images.dimensions.count == 3 else {
      throw KilnError.file(path: imagesPath, message: "holds a tensor of dimensions \(images.dimensions), not [count, height, width] images")
    }
    guard labels.dimensions.count == 1, labels.dimensions[0] == images.dimensions[0] else {
      throw KilnError.file(path: labelsPath, message: "has labels of dimensions \(labels.dimensions) for \(images.dimensions[0]) images")
    }
    if let bad = labels.bytes.first(where: { Int($0) >= classCount }) {
      throw KilnError.file(path: labelsPath, message: "holds label \(bad), outside 0..<\(classCount)")
    }
    if let limit, limit < 0 { throw KilnError.invalidArgument("a limit of \(limit) images: give 0 or more") }
    let count = min(limit ?? Int.max, images.dimensions[0])
    let (height, width) = (images.dimensions[1], images.dimensions[2])
    let (paddedHeight, paddedWidth) = (height + 2 * padding, width + 2 * padding)
    let background = (0 - normalization.mean) / normalization.std
    var pixels = [Float](repeating: background, count: count * paddedHeight * paddedWidth)
    for image in 0..<count {
      for row in 0..<height {
        for column in 0..<width {
          let value = Float(images.bytes[(image * height + row) * width + column]) / 255
          pixels[(image * paddedHeight + row + padding) * paddedWidth + column + padding] = (value - normalization.mean) / normalization.std
        }
      }
    }
    self.imageShape = [1, paddedHeight, paddedWidth]
    self.pixels = pixels
    self.labels = labels.bytes.prefix(count).map(Int.init)
    self.classCount = classCount
  }

  /// A data set of images held in memory: `images` is every image of `shape`
  /// (`[channels, height, width]`) one after another, `labels[i]` image i's class.
  public init(images: [Float], shape: [Int], labels: [Int], classCount: Int) throws {
    let size = shape.reduce(1, *)
    guard shape.count == 3, size > 0, images.count == size * labels.count else {
      throw KilnError.invalidArgument("\(images.count) pixels are not \(labels.count) images of shape \(shape) ([channels, height, width])")
    }
    if let bad = labels.first(where: { !(0..<classCount).contains($0) }) {
      throw KilnError.invalidArgument("label \(bad) is outside 0..<\(classCount)")
    }
    self.init(imageShape: shape, pixels: images, labels: labels, classCount: classCount)
  }

  private init(imageShape: [Int], pixels: [Float], labels: [Int], classCount: Int) {
    self.imageShape = imageShape
    self.pixels = pixels
    self.labels = labels
    self.classCount = classCount
  }

  /// The number of images.
  public var count: Int { labels.count }

  /// The samples whose label is in `classes`, relabelled by position in `classes`
  /// (`[5, 7]`: class 5 becomes 0, class 7 becomes 1) — a new task from a label split.
  public func selecting(classes: [Int]) -> Dataset {
    let size = imageShape.reduce(1, *)
    var (pixels, labels): ([Float], [Int]) = ([], [])
    for (index, label) in self.labels.enumerated() {
      guard let relabelled = classes.firstIndex(of: label) else { continue }
      pixels.append(contentsOf: self.pixels[(index * size)..<((index + 1) * size)])
      labels.append(relabelled)
    }
    return Dataset(imageShape: imageShape, pixels: pixels, labels: labels, classCount: classes.count)
  }

  /// One-channel images repeated over `channels` channels (grey Fashion-MNIST for a model with
  /// RGB input, such as the CIFAR-sized VGG).
  public func repeatingChannels(_ channels: Int) -> Dataset {
    let plane = imageShape.dropFirst().reduce(1, *)
    guard imageShape.first == 1, channels > 1 else { return self }
    var repeated: [Float] = []
    repeated.reserveCapacity(pixels.count * channels)
    for image in 0..<count {
      let slice = pixels[(image * plane)..<((image + 1) * plane)]
      for _ in 0..<channels { repeated.append(contentsOf: slice) }
    }
    return Dataset(imageShape: [channels] + imageShape.dropFirst(), pixels: repeated, labels: labels, classCount: classCount)
  }

  /// Part `index` of `parts` contiguous, nearly equal parts (the first `count % parts` one sample
  /// longer): one process's share of a test set.
  public func part(_ index: Int, of parts: Int) -> Dataset {
    let range = contiguousPart(index, of: max(parts, 1), in: count)
    let size = imageShape.reduce(1, *)
    return Dataset(
      imageShape: imageShape, pixels: Array(pixels[(range.lowerBound * size)..<(range.upperBound * size)]), labels: Array(labels[range]),
      classCount: classCount)
  }

  /// The images at `indices` as one batch `[indices.count, C, H, W]` with their labels `[n]`.
  public func batch(_ indices: [Int]) -> (images: Tensor<Float>, labels: Tensor<Float>) {
    let size = imageShape.reduce(1, *)
    var scalars: [Float] = []
    scalars.reserveCapacity(indices.count * size)
    for index in indices { scalars.append(contentsOf: pixels[(index * size)..<((index + 1) * size)]) }
    return (Tensor(validShape: [indices.count] + imageShape, scalars: scalars), Tensor(validShape: [indices.count], scalars: indices.map { Float(labels[$0]) }))
  }

  /// The sample indices of one epoch split into batches of `size`, shuffled by `seed` (nil keeps
  /// file order). The last, smaller batch is dropped when `dropLast` is set (static-shape models
  /// need full batches).
  public func batchIndices(size: Int, shuffleSeed seed: UInt64?, dropLast: Bool = true) -> [[Int]] {
    Self.batchIndices(count: count, size: size, shuffleSeed: seed, dropLast: dropLast)
  }

  /// `batchIndices(size:shuffleSeed:dropLast:)` for any `count` samples (data kept outside a
  /// `Dataset`: clips, sentences, masks).
  public static func batchIndices(count: Int, size: Int, shuffleSeed seed: UInt64?, dropLast: Bool = true) -> [[Int]] {
    var order = Array(0..<count)
    if let seed {
      var generator = SplitMix64(seed: seed)
      order.shuffle(using: &generator)
    }
    var batches = stride(from: 0, to: count, by: size).map { Array(order[$0..<min($0 + size, count)]) }
    if dropLast, let last = batches.last, last.count < size { batches.removeLast() }
    return batches
  }
}

/// The Fashion-MNIST data set (Zalando): 28×28 greyscale clothing images in 10 classes, 60,000 for
/// training and 10,000 for testing, as installed by Debian's `dataset-fashion-mnist` package.
public enum FashionMNIST {
  /// Where Debian's `dataset-fashion-mnist` package installs the files.
  public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
  /// The names of the ten classes, by label.
  public static let classNames = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
  ]
  /// Mean and standard deviation of the training pixels scaled to 0…1.
  public static let normalization = Dataset.Normalization(mean: 0.2860, std: 0.3530)

  /// The training or the test images.
  public enum Split: String, Sendable, CaseIterable {
    /// The 60,000 training images.
    case train
    /// The 10,000 test images.
    case test = "t10k"
  }

  /// The images and labels files of `split` in `directory`.
  public static func files(_ split: Split, directory: String = defaultDirectory) -> (images: String, labels: String) {
    ("\(directory)/\(split.rawValue)-images-idx3-ubyte.gz", "\(directory)/\(split.rawValue)-labels-idx1-ubyte.gz")
  }

  /// Loads `split`, normalised with the training statistics (or `normalization`, e.g. `.unit` for
  /// pixels in 0…1).
  public static func load(
    _ split: Split, directory: String = defaultDirectory, limit: Int? = nil, padding: Int = 0,
    normalization: Dataset.Normalization = FashionMNIST.normalization
  ) throws -> Dataset {
    let (images, labels) = files(split, directory: directory)
    return try Dataset(images: images, labels: labels, limit: limit, padding: padding, normalization: normalization)
  }
}
