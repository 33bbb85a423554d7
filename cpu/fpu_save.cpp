#include "cpu/fpu_save.h"

namespace xlat {

unsigned FpuSaveImageBytes(FpuSaveForm form) {
  switch (form) {
    case FpuSaveForm::kFnstenv16: return 14;
    case FpuSaveForm::kFnstenv32: return 28;
    case FpuSaveForm::kFnsave16: return 94;
    case FpuSaveForm::kFnsave32: return 108;
    case FpuSaveForm::kFxsave: case FpuSaveForm::kFxsave64: return 512;
  }
  return 0;
}

namespace {

struct alignas(64) XsaveState { uint8_t bytes[832]; };
struct alignas(16) SaveImage { uint8_t bytes[512]; };

}  // namespace

// One asm statement per form: nothing the compiler emits may run between
// loading the guest's state and saving it again (XCR0 components 0-2 in
// EDX:EAX = 7; the vector registers and the x87 stack are clobbered).
#define XLAT_RUN_FPU_SAVE(insn)                                                                              \
  asm volatile("stmxcsr %[host]\n\t"                                                                        \
               "xrstor64 %[state]\n\t" insn " %[image]\n\t"                                                 \
               "xsave64 %[state]\n\t"                                                                       \
               "fninit\n\t"                                                                                 \
               "ldmxcsr %[host]\n\t"                                                                        \
               "vzeroupper"                                                                                 \
               : [state] "+m"(*s), [image] "=m"(*img), [host] "=m"(host_mxcsr)                              \
               : "a"(7), "d"(0)                                                                             \
               : "memory", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "xmm0", "xmm1", \
                 "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",      \
                 "xmm13", "xmm14", "xmm15")

void RunFpuSave(FpuSaveForm form, uint8_t* state, uint8_t* image) {
  XsaveState* s = reinterpret_cast<XsaveState*>(state);
  SaveImage* img = reinterpret_cast<SaveImage*>(image);
  uint32_t host_mxcsr;
  switch (form) {
    case FpuSaveForm::kFnstenv16: XLAT_RUN_FPU_SAVE("data16 fnstenv"); break;
    case FpuSaveForm::kFnstenv32: XLAT_RUN_FPU_SAVE("fnstenv"); break;
    case FpuSaveForm::kFnsave16: XLAT_RUN_FPU_SAVE("data16 fnsave"); break;
    case FpuSaveForm::kFnsave32: XLAT_RUN_FPU_SAVE("fnsave"); break;
    case FpuSaveForm::kFxsave: XLAT_RUN_FPU_SAVE("fxsave"); break;
    case FpuSaveForm::kFxsave64: XLAT_RUN_FPU_SAVE("fxsave64"); break;
  }
}

#undef XLAT_RUN_FPU_SAVE

}  // namespace xlat
