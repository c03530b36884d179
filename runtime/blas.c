#include "kiln_runtime.h"

/* Declared by OpenBLAS's openblas_config.h; repeated here to keep the runtime's headers plain. */
extern char *openblas_get_corename(void);

const char *kiln_blas_core(void) { return openblas_get_corename(); }
