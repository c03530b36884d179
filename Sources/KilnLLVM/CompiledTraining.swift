import Kiln

/// Training steps in JIT-compiled code: the whole training graph (forward, backward, optimizer
/// update) is one native function; parameters stay in its buffers between steps.
public final class CompiledTraining: TrainingEngine {
  private let compiled: CompiledModel

  /// Compiles `training` with `compiler`, starting from `parameters` (every parameter of its graph).
  /// For one process of a data-parallel job (a training graph with a `share`), `communicator`
  /// reaches the others.
  public init(_ training: TrainingGraph, parameters: ParameterStore, compiler: Compiler, threads: Int = 1, communicator: (any Communicator)? = nil) throws {
    compiled = try compiler.compile(training.graph, parameters: parameters, threads: threads)
    if let communicator { try compiled.setCommunicator(communicator) }
  }

  /// Seconds spent compiling the training step.
  public var compileSeconds: Double { compiled.compileSeconds }
  /// Modules the training step was compiled in.
  public var modules: Int { compiled.modules }
  /// How many of the modules came from the kernel cache.
  public var cachedModules: Int { compiled.cachedModules }
  /// Planned arena bytes of the training step, and what its intermediates take without reuse.
  public var arenaBytes: Int { compiled.arenaBytes }
  /// What the intermediates of the training step would take without reuse.
  public var naiveBytes: Int { compiled.naiveBytes }

  public func step(_ feeds: [String: Tensor<Float>], step: UInt64) throws -> (loss: Float, logits: Tensor<Float>) {
    let outputs = try compiled.run(feeds, step: step)
    return (outputs[0].scalars[0], outputs[1])
  }

  public func parameter(_ name: String) -> Tensor<Float>? { compiled.parameter(name) }

  /// Replaces the value of a parameter of the training graph.
  public func setParameter(_ name: String, _ tensor: Tensor<Float>) throws { try compiled.setParameter(name, tensor) }
}
