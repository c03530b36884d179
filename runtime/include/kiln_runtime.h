/* Kiln C runtime: the small C layer shared by JIT-compiled code and every exported model.
 *
 * C99, no global state. Functions are named kiln_<what>, return a kiln_status, and put their
 * outputs first. Nothing here prints, aborts or exits: errors are status codes.
 */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes returned by every runtime and generated entry point (0 is success). */
typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERR_INVALID_ARGUMENT = 1, /**< a null pointer, a zero size, a bad alignment */
  KILN_ERR_OUT_OF_MEMORY = 2,    /**< an allocation failed */
  KILN_ERR_SHAPE = 3,            /**< a buffer's shape does not match the model */
  KILN_ERR_IO = 4,               /**< a file could not be opened, read or written */
  KILN_ERR_CORRUPT_FILE = 5,     /**< a file is truncated or inconsistent */
  KILN_ERR_OUT_OF_RANGE = 6,     /**< an index (label, embedding id) is outside its range */
  KILN_ERR_INTERNAL = 7,         /**< a bug in Kiln: please report it */
  KILN_ERR_COMMUNICATION = 8     /**< the all-reduce of a data-parallel step failed (another process died) */
} kiln_status;

/** A short, static, human-readable description of `status` (never NULL). */
const char *kiln_status_string(kiln_status status);

/**
 * One aligned block of memory that holds every intermediate tensor of a compiled model.
 * The memory planner assigns each tensor a byte offset; kernels reach it with kiln_arena_at.
 */
typedef struct kiln_arena {
  unsigned char *base; /**< start of the block, aligned to `alignment` */
  size_t size;         /**< usable bytes */
  size_t alignment;    /**< a power of two, at least sizeof(void *) */
} kiln_arena;

/** Blocks of this many bytes or more are aligned to it and backed by huge pages where the kernel allows. */
#define KILN_HUGE_PAGE ((size_t)2 << 20)

/**
 * Allocates `size` bytes aligned to `alignment` (a power of two >= sizeof(void *)) and zeroes them;
 * from KILN_HUGE_PAGE bytes on, in whole huge pages (aligned to KILN_HUGE_PAGE, advised as huge
 * pages on Linux). On failure `*arena` is left empty (base NULL, size 0).
 */
kiln_status kiln_arena_init(kiln_arena *arena, size_t size, size_t alignment);

/** Frees the block and empties `*arena`. Safe on an empty or already freed arena and on NULL. */
void kiln_arena_free(kiln_arena *arena);

/**
 * Pointer to the `bytes`-long region at `offset`, or NULL when the region does not fit in the
 * arena or the arena is empty.
 */
void *kiln_arena_at(const kiln_arena *arena, size_t offset, size_t bytes);

/**
 * Marks what kernels keep in the arena between runs as stale: zeroes the float at each of the
 * `count` float offsets `flags` (a program's kept-memory flags), so that the kernels derive it
 * from the weights again on their next run (Winograd's transformed weights). Call it after
 * writing parameters. Offsets outside the arena are skipped.
 */
void kiln_arena_mark_stale(kiln_arena *arena, const size_t *flags, size_t count);

/** `kiln_batch_norm_fold.bias` of a convolution without a bias. */
#define KILN_NO_BIAS ((size_t)-1)

/**
 * A batch norm folded into the convolution before it (Kiln's BatchNormFold), as float offsets
 * into a block of parameters: with s = gamma / sqrt(variance + epsilon) per output channel,
 * folded_weight = weight * s and folded_bias = (bias - mean) * s + beta (bias 0 when KILN_NO_BIAS).
 */
typedef struct kiln_batch_norm_fold {
  size_t weight, bias, gamma, beta, mean, variance; /**< the convolution's and the batch norm's parameters */
  size_t folded_weight, folded_bias;                /**< where the folded ones go */
  size_t channels;                                  /**< output channels */
  size_t per_channel;                               /**< weights per output channel */
  float epsilon;
} kiln_batch_norm_fold;

/** Computes the folded weights and biases of `count` folds in `parameters`. */
void kiln_fold_batch_norms(float *parameters, const kiln_batch_norm_fold *folds, size_t count);

/**
 * A fixed set of worker threads that runs parallel loops for compiled kernels. A loop's iterations
 * are cut into pieces that the threads take as they become free; every iteration is computed by
 * the same code in the same order whichever thread runs it, so results do not depend on the
 * thread count.
 */
typedef struct kiln_pool kiln_pool;

/** The body of a parallel loop: runs iterations [begin, end) with `context`. */
typedef void (*kiln_task)(void *context, int64_t begin, int64_t end);

/** Creates a pool running loops on `threads` threads (the caller's plus threads − 1 workers). */
kiln_status kiln_pool_create(kiln_pool **pool, int threads);

