import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile a model ahead of time into a shared object and a C header.",
    discussion: """
      Writes <out>.so (the compiled forward pass, the weights embedded, the C runtime linked in;
      it depends only on libc, libm and libopenblas) and <out>.h (a documented C API: create,
      infer on caller-owned buffers, destroy, error messages, get/set/save weights, loading
      weights from safetensors). With --train the library also exports <prefix>_train_step: one
      compiled training step (forward, backward, optimizer) on a batch of --batch images, with
      weights held by the context. Every symbol starts with --prefix
      (default: the output file's name, lenet5.so → lenet5_infer), so several models link into
      one program.

      Examples:
        kiln compile lenet5 --weights lenet5.safetensors -o out/lenet5.so
        kiln compile lenet5 --batch 16 --prefix lenet5_b16 -o out/lenet5_b16.so
        kiln compile lenet5 --train --batch 64 --optimizer momentum -o out/lenet5_train.so
        kiln compile lenet5 --weights lenet5.safetensors -o out/lenet5.o      (object + header)
      """)

  @OptionGroup var options: ModelOptions

  @Option(help: "Weights (safetensors); without them, seeded initial weights are embedded.")
  var weights: String?

  @Option(help: "Batch size of the compiled entry point (default: the model's own, from its file or --input-shape).")
  var batch: Int?

  @Option(help: "Prefix of every exported symbol (default: the output file's name without its extension).")
  var prefix: String?

  @Option(name: [.customShort("o"), .long], help: "The shared object (.so) or relocatable object (.o) to write.")
  var output: String

  @OptionGroup var target: TargetOptions

  @Flag(name: .customLong("external-weights"), help: "Embed no weights: contexts are made with <prefix>_create_from_file.")
  var externalWeights = false

  @Flag(help: "Also export a training step (softmax cross-entropy and the chosen optimizer).")
  var train = false

  @Option(help: "With --train: the training step is one of N processes' (each with its own batch of --batch); <prefix>_set_communicator connects them.")
  var processes = 1

  @OptionGroup var optimization: OptimizerOptions

  func validate() throws {
    guard batch ?? 1 >= 1 else { throw ValidationError("--batch must be at least 1") }
    guard processes >= 1, processes == 1 || train else { throw ValidationError("--processes \(processes) needs --train and a count of 1 or more") }
    guard output.hasSuffix(".so") || output.hasSuffix(".o") else {
      throw ValidationError("-o \(output) should name a .so file (or a .o object for your own build)")
    }
  }

  func run() throws {
    let model = try options.model(weights: weights, batch: batch)
    try AtomicFile.checkWritable(output)
    let compiler = try target.compiler()
    var header: String
    if train {
      // N processes with a batch each: each gradient weighs 1/N of the job's batch.
      let share = processes > 1 ? 1 / Double(processes) : nil
      let trainer = try Trainer(model: model, optimizer: optimization.settings, frozen: optimization.frozen, share: share)
      header = try compiler.emitSharedObject(
        model, to: output, prefix: prefix, training: trainer.training, initial: trainer.parameters, embedWeights: !externalWeights)
    } else {
      header = try compiler.emitSharedObject(model, to: output, prefix: prefix, embedWeights: !externalWeights)
    }
    print("wrote \(output) and \(header)")
  }
}
