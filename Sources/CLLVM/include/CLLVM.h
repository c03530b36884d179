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

#ifdef __cplusplus
extern "C" {
#endif

/// Registers the host target and its assembly printer (static inline in LLVM's headers).
void cllvm_init_native(void);

/// The LLVM version and the options `cllvm_init_native` sets: what, besides a module and its
/// target, decides the machine code (a key of the kernel cache).
const char *cllvm_configuration(void);

/// Whether LLVM knows the CPU named `cpu` for `triple` (for an unknown name, a target machine
/// warns on stderr and generates code for a generic CPU).
int cllvm_knows_cpu(const char *triple, const char *cpu);

/// Whether the CPU `machine` generates code for has `feature` (an LLVM feature name: "avx512f").
int cllvm_target_machine_has_feature(LLVMTargetMachineRef machine, const char *feature);

#ifdef __cplusplus
}
#endif