/** Stops and frees a pool (NULL is allowed). */
void kiln_pool_destroy(kiln_pool *pool);

/** Threads a pool runs loops on (1 for NULL). */
int kiln_pool_threads(const kiln_pool *pool);

/**
 * Runs task(context, begin, end) over [0, count) in contiguous pieces spread over the threads,
 * and returns when all are done. With a NULL pool, one thread or a small count it runs inline.
 * Iterations must write disjoint memory. One loop at a time per pool.
 */
void kiln_parallel_for(kiln_pool *pool, int64_t count, kiln_task task, void *context);

/**
 * How the processes of a data-parallel training job sum their gradients: the host's all-reduce
 * (MPI_Allreduce with MPI_SUM over MPI_COMM_WORLD, or anything else), called once per training
 * step on one contiguous buffer. `all_reduce_sum` replaces values[0..count) on every process by
 * their sum over all processes and returns 0, or non-zero on failure. Kiln itself does not link MPI.
 */
typedef struct kiln_communicator {
  void *state; /**< passed back to all_reduce_sum */
  int (*all_reduce_sum)(void *state, float *values, size_t count);
} kiln_communicator;

/**
 * Gives a pool the communicator its compiled code's all-reduce nodes use (NULL: this process
 * alone). The pool holds a copy of the struct; `state` must outlive it.
 */
kiln_status kiln_pool_set_communicator(kiln_pool *pool, const kiln_communicator *communicator);

/**
 * An all-reduce node of a training step: values[i] ← Σ over processes of weight · values[i],
 * through the pool's communicator; with no pool or no communicator, values[i] ← weight · values[i].
 */
kiln_status kiln_all_reduce(kiln_pool *pool, float *values, int64_t count, float weight);

/**
 * A file being written whole or not at all: kiln_atomic_file_open, any number of
 * kiln_atomic_file_write, then kiln_atomic_file_commit (which renames it over `path`) or
 * kiln_atomic_file_abort (which leaves `path` as it was). Until the commit the file has no name
 * (O_TMPFILE) or a unique temporary one, so concurrent writers and killed processes never leave
 * a torn file at `path`. Commit and abort free everything; abort is safe after either.
 */
typedef struct kiln_atomic_file {
  int fd;          /**< the open file, or -1 */
  int named;       /**< whether `temporary` exists on disk and must be removed on abort */
  char *path;      /**< the destination */
  char *temporary; /**< the temporary name, once there is one */
} kiln_atomic_file;

/** Starts writing `path` (its directory must exist and be writable). */
kiln_status kiln_atomic_file_open(kiln_atomic_file *file, const char *path, char *error, size_t error_size);

/** Appends `size` bytes. */
kiln_status kiln_atomic_file_write(kiln_atomic_file *file, const void *bytes, size_t size, char *error, size_t error_size);

/** Syncs the file and renames it over its destination; on failure the destination is untouched. */
kiln_status kiln_atomic_file_commit(kiln_atomic_file *file, char *error, size_t error_size);

/** Discards what was written (nothing is left on disk) and frees the writer. */
void kiln_atomic_file_abort(kiln_atomic_file *file);

/** One named f32 tensor a model expects in (or writes to) a safetensors file. */
typedef struct kiln_tensor {
  const char *name;
  const int64_t *shape; /**< `rank` dimensions */
  int rank;
  float *data;          /**< product(shape) floats */
} kiln_tensor;

/**
 * Reads every tensor of `tensors` from the safetensors file at `path` into its `data`. The file
 * must hold exactly these tensors (names, F32, shapes); anything else — a missing, extra,
 * duplicated or misshapen tensor, overlapping data, a header that is not strict JSON, nested
 * deeper than 64 levels or longer than 100 MB, a truncated file — is an error described in
 * `error`, and then no `data` has been changed. Files come from anywhere: the reader is
 * iterative and checks every size it computes.
 */
kiln_status kiln_safetensors_load(const char *path, const kiln_tensor *tensors, size_t count, char *error, size_t error_size);

/** Writes `tensors` as a safetensors file, to a temporary name renamed over `path`. */
kiln_status kiln_safetensors_save(const char *path, const kiln_tensor *tensors, size_t count, char *error, size_t error_size);

/**
 * The parameters a compiled model's context holds in one buffer of floats (the model's own,
 * optimizer state, folded weights), described by the library's constant tables: which of them
 * are the model's own (what weight files hold and what get/set_weights name) and which the
 * library embeds.
 */
typedef struct kiln_parameter_table {
  size_t count;                /**< every parameter the buffer holds */
  const char *const *names;
  const size_t *offsets;       /**< in floats from the buffer's start */
  const size_t *sizes;         /**< in floats */
  const int *ranks;
  const int64_t *shapes;       /**< every parameter's dimensions, one parameter after another */
  const size_t *shape_offsets; /**< where each parameter's dimensions start in `shapes` */
  size_t model_count;
  const int *model;            /**< the model's own parameters, as indices into the lists above */
  size_t embedded_count;
  const int *embedded;         /**< the parameters the embedded blob holds, in its order */
} kiln_parameter_table;

