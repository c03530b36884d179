import RealModule

/// The learning rate as a function of training progress.
public enum LearningRateSchedule: Sendable, Equatable {
  /// The same rate every epoch.
  case constant(Double)
  /// The rate times `gamma` every `every` epochs.
  case step(Double, every: Int, gamma: Double)
  /// Half a cosine from the rate down to `minimum` over `epochs` epochs, step by step.
  case cosine(Double, epochs: Int, minimum: Double = 0)

  /// The rate at `step` (counted from 0 over the whole run) with `stepsPerEpoch` steps an epoch.
  public func rate(step: Int, stepsPerEpoch: Int) -> Double {
    switch self {
    case .constant(let rate):
      return rate
    case .step(let rate, let every, let gamma):
      return rate * Double.pow(gamma, Double(step / max(stepsPerEpoch, 1) / max(every, 1)))
    case .cosine(let rate, let epochs, let minimum):
      let progress = min(Double(step) / Double(max(epochs * stepsPerEpoch, 1)), 1)
      return minimum + (rate - minimum) * (1 + Double.cos(.pi * progress)) / 2
    }
  }
}
