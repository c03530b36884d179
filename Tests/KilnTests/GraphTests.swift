import Testing

@testable import Kiln

@Suite struct GraphTests {
  func tiny() throws -> Graph {
    try Graph(name: "tiny", input: [1, 1, 4, 4]) {
      Conv2D(2, kernel: 3, padding: 1, paddingMode: .replicate, activation: .relu, name: "c")
      MaxPool2D(2, ceilMode: true)
      Flatten()
      Dense(3, bias: false, name: "fc")
    }
  }

  @Test func textDumpIsStable() throws {
    let expected = """
      graph tiny {
        %0 input = input() : [1,1,4,4]
        %1 c.weight = parameter() init=he_normal : [2,1,3,3]
        %2 c.bias = parameter() init=zeros : [2]
        %3 c = conv(%0, %1, %2) stride=1x1 pad=1x1 mode=replicate : [1,2,4,4]
        %4 c.relu = unary(%3) relu : [1,2,4,4]
        %5 max_pool1 = max_pool(%4) kernel=2x2 stride=2x2 pad=0x0 ceil : [1,2,2,2]
        %6 flatten1 = reshape(%5) shape=1x8 : [1,8]
        %7 fc.weight = parameter() init=he_normal : [3,8]
        %8 fc = dense(%6, %7) : [1,3]
        outputs %8
      }

      """
    #expect(try tiny().text == expected)
  }

  @Test func dotDump() throws {
    let dot = try tiny().dot
    #expect(dot.hasPrefix("digraph \"tiny\" {"))
    #expect(dot.contains("n3 [label=\"c\\nconv\\n[1,2,4,4]\"];"))
    #expect(dot.contains("n0 -> n3;"))
  }

  @Test func trainingFormDump() throws {
    let graph = try Graph(name: "t", input: [4, 2]) { BatchNorm(name: "bn"); Dropout(0.5, seed: 1, name: "drop") }
    let text = try graph.forTraining().text
    #expect(text.contains("bn.batch_mean_kept = reduce(%0) mean axes=0 keepdims : [1,2]"))
    #expect(text.contains("bn.batch_var_kept = reduce(%0) variance axes=0 keepdims : [1,2]"))
    #expect(text.contains("bn = batch_norm(%0, %1, %2, %7, %8) eps=1e-05 momentum=0.1 batch_statistics : [4,2]"))
    #expect(text.contains("drop = dropout(%9) rate=0.5 seed=1 training : [4,2]"))
    #expect(text.contains("update bn.running_mean <- %"))
  }

  @Test func verifyCatchesInconsistentGraphs() throws {
    var graph = try tiny()
    graph.outputs = [ValueID(99)]
    expectError("output %99 is not a node of tiny") { try graph.verify() }
    expectError("uses %5, which is not defined before it") {
      var g = Graph(name: "g")
      try g.append("x", .unary(UnaryAttrs(.relu)), inputs: [ValueID(5)])
    }
  }
}
