import Kiln

/// The C interface of a compiled model: the header users include and the wrapper source that
/// implements it around the generated entry functions. Every symbol starts with the prefix, so
/// several models link into one program.
struct CInterface {
  /// The model's own graph: its inputs, outputs and parameters are the C API's.
  let model: Graph
  /// Inference, on the model's graph with its batch norms folded (`folds`).
  let inference: Program
  /// The batch norms folded into the inference program's convolutions: each context computes
  /// their folded weights from the model's (`kiln_fold_batch_norms`) before it next infers after
  /// the model's weights changed.
  let folds: [BatchNormFold]
  /// The training step, for `kiln compile --train`.
  let training: Program?
  let prefix: String
  /// The header's file name, which its opening comment gives.
  let headerName: String
  /// Absolute path of the raw little-endian initial parameters, embedded with `.incbin`: every
  /// parameter in `embedded`, in order.
  let weightsPath: String
  /// Whether the model's weights are embedded (else only optimizer state is, and contexts come
  /// from `create_from_file`).
  let embedsModelWeights: Bool
  /// The detection API of a detector's library (`<prefix>_detect`), or nil.
  let detection: DetectionInterface?

  /// The parameters whose initial values the library embeds (folded ones are computed).
  var embedded: [Node] {
    let model = Set(graph.parameters.map { graph[$0].name })
    let folded = Set(folds.flatMap { [$0.foldedWeight, $0.foldedBias] })
    return parameters.filter { !folded.contains($0.name) && (embedsModelWeights || !model.contains($0.name)) }
  }

  var upper: String { prefix.uppercased() }
  func entrySymbol(training: Bool) -> String { "\(prefix)_kiln_\(training ? "train" : "infer")_entry" }

  /// Every parameter the context holds, in its buffer's order: the training graph's (weights,
  /// running statistics, optimizer state) when training, else the model's; then the folded ones.
  var parameters: [Node] {
    let held = training.map { t in t.graph.parameters.map { t.graph[$0] } } ?? graph.parameters.map { graph[$0] }
    let names = Set(held.map(\.name))
    return held + inference.graph.parameters.map { inference.graph[$0] }.filter { !names.contains($0.name) }
  }

  /// A node's name, type and size for the header's comments; the name as an escaped C string.
  private func describe(_ node: Node) -> String {
    let element = node.type.dtype == .i32 ? "int32_t" : "float"
    return CSource.stringLiteral(node.name) + ": \(element)" + node.type.shape.map { "[\($0)]" }.joined()
      + " (\(node.type.elementCount) values, row-major)"
  }

  private func argument(_ node: Node, _ identifier: String, output: Bool) -> String {
    let element = node.type.dtype == .i32 ? "int32_t" : "float"
    return (output ? "\(element) *" : "const \(element) *") + identifier
  }

  private var graph: Graph { model }
  private var inputs: [Node] { graph.inputs.map { graph[$0] } }
  private var outputs: [Node] { graph.outputs.map { graph[$0] } }

  /// Names the generated wrapper declares itself, which no argument may shadow.
  private var wrapperNames: [String] {
    [
      "context", "created", "status", "fail", "model", "error", "error_size", "values", "name", "count", "path", "threads",
      "learning_rate", "loss", "state", "all_reduce_sum", "embedded_parameters", "parameter_names", "parameter_offsets",
      "parameter_sizes", "parameter_ranks", "parameter_shapes", "parameter_shape_offsets", "model_parameters", "infer_bindings",
      "infer_kept_flags", "train_bindings", "train_kept_flags", "folds",
    ]
  }

  /// Unique C identifiers for `nodes`, the arguments of one function.
  private func identifiers(_ nodes: [Node]) -> [String] {
    var identifiers = CSource.Identifiers(reserved: wrapperNames, reservedPrefixes: [prefix + "_", "kiln_"])
    return nodes.map { identifiers.make($0.name) }
  }

  /// The inference arguments' identifiers: inputs, then outputs.
  private var inferArguments: [String] { identifiers(inputs + outputs) }

