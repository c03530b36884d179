// What LLVM knows of CPUs, which LLVM 14's C API does not say.
#include "CLLVM.h"

#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

extern "C" int cllvm_knows_cpu(const char *triple, const char *cpu) {
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) return 0;
  std::unique_ptr<llvm::MCSubtargetInfo> info(target->createMCSubtargetInfo(triple, "", ""));
  return info && info->isCPUStringValid(cpu);
}

extern "C" int cllvm_target_machine_has_feature(LLVMTargetMachineRef machine, const char *feature) {
  return reinterpret_cast<llvm::TargetMachine *>(machine)->getMCSubtargetInfo()->checkFeatures(std::string("+") + feature);
}
