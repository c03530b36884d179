// LLVM 14's C API for Swift (include/llvm-c and include/llvm are symlinks into Debian's llvm-14-dev).
#include <llvm-c/Core.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Error.h>
#include <llvm-c/DebugInfo.h>

/// Registers the host target and its assembly printer (static inline in LLVM's headers).
void cllvm_init_native(void);

/// The LLVM version and the options `cllvm_init_native` sets: what, besides a module and its
/// target, decides the machine code (a key of the kernel cache).
const char *cllvm_configuration(void);
