import Kiln
import Testing

/// Every zoo model compiled against the interpreter at its small input size (one at a time: the
/// VGG classifiers alone hold half a gigabyte of weights).
@Suite(.serialized) struct ZooEquivalenceTests {
  @Test(arguments: Zoo.entries.map(\.name))
  func compiledForwardPassEqualsTheInterpreter(name: String) throws {
    let entry = try Zoo.entry(named: name)
    let model = try Model(graph: entry.graph(input: entry.smallInput), seed: 3)
    try EquivalenceTests().expectEquivalent(model, model.graph.sampleInputs(seed: 4))
  }
}
