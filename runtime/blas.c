#include "kiln_runtime.h"

/* Declared by OpenBLAS's openblas_config.h; repeated here to keep the runtime's headers plain. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int threads);
extern void cblas_sgemv(int order, int transpose, int m, int n, float alpha, const float *a, int lda, const float *x, int incx, float beta,
                        float *y, int incy);

const char *kiln_blas_core(void) { return openblas_get_corename(); }

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