  private var inferSignature: String {
    let identifiers = inferArguments
    let arguments = (inputs + outputs).enumerated().map { index, node in argument(node, identifiers[index], output: index >= inputs.count) }
    return "int \(prefix)_infer(\(prefix)_context *context, \(arguments.joined(separator: ", ")))"
  }

  private var trainInputs: [Node] {
    training.map { t in t.graph.inputs.map { t.graph[$0] }.filter { $0.name != TrainingGraph.learningRateInput } } ?? []
  }

  private var trainSignature: String {
    let arguments = zip(trainInputs, identifiers(trainInputs)).map { argument($0, $1, output: false) }
    return "int \(prefix)_train_step(\(prefix)_context *context, \((arguments + ["float learning_rate", "float *loss"]).joined(separator: ", ")))"
  }

  var header: String {
    let identifiers = inferArguments
    let sizes = (inputs + outputs).enumerated().map { index, node in
      "#define \(upper)_\(index < inputs.count ? "INPUT" : "OUTPUT")_\(identifiers[index].uppercased())_SIZE \(node.type.elementCount)"
    }
    let trainingAPI = training == nil ? "" : """

      /** One training step on a batch (\(trainInputs.map(describe).joined(separator: "; "))): forward, backward and the
       *  optimizer's update of the weights held by the context; writes the batch's mean loss. */
      \(trainSignature);
      \(exchanges ? communicatorDeclaration : "")
      """
    return """
      /* \(headerName): the C interface of model \(CSource.stringLiteral(graph.name)), generated by Kiln. Do not edit.
       *
       * Inputs:
      \(inputs.map { " *   " + describe($0) }.joined(separator: "\n"))
       * Outputs:
      \(outputs.map { " *   " + describe($0) }.joined(separator: "\n"))
       *
       *   \(prefix)_context *context;
       *   if (\(prefix)_create(&context) != \(upper)_OK) { ... }
       *   \(prefix)_infer(context, input, output);        (caller-owned buffers)
       *   \(prefix)_destroy(context);
       *
       * Functions return \(upper)_OK (0) or an error code, with a message from \(prefix)_last_error.
       * Contexts are independent: several can run at once on different threads, but one context
       * runs one call at a time. Nothing here prints or aborts.
       */
      #ifndef \(upper)_H
      #define \(upper)_H

      #include <stddef.h>
      #include <stdint.h>

      #ifdef __cplusplus
      extern "C" {
      #endif

      \(sizes.joined(separator: "\n"))

      /* Status codes (the values of kiln_status). */
      #define \(upper)_OK 0
      #define \(upper)_ERR_INVALID_ARGUMENT 1
      #define \(upper)_ERR_OUT_OF_MEMORY 2
      #define \(upper)_ERR_SHAPE 3
      #define \(upper)_ERR_IO 4
      #define \(upper)_ERR_CORRUPT_FILE 5
      #define \(upper)_ERR_OUT_OF_RANGE 6
      #define \(upper)_ERR_COMMUNICATION 8

      /** An independent instance of the model: its weights, working memory and last error. */
      typedef struct \(prefix)_context \(prefix)_context;

      /** \(embedsModelWeights ? "Creates a context with the weights embedded in this library." : "This build has no embedded weights (kiln compile --external-weights): returns \(upper)_ERR_INVALID_ARGUMENT; use \(prefix)_create_from_file.") */
      int \(prefix)_create(\(prefix)_context **context);

      /** Creates a context with the weights of a safetensors file (as written by kiln or save_weights).
       *  On failure *context is NULL and, if `error` is not NULL, the reason is written there
       *  (at most `error_size` bytes, NUL-terminated). */
      int \(prefix)_create_from_file(\(prefix)_context **context, const char *weights_path, char *error, size_t error_size);

      /** Frees a context (NULL is allowed). */
      void \(prefix)_destroy(\(prefix)_context *context);

      /** Runs the model: reads the inputs, writes the outputs. */
      \(inferSignature);
      \(trainingAPI)\(detection?.header ?? "")
      /** Copies the weight tensor `name` (e.g. "conv1.weight") into `values` (`count` floats). */
      int \(prefix)_get_weights(const \(prefix)_context *context, const char *name, float *values, size_t count);

      /** Replaces the weight tensor `name` by `count` floats. */
      int \(prefix)_set_weights(\(prefix)_context *context, const char *name, const float *values, size_t count);

      /** Writes the model's weights as safetensors (temporary file, then rename); kiln loads it with --weights. */
      int \(prefix)_save_weights(\(prefix)_context *context, const char *path);

      /** Threads this context's later calls use for their parallel loops (default 1; results are the
       *  same for any count). Products run on these threads too: creating a context sets OpenBLAS
       *  (process-wide) to run each of its calls on its caller's thread. */
      int \(prefix)_set_threads(\(prefix)_context *context, int threads);

      /** What the last failed call of this context said (empty after success). */
      const char *\(prefix)_last_error(const \(prefix)_context *context);

      #ifdef __cplusplus
      }
      #endif

      #endif /* \(upper)_H */

      """
  }

