/// What every op's attribute struct provides: its shape rule, its cost and its text form.
/// Each op is one case of `Op` carrying one of these.
public protocol OpAttributes: Codable, Hashable, Sendable {
  /// The output type for these input types, or a `ShapeError` saying what does not fit.
  func outputType(_ inputs: [TensorType]) throws -> TensorType
  /// Multiply-adds (the figure papers quote as MACs); 0 for ops without any.
  func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int
  /// Floating-point operations: 2 per multiply-add, else roughly one per element touched.
  func flops(_ inputs: [TensorType], output: TensorType) -> Int
  /// Attributes as `key=value` pairs for the graph's text dump, in a fixed order.
  var attributeText: [String] { get }
}

extension OpAttributes {
  public func multiplyAdds(_ inputs: [TensorType], output: TensorType) -> Int { 0 }
  public func flops(_ inputs: [TensorType], output: TensorType) -> Int {
    max(2 * multiplyAdds(inputs, output: output), output.elementCount)
  }
  public var attributeText: [String] { [] }
}

/// Checks the number of inputs an op receives.
func requireInputs(_ inputs: [TensorType], _ counts: ClosedRange<Int>) throws {
  try require(
    counts.contains(inputs.count),
    counts.count == 1
      ? "expects \(counts.lowerBound) inputs, got \(inputs.count)"
      : "expects \(counts.lowerBound) to \(counts.upperBound) inputs, got \(inputs.count)")
}

/// Checks that an input is a float tensor.
func requireFloat(_ type: TensorType, _ what: String) throws {
  try require(type.dtype == .f32, "\(what) must be f32, got \(type)")
}

/// Formats a list of integers as `1x2x3` for attribute dumps.
func formatList(_ values: [Int]) -> String { values.map(String.init).joined(separator: "x") }
