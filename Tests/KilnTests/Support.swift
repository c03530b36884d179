import Foundation
import Testing

@testable import Kiln

/// A tensor of doubles, for writing expected values.
func T(_ shape: [Int], _ scalars: [Double]) -> Tensor<Double> { Tensor(validShape: shape, scalars: scalars) }

/// `0, 1, 2, …` in `shape`.
func iota(_ shape: [Int], from start: Double = 0) -> Tensor<Double> {
  T(shape, (0..<shape.reduce(1, *)).map { start + Double($0) })
}

/// Seeded normal values in `shape`.
func random(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
  var generator = SplitMix64(seed: seed)
  return T(shape, (0..<shape.reduce(1, *)).map { _ in generator.nextNormal() })
}

/// A graph with one input per tensor (`in0`, `in1`, …) feeding `op`, whose output is the graph output.
func singleOpGraph(_ op: Op, _ types: [TensorType]) throws -> Graph {
  var graph = Graph(name: "test")
  let inputs = try types.enumerated().map { try graph.append("in\($0.offset)", .input(InputAttrs($0.element))) }
  graph.outputs = [try graph.append("op", op, inputs: inputs)]
  return graph
}

/// Runs `op` on `inputs` in the interpreter in Double, and also in Float, checking that the two
/// agree to Float precision; returns the Double result. `integer` marks inputs that are i32.
func apply(_ op: Op, _ inputs: [Tensor<Double>], integer: Set<Int> = []) throws -> Tensor<Double> {
  let types = inputs.enumerated().map { TensorType($0.element.shape, integer.contains($0.offset) ? .i32 : .f32) }
  let graph = try singleOpGraph(op, types)
  let feeds = Dictionary(uniqueKeysWithValues: inputs.enumerated().map { ("in\($0.offset)", $0.element) })
  let double = try Interpreter<Double>(graph).run(feeds).outputs[0]
  let single = try Interpreter<Float>(graph).run(feeds.mapValues { Tensor<Float>($0) }).outputs[0]
  #expect(single.shape == double.shape)
  let scale = max(1, double.scalars.map(abs).max() ?? 0)
  for (f, d) in zip(single.scalars, double.scalars) {
    #expect(abs(Double(f) - d) <= 1e-5 * scale, "Float \(f) against Double \(d)")
  }
  return double
}

/// Expects `actual` to have `shape` and to equal `expected` within `tolerance` (absolute).
func expectClose(
  _ actual: Tensor<Double>, _ shape: [Int], _ expected: [Double], tolerance: Double = 1e-9,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.shape == shape, sourceLocation: sourceLocation)
  #expect(actual.scalars.count == expected.count, sourceLocation: sourceLocation)
  for (index, (a, e)) in zip(actual.scalars, expected).enumerated() {
    #expect(abs(a - e) <= tolerance, "element \(index): \(a) but expected \(e)", sourceLocation: sourceLocation)
  }
}

/// Expects `body` to throw a `KilnError` whose description contains every one of `fragments`.
func expectError(
  _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
  } catch {
    let text = "\(error)"
    for fragment in fragments {
      #expect(text.contains(fragment), "error '\(text)' lacks '\(fragment)'", sourceLocation: sourceLocation)
    }
  }
}

/// Conv attributes with the same stride/dilation/padding on all `rank` axes.
func convAttrs(
  rank: Int, stride: Int = 1, pad: Int = 0, mode: PaddingMode = .zero, dilation: Int = 1, groups: Int = 1
) -> ConvAttrs {
  ConvAttrs(
    stride: Array(repeating: stride, count: rank), padding: .symmetric(pad, rank: rank), paddingMode: mode,
    dilation: Array(repeating: dilation, count: rank), groups: groups)
}

/// The root of the package (for the CLI binary and fixtures).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory.
func temporaryDirectory() throws -> String {
  let path = NSTemporaryDirectory() + "kiln-tests-" + UUID().uuidString
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// ‖a − b‖ / ‖a‖ in Double: how far `b` is from `a`, relative to `a`'s size.
func relativeDifference(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Double {
  let difference = zip(a.scalars, b.scalars).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
  return difference / max(a.scalars.map { Double($0) * Double($0) }.reduce(0, +).squareRoot(), 1e-30)
}
