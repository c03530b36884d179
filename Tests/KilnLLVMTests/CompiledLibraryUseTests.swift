import Kiln  // not @testable: the library as a user's package sees it
import KilnLLVM
import Testing

/// The JIT through the same calls and the same result type as the interpreter.
struct CompiledLibraryUseTests {
  /// A vector-Jacobian product compiled from its graph: gradients by target name, equal to the
  /// interpreter's.
  @Test func compiledVJPMatchesTheInterpreterByName() throws {
    let model = try Model(name: "convpool", input: [2, 3, 8, 8], seed: 4) {
      Conv2D(5, kernel: 3, padding: 1, activation: .tanh)
      AvgPool2D(2)
    }
    let x = try Tensor<Float>(shape: [2, 3, 8, 8], scalars: (0..<384).map { Float($0 % 17) / 8 - 1 })
    let dy = try Tensor<Float>(shape: [2, 5, 4, 4], scalars: (0..<160).map { Float($0 % 7) / 3 - 1 })
    let targets = ["input", "conv1.weight", "conv1.bias"]
    let interpreted = try model.vjp(["input": x], cotangent: dy, withRespectTo: targets)
    let vjp = try model.graph.vjp(withRespectTo: targets)
    let compiled = try Compiler().compile(vjp.graph, parameters: model.parameters).run(["input": x, Graph.cotangentInput: dy])
    #expect(compiled.names == interpreted.names)
    for target in targets {
      let (a, e) = (try #require(compiled.gradients[target]), try #require(interpreted.gradients[target]))
      #expect(a.shape == e.shape)
      for (p, q) in zip(a.scalars, e.scalars) { #expect(abs(p - q) <= 1e-4 * max(1, abs(q)), "\(target)") }
    }
  }

  /// A model built from given weights compiles to the interpreter's outputs, read by name.
  @Test func givenWeightsCompile() throws {
    let weight = try Tensor<Float>(shape: [2, 1, 3, 3], scalars: (0..<18).map { Float($0) / 9 - 1 })
    let bias = try Tensor<Float>(shape: [2], scalars: [0.25, -0.5])
    let model = try Model(name: "given", input: [1, 1, 6, 6]) { Conv2D(weight: weight, bias: bias, padding: .same, activation: .relu) }
    let x = try Tensor<Float>(shape: [1, 1, 6, 6], scalars: (0..<36).map { Float($0 % 5) - 2 })
    let expected = try model.run(["input": x])
    let actual = try Compiler().compile(model).run(["input": x])
    #expect(actual.names == ["conv1.relu"])
    let (a, e) = (try #require(actual["conv1.relu"]), try #require(expected["conv1.relu"]))
    for (p, q) in zip(a.scalars, e.scalars) { #expect(abs(p - q) <= 1e-5) }
  }

  /// Token ids as `Tensor<Int32>` in compiled code: the interpreter's embeddings, and an id
  /// outside the table is an error, not a read out of bounds.
  @Test func compiledIntegerInputs() throws {
    let table = try Tensor<Float>(shape: [5, 3], scalars: (0..<15).map(Float.init))
    let model = try Model(name: "ids", input: [2, 2], inputType: .i32) { Embedding(table: table) }
    let compiled = try Compiler().compile(model)
    let ids = try Tensor<Int32>(shape: [2, 2], scalars: [4, 0, 2, 2])
    #expect(try compiled.run([:], integers: ["input": ids])[0] == model.run(integers: ["input": ids])[0])
    #expect(throws: KilnError.self) { try compiled.run([:], integers: ["input": Tensor(shape: [2, 2], scalars: [1, 5, 0, 0])]) }
  }
}
