// The classic fixed 3×3 kernels — edge detection, sharpening, box and Gaussian blur — applied to
// a Fashion-MNIST image by Kiln's compiled convolution: one Conv2D whose given weights are the
// kernels, one output channel per kernel. Writes each result as a PNG and one picture with every
// kernel beside its result.
//
//   swift run -c release image-filters --index 0 --out out/image-filters
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct ImageFilters: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "image-filters", abstract: "Edge detection, sharpening and blurs by a compiled convolution, as PNGs.")

  @Option(help: "Which Fashion-MNIST test image.")
  var index = 0
  @Option(help: "Directory for the PNGs.")
  var out = "out/image-filters"

  /// Name and 3×3 weights, row by row.
  static let kernels: [(name: String, weights: [Float])] = [
    ("edges", [-1, -1, -1, -1, 8, -1, -1, -1, -1]),
    ("sharpen", [0, -1, 0, -1, 5, -1, 0, -1, 0]),
    ("box-blur", Array(repeating: 1.0 / 9, count: 9)),
    ("gaussian-blur", [1, 2, 1, 2, 4, 2, 1, 2, 1].map { $0 / 16 }),
  ]

  func run() throws {
    let test = try FashionMNIST.load(.test, limit: index + 1, normalization: .unit)
    let (image, label) = test.batch([index])
    let (height, width) = (image.shape[2], image.shape[3])
    let weight = try Tensor<Float>(shape: [Self.kernels.count, 1, 3, 3], scalars: Self.kernels.flatMap(\.weights))
    // Replicated borders: a blur keeps the edge's brightness, an edge detector sees no false frame.
    let model = try Model(name: "filters", input: image.shape) { Conv2D(weight: weight, padding: 1, paddingMode: .replicate) }
    let filtered = try Compiler().compile(model).run(["input": image])[0]
    let reference = try model.run(["input": image])[0]
    let difference = zip(filtered.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? 0
    print("test image \(index): \(FashionMNIST.classNames[Int(label[0])]), \(width)×\(height)")
    print(String(format: "compiled equals the interpreter within %.1e", difference))

    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let plane = height * width
    let original = RGBImage.map(image.scalars, width: width, height: height, range: 0...1)
    try original.writePNG(to: "\(out)/original.png")
    var rows: [[RGBImage]] = []
    for (channel, kernel) in Self.kernels.enumerated() {
      let result = Array(filtered.scalars[(channel * plane)..<((channel + 1) * plane)])
      // Blurs and sharpening stay images (0…1, clipped); edge responses are signed.
      let isEdge = kernel.name == "edges"
      let extent = max(result.map(abs).max() ?? 1, .leastNormalMagnitude)
      let picture = isEdge
        ? RGBImage.map(result, width: width, height: height, range: -extent...extent, colormap: RGBImage.diverging)
        : RGBImage.map(result, width: width, height: height, range: 0...1)
      try picture.writePNG(to: "\(out)/\(kernel.name).png")
      // The kernel drawn at the image's size: each weight a 9×9 block.
      let kernelExtent = kernel.weights.map(abs).max() ?? 1
      let blocks: [Float] = (0..<(27 * 27)).map { pixel in
        let (row, column) = (pixel / 27 / 9, pixel % 27 / 9)
        return kernel.weights[row * 3 + column]
      }
      rows.append([
        RGBImage.map(blocks, width: 27, height: 27, range: -kernelExtent...kernelExtent, colormap: RGBImage.diverging), original, picture,
      ])
      let rowsText = stride(from: 0, to: 9, by: 3).map { row in kernel.weights[row..<(row + 3)].map { String(format: "%g", $0) }.joined(separator: " ") }
      let mean = result.reduce(0, +) / Float(plane)
      print(String(format: "%@: kernel [%@] → %@/%@.png, mean %.4f (image %.4f), range %.3f…%.3f",
        kernel.name, rowsText.joined(separator: " | "), out, kernel.name, mean, image.scalars.reduce(0, +) / Float(plane),
        result.min() ?? 0, result.max() ?? 0))
    }
    try RGBImage.grid(rows, scale: 6, gap: 6).writePNG(to: "\(out)/image-filters.png")
    print("wrote \(out)/image-filters.png: one row per kernel; the kernel (blue negative, red positive), the image, the result")
  }
}