/** The index of the model's parameter `name` in `table`, or -1 (also for NULL). */
int kiln_parameter_find(const kiln_parameter_table *table, const char *name);

/** Copies the embedded blob (each embedded parameter's floats, one after another) into `buffer`. */
void kiln_parameters_unpack(const kiln_parameter_table *table, float *buffer, const float *blob);

/** Reads the model's parameters into `buffer` from a safetensors file (see kiln_safetensors_load). */
kiln_status kiln_parameters_load(const kiln_parameter_table *table, float *buffer, const char *path, char *error, size_t error_size);

/** Writes the model's parameters in `buffer` as a safetensors file (see kiln_safetensors_save). */
kiln_status kiln_parameters_save(const kiln_parameter_table *table, float *buffer, const char *path, char *error, size_t error_size);

/** Formats a message into `error` (`error_size` bytes, printf's rules) and returns `status`. */
int kiln_fail(char *error, size_t error_size, int status, const char *format, ...) __attribute__((format(printf, 4, 5)));

/** A compiled program's entry function: runs its steps on `arena` and the caller's `slots`. */
typedef int (*kiln_entry)(float *arena, float **slots, int64_t step, kiln_pool *pool);

/** One of a program's slots bound to a parameter: slots[slot] = parameters + offset (floats). */
typedef struct kiln_slot_binding {
  size_t slot, offset;
} kiln_slot_binding;

/** How a context runs one compiled program (inference, or the training step). */
typedef struct kiln_program_table {
  kiln_entry entry;                  /**< NULL: the library has no such program */
  size_t arena_bytes, slot_count;
  const kiln_slot_binding *bindings; /**< its parameters' slots */
  size_t binding_count;
  const size_t *kept_flags;          /**< see kiln_arena_mark_stale */
  size_t kept_count;
} kiln_program_table;

/**
 * What a compiled model's library holds, as constant tables: its parameters and their embedded
 * initial values, its batch-norm folds, its inference and training programs. The library's
 * exported functions are thin wrappers around the kiln_context functions over it.
 */
typedef struct kiln_model {
  const char *prefix;                 /**< the library's symbol prefix, which error messages begin with */
  kiln_parameter_table parameters;
  size_t parameter_floats;
  const float *weights;               /**< the embedded blob (see kiln_parameters_unpack) */
  int embeds_model_weights;           /**< whether kiln_context_create may start from the blob alone */
  const kiln_batch_norm_fold *folds;  /**< folded into the inference program (kiln_fold_batch_norms) */
  size_t fold_count;
  kiln_program_table infer, train;
  size_t loss_slot, logits_slot, logits_count; /**< the training step's outputs */
} kiln_model;

/** An independent instance of a model: its parameters, working memory, threads and last error. */
typedef struct kiln_context {
  const kiln_model *model;
  kiln_arena arena, train_arena, parameter_block;
  float *parameters;               /**< in `parameter_block` (huge pages when large) */
  int folds_stale;                 /**< the folded weights are to be computed before the next inference */
  float **infer_slots, **train_slots;
  float *logits;
  int64_t steps;
  kiln_communicator communicator;
  kiln_pool *pool;
  char error[256];
} kiln_context;

/** A context with the embedded parameters (the rest zero), or an error (then *context is NULL). */
kiln_status kiln_context_create(const kiln_model *model, kiln_context **context);

/** A context with the model's parameters read from a safetensors file; the reason of a failure in `error`. */
kiln_status kiln_context_create_from_file(const kiln_model *model, kiln_context **context, const char *path, char *error, size_t error_size);

/** Frees a context (NULL is allowed). */
void kiln_context_destroy(kiln_context *context);

/** Runs inference once the caller has put its inputs' and outputs' buffers in `infer_slots`. */
int kiln_context_infer(kiln_context *context);

/** Runs a training step once the caller has put its inputs in `train_slots`; writes the mean loss. */
int kiln_context_train(kiln_context *context, float *loss);

/** Copies the model's parameter `name` (`count` floats) into `values`. */
int kiln_context_get_weights(const kiln_context *context, const char *name, float *values, size_t count);

/** Replaces the model's parameter `name` by `count` floats; what kernels derived from it is redone. */
int kiln_context_set_weights(kiln_context *context, const char *name, const float *values, size_t count);

/** Writes the model's parameters as a safetensors file. */
int kiln_context_save_weights(kiln_context *context, const char *path);

/** Threads the context's later calls use (1: the caller's alone). */
int kiln_context_set_threads(kiln_context *context, int threads);

