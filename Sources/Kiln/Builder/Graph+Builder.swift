extension Graph {
  /// A graph built with the functional API: `body` adds inputs and nodes and returns the outputs.
  /// `seed` is mixed into the seeds of dropout layers.
  public init(name: String, seed: UInt64 = 0, _ body: (GraphBuilder) throws -> [Symbol]) throws {
    let builder = GraphBuilder(name: name, seed: seed)
    builder.setOutputs(try body(builder))
    self = builder.graph
  }

  /// A single-input graph built by `body` from its input (called `input`).
  public init(
    name: String, input shape: [Int], inputType: DType = .f32, seed: UInt64 = 0,
    _ body: (Symbol) throws -> Symbol
  ) throws {
    try self.init(name: name, seed: seed) { builder in
      [try body(try builder.input("input", shape: shape, dtype: inputType))]
    }
  }

  /// A chain of layers applied to one input (called `input`).
  public init(
    name: String, input shape: [Int], inputType: DType = .f32, seed: UInt64 = 0,
    @LayerBuilder layers: () -> [any Layer]
  ) throws {
    let chain = Sequential(layers)
    try self.init(name: name, input: shape, inputType: inputType, seed: seed) { try chain($0) }
  }
}
