#include "CLLVM.h"
#include <llvm-c/Support.h>
#include <stddef.h>

void cllvm_init_native(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  // Zen's scheduling model lets LLVM unroll vectorised loops up to 64 times (a 512-µop loop
  // buffer), which multiplies code size and compile time for no speed in memory-bound kernels.
  // Full unrolling of short constant loops (kernel taps) is not affected by this limit.
  const char *options[] = {"kiln", "-unroll-max-count=4"};
  LLVMParseCommandLineOptions(2, options, NULL);
}
