/// A model's parameter values by name, in the order they were added (the graph's order).
public struct ParameterStore: Equatable, Sendable {
  public private(set) var names: [String] = []
  private var tensors: [String: Tensor<Float>] = [:]

  public init() {}

  /// The tensor called `name`; setting a new name appends it.
  public subscript(name: String) -> Tensor<Float>? {
    get { tensors[name] }
    set {
      if tensors[name] == nil, newValue != nil { names.append(name) }
      if newValue == nil { names.removeAll { $0 == name } }
      tensors[name] = newValue
    }
  }

  /// (name, tensor) pairs in order.
  public var entries: [(name: String, tensor: Tensor<Float>)] {
    names.compactMap { name in tensors[name].map { (name, $0) } }
  }

  /// The name of the first tensor holding a NaN or an infinity, or nil when all are finite.
  public var firstNonFinite: String? {
    names.first { name in tensors[name]?.scalars.contains { !$0.isFinite } == true }
  }

  /// The total number of scalars.
  public var scalarCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}
