import Kiln
import Testing

@testable import KilnLLVM

/// The program between graph and LLVM: its text, its sharing of kernel functions, and the checks
/// `verify()` makes of memory plans.
struct ProgramTests {
  static let compiler = Result { try Compiler() }

  @Test func lenet5ReadsAsOneLinePerCall() throws {
    let program = try Self.compiler.get().program(Zoo.lenet5(input: [1, 1, 32, 32]))
    let lines = program.text.split(separator: "\n").map(String.init)
    #expect(lines.first == "program lenet5 {" && lines.last == "}")
    // 11 slots (input, 10 parameters) plus the output; 7 functions and 7 calls (activations are
    // fused, the flatten is a view); the output is written straight into its slot.
    #expect(lines.filter { $0.hasPrefix("  slot ") && $0.contains(" = %") }.count == 12)
    #expect(program.functions.count == 7 && program.steps.count == 7 && program.copies.isEmpty)
    #expect(lines.contains("  f0 = conv([1,1,32,32], [6,1,5,5], [6]) : [1,6,28,28] by direct with epilogue relu, scratch"))
    #expect(lines.contains { $0.hasPrefix("  slot 11 = f6(arena+") && $0.hasSuffix("# %22 fc2") })
  }

  /// Each convolution's line names the algorithm its code runs: ResNet-18's 3×3 stride-1 layers
  /// by Winograd (F(4×4) on 56×56 maps, F(2×2) on 7×7 ones, where F(4×4) has too few tiles), its
  /// strided 3×3 layers transposed (vectors along output channels), its first layer direct: on
  /// AVX2's vectors, AVX-512's, and a Zen 4's split ones, whatever CPU runs the test.
  @Test(arguments: [(8, false), (16, false), (16, true)])
  func convolutionsNameTheirAlgorithm(lanes: Int, halfWidth: Bool) throws {
    let graph = try Model(graph: Zoo.entry(named: "resnet18").graph(input: [1, 3, 224, 224]), seed: 0).foldingBatchNorm().graph
    let lines = try Compiler(vectorLanes: lanes, halfWidth: halfWidth).program(graph).text.split(separator: "\n")
    func algorithm(_ signature: String) -> String? {
      lines.first { $0.contains(signature) }.flatMap { $0.components(separatedBy: " by ").last?.components(separatedBy: " with").first }
    }
    #expect(algorithm("conv([1,3,224,224], [64,3,7,7], [64])") == "direct")
    #expect(algorithm("conv([1,64,56,56], [64,64,3,3], [64])") == "winograd F(4x4,3x3)")
    #expect(algorithm("conv([1,512,7,7], [512,512,3,3], [512])") == "winograd F(2x2,3x3)")
    #expect(algorithm("conv([1,128,28,28], [256,128,3,3], [256])") == "transposed")
    #expect(!lines.contains { $0.contains("= dense(") && $0.contains(" by ") })
  }

