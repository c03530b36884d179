/// How a parameter's first values are drawn. Every initializer is seeded: the same seed and
/// parameter name give the same values on every run and machine.
///
/// Fans follow PyTorch: for a weight `[a, b, *kernel]`, fan-in is `b·∏kernel` and fan-out is
/// `a·∏kernel`.
public enum Initializer: Codable, Hashable, Sendable {
  /// Normal with std √(2 / fan-in) (Kaiming He et al., for ReLU networks).
  case heNormal
  /// Uniform in ±√(6 / fan-in).
  case heUniform
  /// Normal with std √(2 / (fan-in + fan-out)) (Glorot & Bengio).
  case glorotNormal
  /// Uniform in ±√(6 / (fan-in + fan-out)).
  case glorotUniform
  /// All zeros.
  case zeros
  /// All ones.
  case ones
  /// Every element `value`.
  case constant(Double)
  /// Normal with mean 0 and standard deviation `std`.
  case normal(std: Double)
  /// Uniform in ±`bound`.
  case uniform(bound: Double)
  /// Values handed to the layer when the graph was built (`Conv2D(weight: w)`): the `Model` built
  /// by the same call holds them; a model made later from the graph alone must be given weights.
  case given

  /// Values for a tensor of `shape` drawn from `generator`; nil for `given`, whose values are not
  /// part of the graph.
  public func values(shape: [Int], generator: inout SplitMix64) -> [Float]? {
    let count = shape.reduce(1, *)
    let receptive = shape.count > 2 ? shape[2...].reduce(1, *) : 1
    let fanIn = Double(shape.count > 1 ? shape[1] * receptive : max(count, 1))
    let fanOut = Double(shape.count > 1 ? shape[0] * receptive : max(count, 1))
    func normal(_ std: Double) -> [Float] { (0..<count).map { _ in Float(std * generator.nextNormal()) } }
    func uniform(_ bound: Double) -> [Float] {
      (0..<count).map { _ in Float(bound * (2 * generator.nextUnit() - 1)) }
    }
    switch self {
    case .heNormal: return normal((2 / fanIn).squareRoot())
    case .heUniform: return uniform((6 / fanIn).squareRoot())
    case .glorotNormal: return normal((2 / (fanIn + fanOut)).squareRoot())
    case .glorotUniform: return uniform((6 / (fanIn + fanOut)).squareRoot())
    case .zeros: return Array(repeating: 0, count: count)
    case .ones: return Array(repeating: 1, count: count)
    case .constant(let value): return Array(repeating: Float(value), count: count)
    case .normal(let std): return normal(std)
    case .uniform(let bound): return uniform(bound)
    case .given: return nil
    }
  }

  var text: String {
    switch self {
    case .heNormal: return "he_normal"
    case .heUniform: return "he_uniform"
    case .glorotNormal: return "glorot_normal"
    case .glorotUniform: return "glorot_uniform"
    case .zeros: return "zeros"
    case .ones: return "ones"
    case .constant(let value): return "constant(\(value))"
    case .normal(let std): return "normal(\(std))"
    case .uniform(let bound): return "uniform(\(bound))"
    case .given: return "given"
    }
  }
}
