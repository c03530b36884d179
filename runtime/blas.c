#include "kiln_runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Declared by OpenBLAS's openblas_config.h; repeated here to keep the runtime's headers plain. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int threads);
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

void kiln_blas_use_native_core(void) {
  /* The kernel is process state of OpenBLAS, so the choice is made once per process. */
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, choose_native_core);
}

void kiln_blas_set_threads(int threads) { openblas_set_num_threads(threads > 0 ? threads : 1); }

/* OpenBLAS 0.3.21 runs a GEMV on all its threads from 9,216 matrix elements on (2,304 times
 * GEMM_MULTITHREAD_THRESHOLD), where waking a thread costs more than the product, and its idle
 * threads then spin on the other core: LeNet-5's 120x400 dense layer made the whole model 14%
 * slower on two threads than on one. Up to KILN_GEMV_PARALLEL elements, the product goes to
 * OpenBLAS in pieces of fewer outputs, each below its threshold, so it stays on this thread.
 * Every output is still one OpenBLAS dot product or axpy sum, in the same order. */
enum { OPENBLAS_GEMV_SERIAL = 9216, KILN_GEMV_PARALLEL = 1 << 17 };

void kiln_sgemv(int transpose, int rows, int columns, const float *a, int lda, const float *x, int incx, float beta, float *y, int incy) {
  const int row_major = 101, no_trans = 111, trans = 112;
  int outputs = transpose ? columns : rows, inner = transpose ? rows : columns;
  int64_t elements = (int64_t)rows * columns;
  if (elements < OPENBLAS_GEMV_SERIAL || elements >= KILN_GEMV_PARALLEL || inner >= OPENBLAS_GEMV_SERIAL) {
    cblas_sgemv(row_major, transpose ? trans : no_trans, rows, columns, 1, a, lda, x, incx, beta, y, incy);
    return;
  }
  int piece = (OPENBLAS_GEMV_SERIAL - 1) / inner;
  for (int start = 0; start < outputs; start += piece) {
    int count = outputs - start < piece ? outputs - start : piece;
    if (transpose) {
      cblas_sgemv(row_major, trans, rows, count, 1, a + start, lda, x, incx, beta, y + (int64_t)start * incy, incy);
    } else {
      cblas_sgemv(row_major, no_trans, count, columns, 1, a + (int64_t)start * lda, lda, x, incx, beta, y + (int64_t)start * incy, incy);
    }
  }
}
