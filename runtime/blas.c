#include "kiln_runtime.h"

/* Declared by OpenBLAS's openblas_config.h; repeated here to keep the runtime's headers plain. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int threads);

const char *kiln_blas_core(void) { return openblas_get_corename(); }

void kiln_blas_set_threads(int threads) { openblas_set_num_threads(threads > 0 ? threads : 1); }
