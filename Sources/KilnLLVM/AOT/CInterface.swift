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
      "context", "result", "status", "fail", "find", "create_context", "model_tensors", "blob", "tensors", "message", "values",
      "name", "count", "path", "threads", "learning_rate", "loss", "i", "p", "embedded_parameters", "parameter_names",
      "parameter_offsets", "parameter_sizes", "parameter_ranks", "parameter_shapes", "parameter_shape_offsets", "model_parameters",
      "PARAMETER_COUNT", "PARAMETER_FLOATS", "MODEL_PARAMETER_COUNT", "EMBEDDED_COUNT", "EMBEDS_MODEL_WEIGHTS", "folds", "FOLD_COUNT",
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
    func bind(_ entry: Program, _ pointers: [String]) -> String {
      entry.graph.parameters.enumerated().map { position, value in
        "  context->\(pointers[0])[\(entry.graph.inputs.count + position)] = context->parameters + \(offsets[index[entry.graph[value].name]!]);"
      }.joined(separator: "\n")
    }
    let inferSlots = inference.slots.count
    let arguments = inferArguments
    let nullChecks = arguments.map { "!" + $0 }.joined(separator: " || ")
    // Slots: inputs, parameters, outputs.
    let inferBindings = arguments.enumerated().map { position, identifier in
      "  context->infer_slots[\(position < inputs.count ? position : position + inference.graph.parameters.count)] = (float *)\(identifier);"
    }.joined(separator: "\n")
    var trainingParts = (fields: "", create: "", destroy: "", function: "")
    if let training {
      let t = training.graph
      let trainSlots = training.slots.count
      let firstOutput = t.inputs.count + t.parameters.count
      let argumentNames = Dictionary(zip(trainInputs.map(\.name), identifiers(trainInputs))) { first, _ in first }
      let inputBindings = t.inputs.enumerated().map { position, value in
        "  context->train_slots[\(position)] = " + (argumentNames[t[value].name].map { "(float *)\($0);" } ?? "&learning_rate;")
      }.joined(separator: "\n")
      let logits = t[t.outputs[1]].type.elementCount
      trainingParts.fields = "\n  kiln_arena train_arena;\n  float *train_slots[\(trainSlots)];\n  float logits[\(logits)];\n  int64_t steps;\n  kiln_communicator communicator;"
      trainingParts.create = """

          if (kiln_arena_init(&context->train_arena, \(max(training.arenaSize, 1) * 4), 64) != KILN_OK) {
            \(prefix)_destroy(context);
            return KILN_ERR_OUT_OF_MEMORY;
          }
        \(bind(training, ["train_slots"]))
          context->train_slots[\(firstOutput + 1)] = context->logits;
        """
      trainingParts.destroy = "\n  kiln_arena_free(&context->train_arena);"
      let nulls = identifiers(trainInputs).map { "!" + $0 }.joined(separator: " || ")
      trainingParts.function = """

        EXPORT \(trainSignature) {
          if (!context) return KILN_ERR_INVALID_ARGUMENT;
          context->error[0] = 0;
          if (\(nulls) || !loss) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_train_step: an input or output buffer is NULL");
        \(inputBindings)
          context->train_slots[\(firstOutput)] = loss;
          int status = \(entrySymbol(training: true))((float *)context->train_arena.base, context->train_slots, context->steps, context->pool);
          /* The step updated the weights the inference entry derives its folded weights and kept memory from. */
          context->folds_stale = 1;
          kiln_arena_mark_stale(&context->arena, infer_kept_flags, INFER_KEPT_COUNT);
          if (status != KILN_OK)
            return fail(context, status, "\(prefix)_train_step: %s%s", kiln_status_string((kiln_status)status), status == KILN_ERR_OUT_OF_RANGE ? " (a class label outside its range)" : "");
          context->steps++;
          return KILN_OK;
        }

        """
      if exchanges {
        trainingParts.function += """

          /* The pool carries the communicator to the all-reduce of the training step. */
          static int connect(\(prefix)_context *context) {
            if (!context->communicator.all_reduce_sum) return context->pool ? kiln_pool_set_communicator(context->pool, NULL) : KILN_OK;
            if (!context->pool && kiln_pool_create(&context->pool, 1) != KILN_OK) return KILN_ERR_OUT_OF_MEMORY;
            return kiln_pool_set_communicator(context->pool, &context->communicator);
          }

          EXPORT \(communicatorSignature) {
            if (!context) return KILN_ERR_INVALID_ARGUMENT;
            context->communicator.all_reduce_sum = all_reduce_sum;
            context->communicator.state = state;
            int status = connect(context);
            return status == KILN_OK ? KILN_OK : fail(context, status, "\(prefix)_set_communicator: %s", kiln_status_string((kiln_status)status));
          }

          """
      }
    }
    return """
      /* Generated by Kiln: the C interface of model \(CSource.stringLiteral(graph.name)) around its compiled kernels. */
      #include <stdlib.h>
      #include <string.h>
      #include "kiln_runtime.h"
      #include "\(prefix).h"

      #define EXPORT __attribute__((visibility("default")))

      int \(entrySymbol(training: false))(float *arena, float **slots, int64_t step, kiln_pool *pool);
      \(training == nil ? "" : "int \(entrySymbol(training: true))(float *arena, float **slots, int64_t step, kiln_pool *pool);")

      /* The embedded initial parameters, read-only and 64-byte aligned; each context copies them. */
      __asm__(\(CSource.stringLiteral(".section .rodata\n.balign 64\n.globl \(prefix)_weights\n.hidden \(prefix)_weights\n\(prefix)_weights:\n.incbin \(CSource.assemblerString(weightsPath))\n.previous\n")));
      extern const float \(prefix)_weights[] __attribute__((visibility("hidden")));

      enum { PARAMETER_COUNT = \(parameters.count), PARAMETER_FLOATS = \(max(total, 1)), MODEL_PARAMETER_COUNT = \(modelParameters.count),
             EMBEDDED_COUNT = \(embeddedIndices.count), EMBEDS_MODEL_WEIGHTS = \(embedsModelWeights ? 1 : 0) };
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
      static const kiln_parameter_table parameter_table = {
        PARAMETER_COUNT, parameter_names, parameter_offsets, parameter_sizes, parameter_ranks, parameter_shapes, parameter_shape_offsets,
        MODEL_PARAMETER_COUNT, model_parameters, EMBEDDED_COUNT, embedded_parameters};
      /* The flags of what kernels keep between runs, cleared when parameters are written (kiln_arena_mark_stale). */
      static const size_t infer_kept_flags[] = {\(CSource.initializer(inference.keptFlags))};
      enum { INFER_KEPT_COUNT = \(inference.keptFlags.count) };\(training.map { "\nstatic const size_t train_kept_flags[] = {\(CSource.initializer($0.keptFlags))};\nenum { TRAIN_KEPT_COUNT = \($0.keptFlags.count) };" } ?? "")
      /* The batch norms folded into the inference program's convolutions, as offsets into the parameters. */
      static const kiln_batch_norm_fold folds[] = {\(foldTable(offsets: offsets, index: index))};
      enum { FOLD_COUNT = \(folds.count) };

      struct \(prefix)_context {
        kiln_arena arena;
        kiln_arena parameter_block; /* holds `parameters` (huge pages when large) */
        float *parameters;
        int folds_stale; /* the folded weights are to be computed again before the next inference */
        float *infer_slots[\(inferSlots)];\(trainingParts.fields)
        kiln_pool *pool;
        char error[256];
      };

      #define fail(context, status, ...) kiln_fail((context)->error, sizeof (context)->error, (status), __VA_ARGS__)

      EXPORT void \(prefix)_destroy(\(prefix)_context *context) {
        if (!context) return;
        kiln_pool_destroy(context->pool);
        kiln_arena_free(&context->arena);\(trainingParts.destroy)
        kiln_arena_free(&context->parameter_block);
        free(context);
      }

      /* A context with the embedded parameters (the rest zero). */
      static int create_context(\(prefix)_context **result) {
        if (!result) return KILN_ERR_INVALID_ARGUMENT;
        *result = NULL;
        kiln_blas_prepare();
        \(prefix)_context *context = calloc(1, sizeof *context);
        if (!context) return KILN_ERR_OUT_OF_MEMORY;
        if (kiln_arena_init(&context->parameter_block, PARAMETER_FLOATS * sizeof(float), 64) != KILN_OK
            || kiln_arena_init(&context->arena, \(max(inference.arenaSize, 1) * 4), 64) != KILN_OK) {
          \(prefix)_destroy(context);
          return KILN_ERR_OUT_OF_MEMORY;
        }
        context->parameters = (float *)context->parameter_block.base;
        context->folds_stale = 1;
        kiln_parameters_unpack(&parameter_table, context->parameters, \(prefix)_weights);
      \(bind(inference, ["infer_slots"]))\(trainingParts.create)
        *result = context;
        return KILN_OK;
      }

      EXPORT int \(prefix)_create(\(prefix)_context **result) {
        if (!EMBEDS_MODEL_WEIGHTS) {
          if (result) *result = NULL;
          return KILN_ERR_INVALID_ARGUMENT;
        }
        return create_context(result);
      }

      EXPORT int \(prefix)_create_from_file(\(prefix)_context **result, const char *path, char *error, size_t error_size) {
        if (error && error_size) error[0] = 0;
        int status = create_context(result);
        if (status != KILN_OK) return kiln_fail(error, error_size, status, "\(prefix)_create_from_file: %s", kiln_status_string((kiln_status)status));
        status = kiln_parameters_load(&parameter_table, (*result)->parameters, path, error, error_size);
        if (status != KILN_OK) {
          \(prefix)_destroy(*result);
          *result = NULL;
        }
        return status;
      }

      EXPORT \(inferSignature) {
        if (!context) return KILN_ERR_INVALID_ARGUMENT;
        context->error[0] = 0;
        if (\(nullChecks)) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_infer: an input or output buffer is NULL");
      \(inferBindings)
        if (context->folds_stale) {
          kiln_fold_batch_norms(context->parameters, folds, FOLD_COUNT);
          context->folds_stale = 0;
        }
        int status = \(entrySymbol(training: false))((float *)context->arena.base, context->infer_slots, 0, context->pool);
        if (status != KILN_OK) return fail(context, status, "\(prefix)_infer: %s (an embedding index outside its range)", kiln_status_string((kiln_status)status));
        return KILN_OK;
      }
      \(trainingParts.function)\(detection?.function ?? "")
      EXPORT int \(prefix)_get_weights(const \(prefix)_context *context, const char *name, float *values, size_t count) {
        int p = kiln_parameter_find(&parameter_table, name);
        if (!context || !values || p < 0 || count != parameter_sizes[p]) return KILN_ERR_INVALID_ARGUMENT;
        memcpy(values, context->parameters + parameter_offsets[p], count * sizeof(float));
        return KILN_OK;
      }

      EXPORT int \(prefix)_set_weights(\(prefix)_context *context, const char *name, const float *values, size_t count) {
        if (!context) return KILN_ERR_INVALID_ARGUMENT;
        int p = kiln_parameter_find(&parameter_table, name);
        if (p < 0) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_set_weights: the model has no weights named %s", name ? name : "(null)");
        if (!values) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_set_weights: the values of %s are NULL", name);
        if (count != parameter_sizes[p]) return fail(context, KILN_ERR_SHAPE, "\(prefix)_set_weights: %s holds %zu values, not %zu", name, parameter_sizes[p], count);
        memcpy(context->parameters + parameter_offsets[p], values, count * sizeof(float));
        context->folds_stale = 1;
        kiln_arena_mark_stale(&context->arena, infer_kept_flags, INFER_KEPT_COUNT);\(training == nil ? "" : "\n  kiln_arena_mark_stale(&context->train_arena, train_kept_flags, TRAIN_KEPT_COUNT);")
        return KILN_OK;
      }

      EXPORT int \(prefix)_save_weights(\(prefix)_context *context, const char *path) {
        if (!context || !path) return KILN_ERR_INVALID_ARGUMENT;
        context->error[0] = 0;
        return kiln_parameters_save(&parameter_table, context->parameters, path, context->error, sizeof context->error);
      }

      EXPORT int \(prefix)_set_threads(\(prefix)_context *context, int threads) {
        if (!context) return KILN_ERR_INVALID_ARGUMENT;
        if (threads < 1) return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_set_threads: %d threads; give 1 or more", threads);
        kiln_pool_destroy(context->pool);
        context->pool = NULL;
        if (threads > 1 && kiln_pool_create(&context->pool, threads) != KILN_OK) return fail(context, KILN_ERR_OUT_OF_MEMORY, "\(prefix)_set_threads: cannot start %d threads", threads);\(exchanges ? "\n  if (connect(context) != KILN_OK) return fail(context, KILN_ERR_OUT_OF_MEMORY, \"\(prefix)_set_threads: cannot keep the communicator\");" : "")
        return KILN_OK;
      }

      EXPORT const char *\(prefix)_last_error(const \(prefix)_context *context) {
        return context ? context->error : "\(prefix): no context";
      }

      """
  }
}
