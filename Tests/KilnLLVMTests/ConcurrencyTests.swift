import Dispatch
import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// One compiled model shared by threads: `run`, `parameter` and `setParameter` take the model's
/// lock, so readers see whole parameter values and runs see one value throughout (checked once
/// under ThreadSanitizer: `swift test --sanitize=thread --filter ConcurrencyTests`).
@Suite struct ConcurrencyTests {
  @Test func runsAndParameterAccessShareOneModelSafely() throws {
    var graph = Graph(name: "scale")
    let x = try graph.append("x", .input(InputAttrs(TensorType([1, 256]))))
    let w = try graph.append("w", .parameter(ParameterAttrs(TensorType([4, 256]), initializer: .ones)))
    graph.outputs = [try graph.append("y", .dense(DenseAttrs()), inputs: [x, w])]
    let compiled = try Compiler().compile(Model(graph: graph, seed: 0))
    let input = try Tensor<Float>(shape: [1, 256], repeating: 1)
    let problems = Problems()
    DispatchQueue.concurrentPerform(iterations: 3) { worker in
      for round in 0..<300 {
        do {
          switch worker {
          case 0:
            // Every weight is one value v at any time, so each output is 256·v.
            let y = try compiled.predict(input).scalars
            if Set(y).count != 1 || y[0].truncatingRemainder(dividingBy: 256) != 0 { throw KilnError.invalidArgument("torn run: \(y)") }
          case 1:
            try compiled.setParameter("w", Tensor(shape: [4, 256], repeating: Float(round % 7)))
          default:
            guard let weights = compiled.parameter("w")?.scalars else { throw KilnError.invalidArgument("no parameter w") }
            if Set(weights).count != 1 { throw KilnError.invalidArgument("torn parameter read") }
          }
        } catch {
          problems.add("\(error)")
        }
      }
    }
    #expect(problems.list.isEmpty, "\(problems.list.prefix(3))")
  }
}

/// What the threads of a test found, behind a lock.
final class Problems: @unchecked Sendable {
  private let lock = NSLock()
  private var found: [String] = []

  func add(_ problem: String) {
    lock.lock()
    found.append(problem)
    lock.unlock()
  }

  var list: [String] {
    lock.lock()
    defer { lock.unlock() }
    return found
  }
}
