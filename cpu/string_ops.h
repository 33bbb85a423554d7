// String instructions (movs, stos, lods, cmps, scas; with rep, repe, repne)
// performed by the VMM on guest memory.
//
// Each iteration is architecturally visible, so a fault part-way leaves
// rcx/rsi/rdi counting the iterations done and rip at the instruction, as on
// hardware. Long forward movs/stos runs are done a page at a time with host
// memmove/memset when source and destination do not overlap within the run.
#pragma once

#include "translator/decoder.h"

namespace xlat {

class VcpuRuntime;
struct GuestFault;

// False with *fault when an access faulted (state reflects the iterations
// done). Stores that hit translated code invalidate it through the runtime.
// With `finished` (single-stepping: a trap follows every iteration), one
// iteration only; *finished says whether the instruction is complete.
bool ExecuteStringInsn(VcpuRuntime& rt, const DecodedInsn& d, GuestFault* fault, bool* finished = nullptr);

}  // namespace xlat
