// Saving and restoring the guest's flags without a free register.
//
// Before an indirect branch the translator does not know whether the target
// reads the flags, and every flag-preserving sequence after that point would
// cost registers. So the block saves the guest flags once, with pushfq on a
// one-slot stack inside the context (rsp is parked in its own spill slot for
// the four instructions), and from then on may clobber them. A target whose
// code reads flags on entry restores them with popfq the same way.
#pragma once

#include <asmjit/x86.h>

#include "cpu/vcpu_context.h"

namespace xlat {

inline asmjit::x86::Mem GsSlot(int32_t off) {
  asmjit::x86::Mem m = asmjit::x86::ptr_abs(static_cast<uint64_t>(static_cast<int64_t>(off)), 8);
  m.setSegment(asmjit::x86::gs);
  return m;
}

inline void EmitSaveGuestFlags(asmjit::x86::Assembler& a) {
  using namespace asmjit::x86;
  a.mov(GsSlot(CtxSpillOff(kRsp)), rsp);
  a.mov(rsp, GsSlot(XLAT_CTX_OFF(flags_push_sp)));
  a.pushfq();
  a.mov(rsp, GsSlot(CtxSpillOff(kRsp)));
}

inline void EmitRestoreGuestFlags(asmjit::x86::Assembler& a) {
  using namespace asmjit::x86;
  a.mov(GsSlot(CtxSpillOff(kRsp)), rsp);
  a.mov(rsp, GsSlot(XLAT_CTX_OFF(flags_pop_sp)));
  a.popfq();
  a.mov(rsp, GsSlot(CtxSpillOff(kRsp)));
}

}  // namespace xlat
