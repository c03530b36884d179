import Kiln
import Testing

@testable import KilnLLVM

/// Every zoo model compiled against the interpreter at its small input size (one at a time: the
/// VGG classifiers alone hold half a gigabyte of weights).
@Suite(.serialized) struct ZooEquivalenceTests {
  @Test(arguments: Zoo.entries.map(\.name))
  func compiledForwardPassEqualsTheInterpreter(name: String) throws {
    let entry = try Zoo.entry(named: name)
    let model = try Model(graph: entry.graph(input: entry.smallInput), seed: 3)
    try EquivalenceTests().expectEquivalent(model, model.graph.sampleInputs(seed: 4))
  }

  /// Code generated for an AVX2 machine without AVX-512 (Zen 3's kind: x86-64-v3, 8 lanes),
  /// whatever this machine is, on models that take every kernel family: Winograd, direct,
  /// transposed, pointwise, depthwise and grouped convolutions, 1D and 3D, LRN, pooling before
  /// pointwise, embeddings.
  @Test(arguments: ["lenet5", "zfnet", "vgg11_cifar", "resnet18", "densenet121", "mobilenet_v2", "shufflenet_v1", "textcnn", "c3d_small"])
  func avx2CodeEqualsTheInterpreter(name: String) throws {
    let entry = try Zoo.entry(named: name)
    let model = try Model(graph: entry.graph(input: entry.smallInput), seed: 3)
    try EquivalenceTests().expectEquivalent(model, model.graph.sampleInputs(seed: 4), compiler: Self.avx2.get())
  }

  static let avx2 = Result { try Compiler(targetCPU: "x86-64-v3", vectorLanes: 8) }
}