/** The all-reduce the training step sums gradients over processes with (NULL: this process alone). */
int kiln_context_set_communicator(kiln_context *context, int (*all_reduce_sum)(void *state, float *values, size_t count), void *state);

/** What the context's last failed call said (empty after success). */
const char *kiln_context_last_error(const kiln_context *context);

/**
 * The name of the kernel family OpenBLAS chose for this CPU when it loaded ("Cooperlake",
 * "SkylakeX", "Haswell", "Prescott", …). Benchmarks report it: a wrong guess costs 5–10×.
 */
const char *kiln_blas_core(void);

/**
 * Prepares OpenBLAS for Kiln's kernels, once per process, before the first product of every
 * context (contexts call it when created):
 * - the kernel family this CPU's instructions call for, when OpenBLAS chose an older one when it
 *   loaded: Debian's OpenBLAS 0.3.21 does not know CPUs newer than it (Intel Emerald Rapids) and
 *   falls back to "Prescott" (SSE3), 5–8× slower, and OPENBLAS_CORETYPE is read only at load time,
 *   which a host program loading a Kiln library does not control. On a CPU with AVX-512 the kernel
 *   becomes SkylakeX unless it already is an AVX-512 one; with AVX2 and FMA, Haswell unless it
 *   already uses them (Zen, Haswell, …). Needs an OpenBLAS built with DYNAMIC_ARCH, otherwise
 *   this part does nothing; the choice replaces whatever OPENBLAS_CORETYPE asked for when older.
 * - one thread per OpenBLAS call (openblas_set_num_threads(1), process-wide): Kiln splits its
 *   products across its own pool (kiln_sgemm), and OpenBLAS's threads would compete with it.
 *   A host that calls OpenBLAS itself and wants its threads back sets them after this.
 */
void kiln_blas_prepare(void);

/**
 * C = op(A)·op(B) + beta·C, row-major (op: transposed when `transpose_a` / `transpose_b` is not 0),
 * as cblas_sgemm with alpha 1, run on `pool`'s threads: products of two million multiply-adds
 * or more are split into pieces of rows or columns of C (fixed by the shape, so results do not
 * depend on the thread count), each piece one OpenBLAS call. A NULL pool runs them all here.
 */
void kiln_sgemm(kiln_pool *pool, int transpose_a, int transpose_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc);

/**
 * y = op(A)·x + beta·y for a row-major `rows`×`columns` A (op: transposed when `transpose` is not
 * 0), as cblas_sgemv with alpha 1, on `pool`'s threads: products of 2^17 elements or more are split
 * into pieces of outputs (each output is the same sum whatever the pieces). NULL: all here.
 */
void kiln_sgemv(kiln_pool *pool, int transpose, int rows, int columns, const float *a, int lda, const float *x, int incx, float beta, float *y,
                int incy);

/* ---- Object detection: decoding a YOLO-style grid, non-maximum suppression ---- */

/** One object: corners in input pixels (x0, y0 top left; x1, y1 bottom right), class, score 0…1. */
typedef struct kiln_detection {
  float x0, y0, x1, y1;
  int32_t label;
  float score;
} kiln_detection;

/**
 * The layout of a YOLO-style detector's output for one image, `[5 + classes, cells, cells]`: per
 * cell an objectness logit, box logits tx, ty, tw, th, and class logits (Kiln's `YOLOGrid`).
 */
typedef struct kiln_yolo_grid {
  int32_t cells, classes;
  int32_t width, height; /**< the input's size in pixels */
} kiln_yolo_grid;

/**
 * Decodes one image's output: for each cell (row-major) whose score σ(objectness) × the best
 * class's softmax probability is at least `score_threshold`, writes a detection centred at
 * ((column + σ(tx))·width/cells, (row + σ(ty))·height/cells), σ(tw)²·width wide and σ(th)²·height
 * high. `detections` has room for cells² entries; `count` receives how many were written. The
 * same arithmetic as `YOLOGrid.decode` in Swift, so both give the same numbers.
 */
kiln_status kiln_yolo_decode(const float *output, const kiln_yolo_grid *grid, float score_threshold, kiln_detection *detections, size_t *count);

/**
 * Greedy non-maximum suppression in place: sorts `detections` by descending score (ties keep
 * their order), then keeps a detection unless its IoU with an already kept one of the same class
 * (any class when `per_class` is 0) exceeds `iou_threshold`; at most `max_kept`. The kept ones end
 * up first, best first; `kept` receives their number. O(count²), with no allocation — meant for
 * the few hundred candidates of a detector's grid. As `NonMaximumSuppression.apply` in Swift.
 */
kiln_status kiln_nms(kiln_detection *detections, size_t count, float iou_threshold, int per_class, size_t max_kept, size_t *kept);

#ifdef __cplusplus
}
#endif

#endif /* KILN_RUNTIME_H */
