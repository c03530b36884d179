/// How a resize finds its values: the nearest input element, or interpolation between the two
/// nearest along each spatial axis (bilinear in 2D).
public enum ResizeMode: String, Codable, Hashable, Sendable {
  /// The nearest input element.
  case nearest
  /// Linear interpolation between the two nearest elements along each axis.
  case linear
}

/// Where an output coordinate falls in the input (ONNX's `coordinate_transformation_mode`), with
/// `scale` = output size / input size unless given.
public enum ResizeCoordinates: String, Codable, Hashable, Sendable {
  /// (x + ½)/scale − ½: pixel centres align (PyTorch's `align_corners=False`).
  case halfPixel = "half_pixel"
  /// As half-pixel, but 0 where the output has one element.
  case pytorchHalfPixel = "pytorch_half_pixel"
  /// x·(in − 1)/(out − 1): corner pixels align (`align_corners=True`).
  case alignCorners = "align_corners"
  /// x/scale (PyTorch's nearest upsampling).
  case asymmetric
}

/// How `nearest` rounds a fractional input coordinate.
public enum NearestRounding: String, Codable, Hashable, Sendable {
  /// To the nearest integer, halves down.
  case roundPreferFloor = "round_prefer_floor"
  /// To the nearest integer, halves up.
  case roundPreferCeil = "round_prefer_ceil"
  /// Down.
  case floor
  /// Up.
  case ceil
}

/// Resizes the spatial axes of `[N, C, *spatial]` to `size` (upsampling in segmentation heads,
/// U-Net decoders). Coordinates outside the input take the edge values, as in ONNX and PyTorch.
public struct ResizeAttrs: OpAttributes {
  /// The output's spatial sizes.
  public var size: [Int]
  /// Nearest or linear.
  public var mode: ResizeMode
  /// Where an output coordinate falls in the input.
  public var coordinates: ResizeCoordinates
  /// How `nearest` rounds.
  public var rounding: NearestRounding
  /// Output/input per spatial axis, when it is not the sizes' ratio (ONNX `scales` that the
  /// output size rounds down from); nil: the sizes' ratio.
  public var scales: [Double]?

  /// A resize to `size` with these rules.
  public init(
    size: [Int], mode: ResizeMode, coordinates: ResizeCoordinates = .halfPixel, rounding: NearestRounding = .roundPreferFloor,
    scales: [Double]? = nil
  ) {
    self.size = size
    self.mode = mode
    self.coordinates = coordinates
    self.rounding = rounding
    self.scales = scales
  }

  public func outputType(_ inputs: [TensorType]) throws -> TensorType {
    try requireInputs(inputs, 1...1)
    let x = inputs[0]
    try requireFloat(x, "input")
    try require((3...5).contains(x.rank), "input must be [N, C, *spatial] with 1 to 3 spatial axes, got \(x)")
    try require(size.count == x.rank - 2, "size \(formatList(size)) needs one entry per spatial axis of \(x)")
    try require(size.allSatisfy { $0 >= 1 }, "size \(formatList(size)) must be positive")
    if let scales { try require(scales.count == size.count && scales.allSatisfy { $0 > 0 }, "scales \(scales) must be positive, one per spatial axis") }
    return TensorType(Array(x.shape.prefix(2)) + size)
  }

  public func flops(_ inputs: [TensorType], output: TensorType) -> Int {
    mode == .nearest ? output.elementCount : output.elementCount * 2 << size.count
  }

  public var attributeText: [String] {
    ["size=\(formatList(size))", mode.rawValue, coordinates.rawValue] + (mode == .nearest ? [rounding.rawValue] : [])
      + (scales.map { ["scales=\($0.map { String($0) }.joined(separator: ","))"] } ?? [])
  }

  /// One input element an output element reads, and its weight.
  public struct Tap: Hashable, Sendable {
    /// The index of the input element along the axis.
    public var index: Int
    /// The element's weight in the output.
    public var weight: Double
  }

  /// For spatial axis `axis` of an input `inputSize` long: the taps of each output position (one
  /// for nearest, two for linear), indices inside the input. The interpreter and the compiled
  /// kernel both read these.
  public func taps(axis: Int, inputSize: Int) -> [[Tap]] {
    let output = size[axis]
    let scale = scales?[axis] ?? Double(output) / Double(inputSize)
    func clamped(_ i: Int) -> Int { min(max(i, 0), inputSize - 1) }
    return (0..<output).map { x in
      let position: Double = switch coordinates {
      case .halfPixel: (Double(x) + 0.5) / scale - 0.5
      case .pytorchHalfPixel: output > 1 ? (Double(x) + 0.5) / scale - 0.5 : 0
      // With a given scale ONNX stretches to the unrounded length in·scale.
      case .alignCorners: output > 1 ? Double(x) * Double(inputSize - 1) / (Double(inputSize) * scale - 1) : 0
      case .asymmetric: Double(x) / scale
      }
      switch mode {
      case .nearest:
        let fraction = position - position.rounded(.down)
        let rounded: Double = switch rounding {
        case .roundPreferFloor: fraction == 0.5 ? position.rounded(.down) : position.rounded()
        case .roundPreferCeil: fraction == 0.5 ? position.rounded(.up) : position.rounded()
        case .floor: position.rounded(.down)
        case .ceil: position.rounded(.up)
        }
        return [Tap(index: clamped(Int(rounded)), weight: 1)]
      case .linear:
        let clampedPosition = min(max(position, 0), Double(inputSize - 1))
        let low = Int(clampedPosition.rounded(.down))
        let fraction = clampedPosition - Double(low)
        return [Tap(index: low, weight: 1 - fraction), Tap(index: clamped(low + 1), weight: fraction)]
      }
    }
  }
}
