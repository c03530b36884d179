import Kiln

/// ONNX Resize (opsets 10 on) and Upsample (before) as Kiln's resize of the spatial axes.
extension ONNXGraphImporter {
  mutating func resize(_ opType: String, _ a: ONNXAttributes, out: String, inputs: [String]) throws {
    let x = try value(inputs[0])
    let original = shape(x)
    let rank = original.count
    let legacy = opType == "Upsample" || opset < 11
    let modes: [String: ResizeMode] = ["nearest": .nearest, "linear": .linear, "bilinear": .linear]
    let modeName = a.string("mode", default: "nearest")
    guard let mode = modes[modeName] else { throw KilnError.invalidArgument("\(opType) mode \(modeName) is not supported (nearest and linear are)") }
    guard a.int("antialias", default: 0) == 0 else { throw KilnError.invalidArgument("antialiased resizing is not supported") }
    let policy = a.string("keep_aspect_ratio_policy", default: "stretch")
    guard policy == "stretch" else { throw KilnError.invalidArgument("keep_aspect_ratio_policy \(policy) is not supported (stretch is)") }
    let coordinateName = legacy ? "asymmetric" : a.string("coordinate_transformation_mode", default: "half_pixel")
    guard let coordinates = ResizeCoordinates(rawValue: coordinateName) else {
      throw KilnError.invalidArgument("coordinate_transformation_mode \(coordinateName) is not supported (half_pixel, pytorch_half_pixel, align_corners and asymmetric are)")
    }
    let roundingName = legacy ? "floor" : a.string("nearest_mode", default: "round_prefer_floor")
    guard let rounding = NearestRounding(rawValue: roundingName) else { throw KilnError.invalidArgument("nearest_mode \(roundingName) is not supported") }
    let axes = try (a.ints("axes") ?? Array(0..<rank)).map { try normalized($0, rank: rank) }

    // Per axis of the input: the output size, and the scale when given as one.
    var sizes = original
    var factors = original.map { _ in 1.0 }
    var scales: [Double]? = nil
    let scalesInput = legacy ? Self.optional(inputs, 1) : Self.optional(inputs, 2)
    if !legacy, let name = Self.optional(inputs, 3) {
      let given = try constant(name).scalars.map { try settingInt($0) }
      guard given.count == axes.count else { throw KilnError.invalidArgument("sizes has \(given.count) entries for \(axes.count) axes") }
      for (axis, size) in zip(axes, given) { sizes[axis] = size }
    } else if let given = try scalesInput.map({ try constant($0).scalars }) ?? a.floats("scales") {
      guard given.count == axes.count, given.allSatisfy({ $0 > 0 }) else {
        throw KilnError.invalidArgument("scales \(given) must be positive, one per axis of \(axes.count)")
      }
      for (axis, factor) in zip(axes, given) {
        factors[axis] = Double(factor)
        sizes[axis] = Int((Double(original[axis]) * Double(factor)).rounded(.down))
      }
      scales = Array(factors.dropFirst(2))
    } else {
      throw KilnError.invalidArgument("\(opType) needs scales or sizes")
    }
    guard rank >= 3, sizes.prefix(2) == original.prefix(2), factors.prefix(2).allSatisfy({ $0 == 1 }) else {
      throw KilnError.invalidArgument("only the spatial axes of [N, C, *spatial] can be resized; sizes \(sizes) from \(original)")
    }
    let spatial = Array(sizes.dropFirst(2))
    if spatial == Array(original.dropFirst(2)) && (scales ?? []).allSatisfy({ $0 == 1 }) {
      define(out, x)
      return
    }
    let attrs = ResizeAttrs(size: spatial, mode: mode, coordinates: coordinates, rounding: rounding, scales: scales)
    define(out, try append(out, .resize(attrs), [x]))
  }
}
