import Testing

@testable import Kiln

/// Finite-difference gradient checks: autodiff's gradients against central differences, in Double.
enum GradientCheck {
  /// `graph` with a scalar loss appended: the output itself if it is a scalar, else Σ output·probe
  /// with a fixed random `probe` input (so every output element matters differently).
  static func withLoss(_ graph: Graph) throws -> (graph: Graph, loss: ValueID, probe: Tensor<Double>?) {
    var result = graph
    let output = graph.outputs[0]
    let type = graph[output].type
    if type.elementCount == 1 { return (result, output, nil) }
    let probe = try result.append("probe", .input(InputAttrs(type)))
    let product = try result.append("probed", .binary(BinaryAttrs(.mul)), inputs: [output, probe])
    let loss = try result.append("loss_sum", .reduce(ReduceAttrs(.sum, axes: Array(0..<type.rank))), inputs: [product])
    result.outputs = [loss]
    return (result, loss, random(type.shape, seed: 999))
  }

  /// Checks d(loss)/d(`name`) for every name in `targets` (inputs or parameters of `graph`), on
  /// at most `samples` elements of each, to a relative error of `tolerance`.
  static func check(
    _ graph: Graph, feeds: [String: Tensor<Double>], targets: [String], samples: Int = 48, step: Double = 1e-5,
    tolerance: Double = 1e-6, step runStep: UInt64 = 0, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let (lossGraph, loss, probe) = try withLoss(graph)
    var feeds = feeds
    if let probe { feeds["probe"] = probe }
    let ids = try targets.map { name in
      guard let id = lossGraph.index(of: name) else { throw KilnError.invalidArgument("no node \(name)") }
      return id
    }
    let differentiated = try lossGraph.differentiated(loss: loss, withRespectTo: ids)
    let analytic = try Interpreter<Double>(differentiated.graph).run(feeds, step: runStep)
    let forward = try Interpreter<Double>(lossGraph)
    func lossValue(_ feeds: [String: Tensor<Double>]) throws -> Double { try forward.run(feeds, step: runStep)[loss].scalars[0] }
    for name in targets {
      let gradient = analytic[try #require(differentiated.gradients[name], sourceLocation: sourceLocation)]
      let value = try #require(feeds[name], "feed \(name)", sourceLocation: sourceLocation)
      #expect(gradient.shape == value.shape, sourceLocation: sourceLocation)
      // Every element if few; else half where the gradient is non-zero (sparse gradients such as
      // max pooling's) and half at random.
      var generator = SplitMix64(seed: SplitMix64.stableHash(name))
      let nonZero = gradient.scalars.indices.filter { gradient.scalars[$0] != 0 }.prefix(samples / 2)
      let indices = value.count <= samples
        ? Array(0..<value.count) : Array(nonZero) + (0..<(samples - nonZero.count)).map { _ in Int(generator.next() % UInt64(value.count)) }
      var (difference, magnitude) = (0.0, 0.0)
      for index in indices {
        var plus = feeds
        var minus = feeds
        plus[name]!.scalars[index] += step
        minus[name]!.scalars[index] -= step
        let numeric = (try lossValue(plus) - lossValue(minus)) / (2 * step)
        let exact = gradient.scalars[index]
        difference += (numeric - exact) * (numeric - exact)
        magnitude += numeric * numeric + exact * exact
      }
      let relative = difference.squareRoot() / max(magnitude.squareRoot(), 1e-12)
      #expect(relative <= tolerance, "d loss / d \(name): relative error \(relative)", sourceLocation: sourceLocation)
      #expect(magnitude > 0, "d loss / d \(name) is zero everywhere sampled: the check would prove nothing", sourceLocation: sourceLocation)
    }
  }

  /// Checks a one-op graph on random inputs `in0`, `in1`, …; `integer` marks i32 inputs (given
  /// in `fixed`) that are not differentiated.
  static func checkOp(
    _ op: Op, shapes: [[Int]], fixed: [Int: Tensor<Double>] = [:], values: [Int: Tensor<Double>] = [:], seed: UInt64 = 1,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let types = shapes.enumerated().map { TensorType($0.element, fixed[$0.offset] != nil && $0.element.count >= 0 && isInteger(op, $0.offset) ? .i32 : .f32) }
    let graph = try singleOpGraph(op, types)
    var feeds: [String: Tensor<Double>] = [:]
    for (index, shape) in shapes.enumerated() {
      feeds["in\(index)"] = fixed[index] ?? values[index] ?? random(shape, seed: seed &+ UInt64(index))
    }
    let targets = shapes.indices.filter { fixed[$0] == nil }.map { "in\($0)" }
    try check(graph, feeds: feeds, targets: targets, sourceLocation: sourceLocation)
  }

  /// Whether input `index` of `op` is an integer tensor (labels, indices).
  static func isInteger(_ op: Op, _ index: Int) -> Bool {
    switch op {
    case .embedding: return index == 0
    case .loss(let a): return a.kind == .softmaxCrossEntropy && index == 1
    default: return false
    }
  }
}