  /// Whether the training step sums gradients over processes (`kiln compile --train --processes N`).
  var exchanges: Bool {
    training?.graph.nodes.contains { if case .allReduce = $0.op { return true } else { return false } } ?? false
  }

  private var communicatorSignature: String {
    "int \(prefix)_set_communicator(\(prefix)_context *context, int (*all_reduce_sum)(void *state, float *values, size_t count), void *state)"
  }

  private var communicatorDeclaration: String {
    """

    /** This context's training step is one process's of a data-parallel job: each step sums the
     *  gradients of all processes (each weighted by its part of the job's batch) by calling
     *  all_reduce_sum(state, values, count) once, which must replace values[0..count) by their sum
     *  over the processes (MPI_Allreduce with MPI_IN_PLACE and MPI_SUM) and return 0, or non-zero
     *  on failure (the step then returns \(upper)_ERR_COMMUNICATION). NULL: this process alone. */
    \(communicatorSignature);

    """
  }

  /// `folds` as initializers of `kiln_batch_norm_fold`, parameters by their float offsets
  /// (`index` into `offsets`); a zeroed entry when there are none (C has no empty arrays).
  private func foldTable(offsets: [Int], index: [String: Int]) -> String {
    guard !folds.isEmpty else { return "{0}" }
    return folds.map { fold in
      let at = { (name: String) in String(offsets[index[name]!]) }
      let weight = parameters[index[fold.weight]!].type
      let fields = [fold.weight, fold.bias].map { $0.map(at) ?? "KILN_NO_BIAS" } + [fold.gamma, fold.beta, fold.mean, fold.variance, fold.foldedWeight, fold.foldedBias].map(at)
        + [String(weight.shape[0]), String(weight.elementCount / weight.shape[0]), "\(Float(fold.epsilon))f"]
      return "{" + fields.joined(separator: ", ") + "}"
    }.joined(separator: ", ")
  }

