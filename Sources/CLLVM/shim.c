#include "CLLVM.h"
#include <llvm-c/Support.h>
#include <llvm/Config/llvm-config.h>
#include <stddef.h>

// Zen's scheduling model lets LLVM unroll vectorised loops up to 64 times (a 512-µop loop
// buffer), which multiplies code size and compile time for no speed in memory-bound kernels.
// Full unrolling of short constant loops (kernel taps) is not affected by this limit.
#define CLLVM_UNROLL_OPTION "-unroll-max-count=4"

void cllvm_init_native(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  const char *options[] = {"kiln", CLLVM_UNROLL_OPTION};
  LLVMParseCommandLineOptions(2, options, NULL);
}

const char *cllvm_configuration(void) { return "LLVM " LLVM_VERSION_STRING " " CLLVM_UNROLL_OPTION; }
