// The x87 state saves that store the last-instruction pointer (fnstenv,
// fnsave, fxsave), done by the VMM.
//
// Translated code runs x87 instructions natively, so the host FPU's FIP is
// the address of their copy in the code cache. Saved as they are, these
// would hand the guest that host address; as callouts they run after the
// exit has put the guest's own FIP into ctx.xsave_area
// (VcpuRuntime::TranslateFpuInstructionPointer). The host CPU then does the
// save itself, with the guest's state loaded: the image is exactly what the
// guest's instruction would have written (tag word, register formats, the
// 16-bit forms), and the state the instruction leaves behind (fnsave
// reinitializes the FPU, fnstenv masks the x87 exceptions) comes back with it.
#pragma once

#include <cstdint>

namespace xlat {

enum class FpuSaveForm : uint8_t {
  kFnstenv16, kFnstenv32,  // 14 / 28 bytes (0x66 prefix / default)
  kFnsave16, kFnsave32,    // 94 / 108 bytes
  kFxsave, kFxsave64,      // 512 bytes, 32- / 64-bit FIP and FDP
};

unsigned FpuSaveImageBytes(FpuSaveForm form);

// Loads `state` (the XSAVE standard format of VcpuContext::xsave_area, 64-byte
// aligned, x87 | SSE | AVX) into the host, runs the save into `image`
// (FpuSaveImageBytes bytes; 16-byte aligned), and writes the state the
// instruction leaves back to `state`. The host's own x87/SSE environment
// (FNINIT, its MXCSR) is restored afterwards.
void RunFpuSave(FpuSaveForm form, uint8_t* state, uint8_t* image);

}  // namespace xlat
