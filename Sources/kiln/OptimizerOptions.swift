import ArgumentParser
import Kiln

/// The optimizer and freezing options shared by `train` and `compile --train`.
struct OptimizerOptions: ParsableArguments {
  @Option(help: "sgd, momentum, nesterov, adagrad, rmsprop or adam.")
  var optimizer = "momentum"

  @Option(help: "Momentum (momentum, nesterov).")
  var momentum = 0.9

  @Option(name: .customLong("weight-decay"), help: "L2 weight decay.")
  var weightDecay = 0.0

  @Option(help: "Comma-separated layer names whose parameters stay fixed.")
  var freeze: String?

  func validate() throws {
    guard Optimizer.Kind(rawValue: optimizer) != nil else {
      throw ValidationError("--optimizer \(optimizer) is not one of \(Optimizer.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
  }

  var settings: Optimizer { Optimizer(Optimizer.Kind(rawValue: optimizer) ?? .sgd, momentum: momentum, weightDecay: weightDecay) }

  var frozen: [String] { freeze.map { $0.split(separator: ",").map(String.init) } ?? [] }
}