  var wrapper: String {
    let parameters = self.parameters
    var offsets: [Int] = []
    var total = 0
    for node in parameters {
      offsets.append(total)
      total += node.type.elementCount
    }
    let index = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { ($0.element.name, $0.offset) })
    let modelParameters = graph.parameters.compactMap { index[graph[$0].name] }
    let embeddedIndices = embedded.compactMap { index[$0.name] }
    let shapes = parameters.flatMap { $0.type.shape }
    var shapeOffsets: [Int] = []
    var running = 0
    for node in parameters {
      shapeOffsets.append(running)
      running += node.type.rank
    }
    /// `entry`'s parameter slots as `kiln_slot_binding` initializers.
    func bindings(_ entry: Program) -> String {
      let pairs = entry.graph.parameters.enumerated().map { position, value in
        "{\(entry.graph.inputs.count + position), \(offsets[index[entry.graph[value].name]!])}"
      }
      return pairs.isEmpty ? "{0, 0}" : pairs.joined(separator: ", ")
    }
    /// `entry`'s `kiln_program_table` initializer, its tables named `name`_….
    func table(_ entry: Program, _ name: String, training: Bool) -> String {
      "{\(entrySymbol(training: training)), \(max(entry.arenaSize, 1) * 4), \(entry.slots.count), \(name)_bindings, \(entry.graph.parameters.count), "
        + "\(name)_kept_flags, \(entry.keptFlags.count)}"
    }
    func tables(_ entry: Program, _ name: String) -> String {
      """
      static const kiln_slot_binding \(name)_bindings[] = {\(bindings(entry))};
      static const size_t \(name)_kept_flags[] = {\(CSource.initializer(entry.keptFlags))};
      """
    }
    let arguments = inferArguments
    let nullChecks = arguments.map { "!" + $0 }.joined(separator: " || ")
    // Slots: inputs, parameters, outputs.
    let inferBindings = arguments.enumerated().map { position, identifier in
      "  context->base.infer_slots[\(position < inputs.count ? position : position + inference.graph.parameters.count)] = (float *)\(identifier);"
    }.joined(separator: "\n")
    var trainingFunctions = ""
    var trainingOutputs = (loss: 0, logits: 0, count: 0)
    if let training {
      let t = training.graph
      let argumentNames = Dictionary(zip(trainInputs.map(\.name), identifiers(trainInputs))) { first, _ in first }
      let inputBindings = t.inputs.enumerated().map { position, value in
        "  context->base.train_slots[\(position)] = " + (argumentNames[t[value].name].map { "(float *)\($0);" } ?? "&learning_rate;")
      }.joined(separator: "\n")
      let firstOutput = t.inputs.count + t.parameters.count
      trainingOutputs = (firstOutput, firstOutput + 1, t[t.outputs[1]].type.elementCount)
      let nulls = identifiers(trainInputs).map { "!" + $0 }.joined(separator: " || ")
      trainingFunctions = """

        EXPORT \(trainSignature) {
          if (!context) return KILN_ERR_INVALID_ARGUMENT;
          if (\(nulls) || !loss) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_train_step: an input or output buffer is NULL");
        \(inputBindings)
          return kiln_context_train(&context->base, loss);
        }

        """
      if exchanges {
        trainingFunctions += """

          EXPORT \(communicatorSignature) {
            return context ? kiln_context_set_communicator(&context->base, all_reduce_sum, state) : KILN_ERR_INVALID_ARGUMENT;
          }

          """
      }
    }
    return """
      /* Generated by Kiln: the C interface of model \(CSource.stringLiteral(graph.name)), its constant tables around the runtime's kiln_context. */
      #include <stdlib.h>
      #include "kiln_runtime.h"
      #include "\(prefix).h"

      #define EXPORT __attribute__((visibility("default")))

      int \(entrySymbol(training: false))(float *arena, float **slots, int64_t step, kiln_pool *pool);
      \(training == nil ? "" : "int \(entrySymbol(training: true))(float *arena, float **slots, int64_t step, kiln_pool *pool);")

      /* The embedded initial parameters, read-only and 64-byte aligned; each context copies them. */
      __asm__(\(CSource.stringLiteral(".section .rodata\n.balign 64\n.globl \(prefix)_weights\n.hidden \(prefix)_weights\n\(prefix)_weights:\n.incbin \(CSource.assemblerString(weightsPath))\n.previous\n")));
      extern const float \(prefix)_weights[] __attribute__((visibility("hidden")));

      /* Which parameters the blob holds, in order. */
      static const int embedded_parameters[] = {\(CSource.initializer(embeddedIndices))};
      static const char *const parameter_names[] = {\(parameters.map { CSource.stringLiteral($0.name) }.joined(separator: ", "))};
      static const size_t parameter_offsets[] = {\(offsets.map(String.init).joined(separator: ", "))};
      static const size_t parameter_sizes[] = {\(parameters.map { String($0.type.elementCount) }.joined(separator: ", "))};
      static const int parameter_ranks[] = {\(parameters.map { String($0.type.rank) }.joined(separator: ", "))};
      static const int64_t parameter_shapes[] = {\(CSource.initializer(shapes))};
      static const size_t parameter_shape_offsets[] = {\(shapeOffsets.map(String.init).joined(separator: ", "))};
      /* The model's own parameters (what weight files hold), as indices into the lists above. */
      static const int model_parameters[] = {\(CSource.initializer(modelParameters))};
      /* Each program's parameter slots, and the flags of what its kernels keep between runs (cleared when parameters are written). */
      \(tables(inference, "infer"))
      \(training.map { tables($0, "train") } ?? "")
      /* The batch norms folded into the inference program's convolutions, as offsets into the parameters. */
      static const kiln_batch_norm_fold folds[] = {\(foldTable(offsets: offsets, index: index))};

      static const kiln_model model = {
        \(CSource.stringLiteral(prefix)),
        {\(parameters.count), parameter_names, parameter_offsets, parameter_sizes, parameter_ranks, parameter_shapes, parameter_shape_offsets,
         \(modelParameters.count), model_parameters, \(embeddedIndices.count), embedded_parameters},
        \(total), \(prefix)_weights, \(embedsModelWeights ? 1 : 0),
        folds, \(folds.count),
        \(table(inference, "infer", training: false)),
        \(training.map { table($0, "train", training: true) } ?? "{0}"),
        \(trainingOutputs.loss), \(trainingOutputs.logits), \(trainingOutputs.count)};

      struct \(prefix)_context {
        kiln_context base;
      };

      #define fail(context, status, ...) kiln_fail((context)->base.error, sizeof (context)->base.error, (status), __VA_ARGS__)

      EXPORT int \(prefix)_create(\(prefix)_context **context) {
        if (!context) return KILN_ERR_INVALID_ARGUMENT;
        kiln_context *created = NULL;
        int status = kiln_context_create(&model, &created);
        *context = (\(prefix)_context *)created;
        return status;
      }

      EXPORT int \(prefix)_create_from_file(\(prefix)_context **context, const char *path, char *error, size_t error_size) {
        if (!context) return kiln_fail(error, error_size, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_create_from_file: the context pointer is NULL");
        kiln_context *created = NULL;
        int status = kiln_context_create_from_file(&model, &created, path, error, error_size);
        *context = (\(prefix)_context *)created;
        return status;
      }

      EXPORT void \(prefix)_destroy(\(prefix)_context *context) {
        kiln_context_destroy(context ? &context->base : NULL);
      }

      EXPORT \(inferSignature) {
        if (!context) return KILN_ERR_INVALID_ARGUMENT;
        if (\(nullChecks)) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_infer: an input or output buffer is NULL");
      \(inferBindings)
        return kiln_context_infer(&context->base);
      }
      \(trainingFunctions)\(detection?.function ?? "")
      EXPORT int \(prefix)_get_weights(const \(prefix)_context *context, const char *name, float *values, size_t count) {
        return context ? kiln_context_get_weights(&context->base, name, values, count) : KILN_ERR_INVALID_ARGUMENT;
      }

      EXPORT int \(prefix)_set_weights(\(prefix)_context *context, const char *name, const float *values, size_t count) {
        return context ? kiln_context_set_weights(&context->base, name, values, count) : KILN_ERR_INVALID_ARGUMENT;
      }

      EXPORT int \(prefix)_save_weights(\(prefix)_context *context, const char *path) {
        return context ? kiln_context_save_weights(&context->base, path) : KILN_ERR_INVALID_ARGUMENT;
      }

      EXPORT int \(prefix)_set_threads(\(prefix)_context *context, int threads) {
        return context ? kiln_context_set_threads(&context->base, threads) : KILN_ERR_INVALID_ARGUMENT;
      }

      EXPORT const char *\(prefix)_last_error(const \(prefix)_context *context) {
        return context ? kiln_context_last_error(&context->base) : "\(prefix): no context";
      }

      """
  }
}
