#include "kiln_runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Declared by OpenBLAS's openblas_config.h; repeated here to keep the runtime's headers plain. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int threads);
extern void cblas_sgemm(int order, int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc);
extern void cblas_sgemv(int order, int transpose, int m, int n, float alpha, const float *a, int lda, const float *x, int incx, float beta,
                        float *y, int incy);
/* Only in OpenBLAS built with DYNAMIC_ARCH (Debian's is): forget the chosen kernel, choose again
 * (from OPENBLAS_CORETYPE when set). Weak, so a single-target OpenBLAS still links. */
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));

const char *kiln_blas_core(void) { return openblas_get_corename(); }

/* The OpenBLAS kernel family this CPU's instructions call for: SkylakeX with AVX-512 (F, BW, DQ,
 * VL: what its kernels use), Haswell with AVX2 and FMA; NULL for older CPUs. */
static const char *native_core(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return NULL;
}

/* Whether OpenBLAS's kernel family `core` already uses the instructions `native` names. */
static int core_uses(const char *core, const char *native) {
  static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
  static const char *const avx2[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", NULL};
  for (const char *const *name = strcmp(native, "SkylakeX") == 0 ? avx512 : avx2; *name; name++) {
    if (strcasecmp(core, *name) == 0) return 1;
  }
  return 0;
}

static void choose_native_core(void) {
  const char *native = native_core();
  if (!native || !gotoblas_dynamic_quit || !gotoblas_dynamic_init || core_uses(openblas_get_corename(), native)) return;
  const char *given = getenv("OPENBLAS_CORETYPE");
  char *kept = given ? strdup(given) : NULL;
  setenv("OPENBLAS_CORETYPE", native, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  if (kept) {
    setenv("OPENBLAS_CORETYPE", kept, 1);
    free(kept);
  } else {
    unsetenv("OPENBLAS_CORETYPE");
  }
}

/* Kiln's kernels run their products on their own pool; OpenBLAS's threads would only compete
 * with it (on two cores, its workers yield-spinning after each product took a third of LeNet-5's
 * training time in the scheduler). */
static void prepare(void) {
  choose_native_core();
  openblas_set_num_threads(1);
}

void kiln_blas_prepare(void) {
  /* The kernel and the thread count are process state of OpenBLAS, so they are set once per process. */
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, prepare);
}

/* CBLAS's constants, and the most pieces a product is split into (enough for a few threads). */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112, MAX_PIECES = 16 };

/* The length of the pieces `side` rows, columns or outputs are split into: one piece per
 * `work_per_piece` of `work`, at most MAX_PIECES, each at least `minimum` long. */
static int piece_length(int64_t work, int64_t work_per_piece, int side, int minimum) {
  int64_t pieces = work / work_per_piece;
  if (pieces > MAX_PIECES) pieces = MAX_PIECES;
  if (pieces > side / minimum) pieces = side / minimum;
  if (pieces < 1) pieces = 1;
  return (int)((side + pieces - 1) / pieces);
}

/* Products of at least GEMV_PARALLEL elements run in pieces of outputs on the pool, at most
 * MAX_PIECES of them. Every output is one OpenBLAS dot product or axpy sum whatever the pieces. */
enum { GEMV_PARALLEL = 1 << 17 };

typedef struct gemv_pieces {
  int transpose, rows, columns, lda, incx, incy, piece;
  const float *a, *x;
  float beta;
  float *y;
} gemv_pieces;

static void run_gemv_pieces(void *raw, int64_t begin, int64_t end) {
  const gemv_pieces *g = raw;
  int outputs = g->transpose ? g->columns : g->rows;
  for (int64_t index = begin; index < end; index++) {
    int first = (int)index * g->piece, count = outputs - first < g->piece ? outputs - first : g->piece;
    float *y = g->y + (int64_t)first * g->incy;
    if (g->transpose) {
      cblas_sgemv(ROW_MAJOR, TRANS, g->rows, count, 1, g->a + first, g->lda, g->x, g->incx, g->beta, y, g->incy);
    } else {
      cblas_sgemv(ROW_MAJOR, NO_TRANS, count, g->columns, 1, g->a + (int64_t)first * g->lda, g->lda, g->x, g->incx, g->beta, y, g->incy);
    }
  }
}

void kiln_sgemv(kiln_pool *pool, int transpose, int rows, int columns, const float *a, int lda, const float *x, int incx, float beta, float *y,
                int incy) {
  int outputs = transpose ? columns : rows;
  gemv_pieces g = {transpose, rows, columns, lda, incx, incy, piece_length((int64_t)rows * columns, GEMV_PARALLEL, outputs, 16), a, x, beta, y};
  kiln_parallel_for(pool, (outputs + g.piece - 1) / g.piece, run_gemv_pieces, &g);
}

/* Products of at least PIECE_WORK multiply-adds per piece run in pieces on the pool, each at
 * least MIN_PIECE rows or columns. The pieces depend on the shape alone, and every thread count
 * runs the same pieces, so results do not depend on it. With 128, the 196 columns of a 14x14
 * pointwise layer were one piece, on one thread (DenseNet-121 at batch 1, two threads, Zen 4:
 * 35.5-35.7 -> 33.0-34.4 ms with 64; MobileNet v2 4.58-4.68 -> 4.41-4.43 ms). */
enum { PIECE_WORK = 1 << 20, MIN_PIECE = 64 };

typedef struct gemm_pieces {
  int transpose_a, transpose_b, m, n, k, lda, ldb, ldc, by_rows, piece;
  const float *a, *b;
  float beta;
  float *c;
} gemm_pieces;

static void run_gemm_pieces(void *raw, int64_t begin, int64_t end) {
  const gemm_pieces *g = raw;
  for (int64_t index = begin; index < end; index++) {
    int first = (int)index * g->piece, total = g->by_rows ? g->m : g->n;
    int size = total - first < g->piece ? total - first : g->piece;
    const float *a = g->a, *b = g->b;
    float *c = g->c;
    if (g->by_rows) {
      a += g->transpose_a ? first : (int64_t)first * g->lda;
      c += (int64_t)first * g->ldc;
    } else {
      b += g->transpose_b ? (int64_t)first * g->ldb : first;
      c += first;
    }
    cblas_sgemm(ROW_MAJOR, g->transpose_a ? TRANS : NO_TRANS, g->transpose_b ? TRANS : NO_TRANS, g->by_rows ? size : g->m,
                g->by_rows ? g->n : size, g->k, 1, a, g->lda, b, g->ldb, g->beta, c, g->ldc);
  }
}

void kiln_sgemm(kiln_pool *pool, int transpose_a, int transpose_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc) {
  /* Split the longer side of C: each piece then repacks the smaller operand. */
  gemm_pieces g = {transpose_a, transpose_b, m, n, k, lda, ldb, ldc, m > n, 0, a, b, beta, c};
  int side = g.by_rows ? m : n;
  /* Whole vectors of 16 per piece (but for the last). */
  g.piece = (piece_length((int64_t)m * n * k, PIECE_WORK, side, MIN_PIECE) + 15) / 16 * 16;
  kiln_parallel_for(pool, (side + g.piece - 1) / g.piece, run_gemm_pieces, &g);
}
