/// A building block of a model. A layer only builds graph nodes: it adds its parameters and ops
/// after `input` and returns its output. Shape errors name the layer.
public protocol Layer {
  /// Adds the layer's nodes after `input` and returns the layer's output.
  func callAsFunction(_ input: Symbol) throws -> Symbol
}

extension Symbol {
  /// `layer` applied to this value: `x.apply(Conv2D(16, kernel: 3))`.
  public func apply(_ layer: any Layer) throws -> Symbol { try layer(self) }
}

/// Collects the layers written in a `Sequential { … }` block, with `if`, `if/else` and `for`.
@resultBuilder
public enum LayerBuilder {
  /// One layer.
  public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
  /// The layers of a block, in order.
  public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
  /// The layers of an `if` whose condition held, or none.
  public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
  /// The layers of an `if` branch.
  public static func buildEither(first part: [any Layer]) -> [any Layer] { part }
  /// The layers of an `else` branch.
  public static func buildEither(second part: [any Layer]) -> [any Layer] { part }
  /// The layers of every pass of a `for` loop.
  public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
}

/// A chain of layers, each fed the previous one's output.
///
/// ```swift
/// let features = Sequential(name: "features") {
///   Conv2D(6, kernel: 5, activation: .relu)
///   MaxPool2D(2)
/// }
/// ```
/// With a name, the layers' names are scoped under it (`features.conv1.weight`).
public struct Sequential: Layer {
  /// The scope of the layers' names, or nil for the enclosing scope.
  public var name: String?
  /// The layers, in the order they apply.
  public var layers: [any Layer]

  /// A chain of the layers `layers` lists, scoped under `name` if given.
  public init(name: String? = nil, @LayerBuilder _ layers: () -> [any Layer]) {
    self.name = name
    self.layers = layers()
  }

  /// Applies each layer to the previous one's output.
  public func callAsFunction(_ input: Symbol) throws -> Symbol {
    guard let name else { return try layers.reduce(input) { try $1($0) } }
    return try input.builder.scoped(name) { try layers.reduce(input) { try $1($0) } }
  }
}

/// A layer written with the functional API, for blocks that are not chains:
///
/// ```swift
/// Block(name: "res1") { x in
///   let y = try x.apply(Conv2D(64, kernel: 3, padding: .same, activation: .relu))
///   return try (y + x).relu()
/// }
/// ```
public struct Block: Layer {
  /// The scope of the nodes `body` adds, or nil for a fresh `block<n>`.
  public var name: String?
  /// Builds the block from its input.
  public var body: (Symbol) throws -> Symbol

  /// A block built by `body`, scoped under `name` if given.
  public init(name: String? = nil, _ body: @escaping (Symbol) throws -> Symbol) {
    self.name = name
    self.body = body
  }

  /// Runs `body` on `input` in the block's scope.
  public func callAsFunction(_ input: Symbol) throws -> Symbol {
    try input.builder.layer(name, prefix: "block") { _ in try body(input) }
  }
}
