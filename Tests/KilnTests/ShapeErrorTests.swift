import Testing

@testable import Kiln

/// Every validation error names the layer, the op and the shapes, and says what would fit.
@Suite struct ShapeErrorTests {
  @Test func convChannelMismatch() {
    expectError("conv2 (Conv2D): input has 3 channels, weight expects 16") {
      var graph = Graph(name: "g")
      let x = try graph.append("x", .input(InputAttrs(TensorType([1, 3, 8, 8]))))
      let w = try graph.append("w", .parameter(ParameterAttrs(TensorType([8, 16, 3, 3]), initializer: .zeros)))
      try graph.append("conv2", .conv(convAttrs(rank: 2)), inputs: [x, w])
    }
    expectError("conv1 (Conv2D): input has 3 channels, layer expects 1") {
      _ = try Graph(name: "g", input: [1, 3, 8, 8]) { Conv2D(4, kernel: 3, inChannels: 1) }
    }
  }

  @Test func emptyOutput() {
    expectError("conv1 (Conv2D)", "output would be empty", "spatial size 4", "window 5") {
      _ = try Graph(name: "g", input: [1, 1, 4, 4]) { Conv2D(4, kernel: 5) }
    }
    expectError("max_pool1 (MaxPool1D)", "output would be empty") {
      _ = try Graph(name: "g", input: [1, 1, 1]) { MaxPool1D(2) }
    }
  }

  @Test func wrongRankAndGroups() {
    expectError("conv1 (Conv2D): input must be [N, C, H, W], got [1,28,28]") {
      _ = try Graph(name: "g", input: [1, 28, 28]) { Conv2D(4, kernel: 3) }
    }
    expectError("conv1 (Conv1D): 3 input channels do not divide into 2 groups") {
      _ = try Graph(name: "g", input: [1, 3, 10]) { Conv1D(4, kernel: 3, groups: 2) }
    }
    expectError("kernel [3, 3] has 2 entries for 3 spatial axes") {
      _ = try Graph(name: "g", input: [1, 1, 4, 4, 4]) { Conv3D(4, kernel: [3, 3]) }
    }
  }

  @Test func paddingLimits() {
    expectError("conv1 (Conv1D): reflect padding 3/3 must be smaller than the spatial axis 0 size 3") {
      _ = try Graph(name: "g", input: [1, 1, 3]) { Conv1D(1, kernel: 3, padding: 3, paddingMode: .reflect) }
    }
    expectError("pool (MaxPool2D): padding 2/2 must be at most half the kernel 2") {
      _ = try Graph(name: "g", input: [1, 1, 8, 8]) { MaxPool2D(2, padding: 2, name: "pool") }
    }
    expectError("up (ConvTranspose1D): output padding 2 must be smaller than the stride 2 or the dilation 1") {
      _ = try Graph(name: "g", input: [1, 1, 8]) { ConvTranspose1D(1, kernel: 3, stride: 2, outputPadding: 2, name: "up") }
    }
  }

  @Test func denseAndBroadcastAndConcat() {
    expectError("fc (Dense): input has 120 features, weight expects 100") {
      var graph = Graph(name: "g")
      let x = try graph.append("x", .input(InputAttrs(TensorType([1, 120]))))
      let w = try graph.append("w", .parameter(ParameterAttrs(TensorType([10, 100]), initializer: .zeros)))
      try graph.append("fc", .dense(DenseAttrs()), inputs: [x, w])
    }
    expectError("add1 (Add): shapes [1, 16, 8, 8] and [1, 8, 8, 8] do not broadcast: axis 1 has 16 against 8") {
      _ = try Graph(name: "g", seed: 0) { b in
        [try b.input("a", shape: [1, 16, 8, 8]) + b.input("b", shape: [1, 8, 8, 8])]
      }
    }
    expectError("concat1 (Concat): input [1,4,4,4] does not match [1,2,8,8] outside axis 1") {
      _ = try Graph(name: "g", seed: 0) { b in
        [try Symbol.concat([b.input("a", shape: [1, 2, 8, 8]), b.input("b", shape: [1, 4, 4, 4])])]
      }
    }
  }

  @Test func reshapeMaxoutBatchNormLoss() {
    expectError("reshape1 (Reshape): cannot reshape [2,3] (6 elements) to [4] (4 elements)") {
      var graph = Graph(name: "g")
      let x = try graph.append("x", .input(InputAttrs(TensorType([2, 3]))))
      try graph.append("reshape1", .reshape(ReshapeAttrs(shape: [4])), inputs: [x])
    }
    expectError("maxout1 (Maxout): 5 channels do not divide into groups of 2 pieces") {
      _ = try Graph(name: "g", input: [1, 5]) { Maxout(pieces: 2) }
    }
    expectError("bn (BatchNorm): input has 4 channels, gamma is [3]") {
      try Graph(name: "g").withAppended { graph in
        let x = try graph.append("x", .input(InputAttrs(TensorType([1, 4, 2, 2]))))
        let p = try (0..<4).map { try graph.append("p\($0)", .parameter(ParameterAttrs(TensorType([3]), initializer: .zeros))) }
        try graph.append("bn", .batchNorm(BatchNormAttrs()), inputs: [x] + p)
      }
    }
    expectError("loss1 (SoftmaxCrossEntropy): labels [8]:i32 must be [4], one per row of the logits") {
      _ = try Graph(name: "g", seed: 0) { b in
        [try b.input("logits", shape: [4, 10]).softmaxCrossEntropy(labels: b.input("labels", shape: [8], dtype: .i32))]
      }
    }
    expectError("loss1 (SoftmaxCrossEntropy): labels must be i32 class indices") {
      _ = try Graph(name: "g", seed: 0) { b in
        [try b.input("logits", shape: [4, 10]).softmaxCrossEntropy(labels: b.input("labels", shape: [4]))]
      }
    }
  }

  @Test func duplicateNamesAndBadGraphs() {
    expectError("the layer name conv1 is already used in graph g") {
      _ = try Graph(name: "g", input: [1, 1, 8, 8]) {
        Conv2D(1, kernel: 3, name: "conv1")
        Conv2D(1, kernel: 3, name: "conv1")
      }
    }
  }
}

extension Graph {
  /// Runs `body` on a copy of this graph (for tests that build graphs node by node).
  func withAppended(_ body: (inout Graph) throws -> Void) throws {
    var copy = self
    try body(&copy)
  }
}
