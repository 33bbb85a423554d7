// String instructions (movs, stos, lods, cmps, scas; with rep, repe, repne)
// performed by the VMM on guest memory.
//
// Each iteration is architecturally visible, so a fault part-way leaves
// rcx/rsi/rdi counting the iterations done and rip at the instruction, as on
// hardware. Long movs/stos runs, up or down, are done a page at a time in
// host memory: memmove/memset, or element by element where the order shows.
#pragma once

#include "translator/decoder.h"

namespace xlat {

class VcpuRuntime;
struct GuestFault;

// False with *fault when an access faulted (state reflects the iterations
// done). Stores that hit translated code invalidate it through the runtime.
// A rep instruction is interruptible between iterations: it stops after
// `budget` steps (an element, or a page-bounded run of a fast movs/stos)
// with *finished = false, rip still at it, rcx/rsi/rdi counting what was
// done; running it again goes on. (budget 1: single-stepping, where a trap
// follows every iteration.) *finished says whether the instruction is complete.
bool ExecuteStringInsn(VcpuRuntime& rt, const DecodedInsn& d, GuestFault* fault, bool* finished, uint64_t budget);

}  // namespace xlat