  /// Inference fuses every activation into its producer; a training step keeps those whose
  /// derivative needs the activation's input (hard swish) apart, and fuses the others (relu).
  @Test func activationsFuseWhereTheirGradientAllows() throws {
    let model = try Model(name: "m", input: [2, 1, 8, 8], seed: 0) {
      Conv2D(4, kernel: 3, activation: .hardSwish)
      Conv2D(4, kernel: 3, activation: .relu)
      Flatten()
      Dense(3, activation: .gelu)
    }
    let compiler = try Self.compiler.get()
    let inference = try compiler.program(model.graph).text
    for function in ["hard_swish", "relu", "gelu"] { #expect(inference.contains("with epilogue \(function)"), "\(inference)") }
    let training = try compiler.program(TrainingGraph(model: model.graph, optimizer: Optimizer(.sgd)).graph).text
    #expect(training.contains("with epilogue relu") && !training.contains("with epilogue hard_swish") && !training.contains("with epilogue gelu"), "\(training)")
  }

  /// The parts of a concatenation along channels at batch 1 are computed where they belong in it
  /// (a chain nesting, as in DenseNet: the second concatenation holds the first), so its kernel
  /// copies nothing; at batch 2 the parts are not contiguous blocks and are copied. Values are the
  /// interpreter's either way, on one and two threads.
  @Test func concatenatedPartsAreComputedInPlace() throws {
    let compiler = try Self.compiler.get()
    for batch in [1, 2] {
      let model = try Model(name: "dense", seed: 3) { b in
        let x = try b.input("input", shape: [batch, 3, 8, 8])
        let first = try Symbol.concat([x.apply(Conv2D(4, kernel: 3, padding: 1, activation: .relu)), x.apply(Conv2D(5, kernel: 1))])
        let second = try Symbol.concat([first, first.apply(Conv2D(2, kernel: 3, padding: 1))])
        return [try second.apply(Conv2D(3, kernel: 1))]
      }
      let program = try compiler.program(model.graph)
      try program.verify()
      let concats = program.steps.filter { if case .concat = program.graph.nodes[$0.node].op { return true } else { return false } }
      #expect(concats.count == 2)
      for step in concats {
        guard case .arena(let start) = step.output else { Issue.record("a concatenation outside the arena"); continue }
        var offset = 0
        for (input, location) in zip(program.graph.nodes[step.node].inputs, step.inputs) {
          #expect((location == .arena(start + offset)) == (batch == 1), "batch \(batch): \(program.text)")
          offset += program.graph[input].type.elementCount / batch
        }
      }
      let feeds = ["input": try EquivalenceTests().randomTensor([batch, 3, 8, 8], seed: 5)]
      let expected = try model.run(feeds)[0]
      for threads in [1, 2] {
        let actual = try compiler.compile(model, threads: threads).run(feeds)[0]
        #expect(relativeDifference(expected, actual) <= 1e-5, "batch \(batch), \(threads) threads")
      }
    }
  }

  /// A data-parallel training step copies no gradient to exchange it: every gradient is computed
  /// at its offset in the joined buffer, which the all-reduce sums where it is, and the updates
  /// read their parts of it in place (slices of consecutive elements are views).
  @Test func gradientExchangeCopiesNothing() throws {
    let model = try GradientEquivalenceTests.trainingNets[0].1()
    let program = try Self.compiler.get().program(TrainingGraph(model: model.graph, optimizer: Optimizer(.momentum), share: 0.5).graph)
    try program.verify()
    func steps(_ mnemonic: String) -> [Program.Step] { program.steps.filter { program.graph.nodes[$0.node].op.mnemonic == mnemonic } }
    #expect(steps("slice").isEmpty, "\(program.text)")
    let exchange = try #require(steps("all_reduce").first)
    #expect(exchange.inputs == [exchange.output], "\(program.text)")
    for joined in steps("concat") {
      guard case .arena(let start) = joined.output else { Issue.record("the joined gradients outside the arena"); continue }
      var offset = 0
      for (input, location) in zip(program.graph.nodes[joined.node].inputs, joined.inputs) {
        #expect(location == .arena(start + offset), "\(program.text)")
        offset += program.graph[input].type.elementCount
      }
    }
  }

  /// A batch norm applies the activation that follows it as it writes (with the interpreter's
  /// values, on one and two threads), and so does the convolution of a residual sum in training,
  /// the sum and its relu fused into it (GradientEquivalenceTests runs it).
  @Test func batchNormsAndSumsApplyTheirActivations() throws {
    let compiler = try Self.compiler.get()
    let model = try Model(name: "m", seed: 2) { b in
      let x = try b.input("input", shape: [2, 4, 5, 5])
      return [try x.apply(Conv2D(4, kernel: 3, padding: 1)).apply(BatchNorm()).sigmoid().apply(Conv2D(3, kernel: 1))]
    }
    let text = try compiler.program(model.graph).text
    #expect(text.split(separator: "\n").contains { $0.contains("batch_norm(") && $0.contains("with epilogue sigmoid") }, "\(text)")
    let feeds = ["input": try EquivalenceTests().randomTensor([2, 4, 5, 5], seed: 7)]
    let expected = try model.run(feeds)[0]
    for threads in [1, 2] {
      let actual = try compiler.compile(model, threads: threads).run(feeds)[0]
      #expect(relativeDifference(expected, actual) <= 1e-5, "\(threads) threads: \(relativeDifference(expected, actual))")
    }
    let residual = try GradientEquivalenceTests.trainingNets.last!.1()
    let training = try compiler.program(TrainingGraph(model: residual.graph, optimizer: Optimizer(.sgd)).graph).text
    #expect(training.split(separator: "\n").contains { $0.contains("conv(") && $0.contains("with residual, epilogue relu") }, "\(training)")
  }

  /// Residual sums fold into the convolution before them (`Fusion`) where it runs on the direct
  /// kernel, which adds the shortcut as it writes: pointwise without an activation, 5×5 with a
  /// relu after the sum; not into Winograd F(4×4) or F(2×2) or depthwise convolutions, nor when the
  /// shortcut comes after the convolution. At both vector widths, on one and two threads, with
  /// the interpreter's values.
  @Test(arguments: [8, 16])
  func residualSumsFoldIntoConvolutions(lanes: Int) throws {
    let model = try Model(name: "residual", seed: 3) { b in
      let x = try b.input("input", shape: [2, 16, 16, 16]).apply(Conv2D(16, kernel: 3, padding: 1))
      let y = try (x.apply(Conv2D(16, kernel: 3, padding: 1)) + x).relu()
      let z = try y.apply(Conv2D(16, kernel: 1)) + y
      let w = try (z.apply(Conv2D(16, kernel: 5, padding: 2)) + z).relu().apply(MaxPool2D(2))
      let v = try (w.apply(Conv2D(16, kernel: 3, padding: 1)) + w).relu()
      let shortcut = try v.apply(Conv2D(16, kernel: 1))
      let depthwise = try v.apply(Conv2D(16, kernel: 3, padding: 1, groups: 16))
      return [try depthwise + shortcut]
    }
    let compiler = try Compiler(vectorLanes: lanes)
    let lines = try compiler.program(model.graph).text.split(separator: "\n")
    #expect(lines.filter { $0.contains("conv(") && $0.contains("residual") }.count == 2, "\(lines)")
    #expect(lines.filter { $0.contains("adding ") }.count == 2, "\(lines)")
    let feeds = ["input": try EquivalenceTests().randomTensor([2, 16, 16, 16], seed: 4)]
    let expected = try model.run(feeds)[0]
    for threads in [1, 2] {
      let actual = try compiler.compile(model, threads: threads).run(feeds)[0]
      #expect(relativeDifference(expected, actual) <= 1e-5, "\(threads) threads: \(relativeDifference(expected, actual))")
    }
  }

  /// DenseNet's transitions pool before their 1×1 convolution, which then takes a quarter of
  /// the positions; results as the graph's.
  @Test(arguments: [8, 16])
  func transitionsPoolBeforeTheirConvolution(lanes: Int) throws {
    let model = try Model(name: "transition", input: [2, 24, 12, 12], seed: 5) {
      BatchNorm(name: "norm")
      Activation(.relu)
      Conv2D(12, kernel: 1, bias: false, name: "conv")
      AvgPool2D(2, name: "pool")
      Activation(.relu)
    }
    let compiler = try Compiler(vectorLanes: lanes)
    let steps = try compiler.program(model.graph).text.split(separator: "\n").filter { $0.contains("# %") }.map { $0.split(separator: " ").last! }
    #expect(steps == ["norm", "pool", "conv"], "\(steps)")
    let feeds = ["input": try EquivalenceTests().randomTensor([2, 24, 12, 12], seed: 6)]
    let expected = try model.run(feeds)[0]
    for threads in [1, 2] {
      let actual = try compiler.compile(model, threads: threads).run(feeds)[0]
      #expect(actual.shape == [2, 12, 6, 6] && relativeDifference(expected, actual) <= 1e-5, "\(threads) threads: \(relativeDifference(expected, actual))")
    }
  }

  @Test func repeatedBlocksShareFunctions() throws {
    let program = try Self.compiler.get().program(Model(graph: Zoo.entry(named: "resnet18").graph(input: [1, 3, 64, 64]), seed: 0).foldingBatchNorm().graph)
    #expect(program.functions.count < program.steps.count)
    // Every step calls a function generated for a node of the same op and shapes.
    for step in program.steps {
      let (node, function) = (program.graph.nodes[step.node], program.functions[step.function])
      #expect(function.op == node.op && function.type == node.type)
    }
  }

  /// Every zoo model (forward, batch norm folded) and a training step plan without overlaps.
  @Test func zooAndTrainingProgramsVerify() throws {
    let compiler = try Self.compiler.get()
    for entry in Zoo.entries {
      _ = try compiler.program(Model(graph: entry.graph(input: entry.smallInput), seed: 1).foldingBatchNorm().graph)
    }
    // Adam's updates are written over the states they replace, which verify() must accept.
    let training = try TrainingGraph(model: Zoo.lenet5(input: [8, 1, 32, 32]), optimizer: Optimizer(.adam))
    let program = try compiler.program(training.graph)
    #expect(program.copies.isEmpty && !program.graph.stateUpdates.isEmpty)
  }

  /// A value moved onto one still in use, a step calling another node's function, a read before
  /// any write and a slot out of range are refused, naming what is wrong.
  @Test func verifyFindsBrokenPlans() throws {
    let good = try Self.compiler.get().program(Zoo.lenet5(input: [1, 1, 32, 32]))
    func rejects(_ change: (inout Program) -> Void, _ expected: String) {
      var program = good
      change(&program)
      #expect {
        try program.verify()
      } throws: { error in
        "\(error)".contains(expected)
      }
    }
    // pool1 (step 1) writes where conv1's output, which it reads, lives (and conv2 reads it there).
    rejects({ p in
      let (pool, conv) = (p.steps[1], p.steps[2])
      p.steps[1] = .init(
        node: pool.node, function: pool.function, output: p.steps[0].output, inputs: pool.inputs, scratch: pool.scratch, persistent: pool.persistent,
        residual: nil)
      p.steps[2] = .init(
        node: conv.node, function: conv.function, output: conv.output, inputs: [p.steps[0].output] + conv.inputs.dropFirst(), scratch: conv.scratch,
        persistent: conv.persistent, residual: nil)
    }, "overlap")
    rejects({ p in
      let s = p.steps[1]
      p.steps[1] = .init(
        node: s.node, function: 0, output: s.output, inputs: s.inputs, scratch: s.scratch, persistent: s.persistent, residual: nil)
    }, "does not fit")
    rejects({ p in p.steps.remove(at: 0) }, "before it is written")
    rejects({ p in
      let s = p.steps[0]
      p.steps[0] = .init(
        node: s.node, function: s.function, output: s.output, inputs: [.slot(99)] + s.inputs.dropFirst(), scratch: s.scratch, persistent: s.persistent,
        residual: nil)
    }, "slot 99")
    #expect(throws: Never.self) { try good.verify() }
  }
}
