/// Named tensors in the order they were added, looked up by name: a model's parameter values
/// (in the graph's order), or the tensors of a safetensors file (in file order).
///
/// ```swift
/// let weights = try SafeTensors.read("lenet5.safetensors").tensors
/// let w = weights["conv1.weight"]
/// for (name, tensor) in weights { print(name, tensor.shape) }
/// ```
public struct ParameterStore: Equatable, Sendable, Sequence {
  /// The names, in order.
  public private(set) var names: [String] = []
  private var tensors: [String: Tensor<Float>] = [:]

  /// An empty store.
  public init() {}

  /// A store of `entries`, in their order; a repeated name keeps its first position and last value.
  public init(_ entries: [(name: String, tensor: Tensor<Float>)]) {
    for (name, tensor) in entries { self[name] = tensor }
  }

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

  /// The (name, tensor) pairs in order.
  public func makeIterator() -> IndexingIterator<[(name: String, tensor: Tensor<Float>)]> { entries.makeIterator() }

  /// The number of tensors.
  public var count: Int { names.count }

  /// The name of the first tensor holding a NaN or an infinity, or nil when all are finite.
  public var firstNonFinite: String? {
    names.first { name in tensors[name]?.scalars.contains { !$0.isFinite } == true }
  }

  /// The total number of scalars.
  public var scalarCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}
