// Saving and restoring the guest's flags without a free register.
//
// Before an indirect branch the translator does not know whether the target
// reads the flags, and every flag-preserving sequence after that point would
// cost registers. So the block saves the guest's arithmetic flags once, with
// lahf and seto into ctx.flags_lahf (rax parked in ctx.lahf_rax for the five
// instructions: a quarter of what pushfq on a stack inside the context
// costs), and from then on may clobber them. (Or it stores only which add,
// sub or cmp made them: lazy_flags.h.) DF stays in the host's RFLAGS:
// no rewrite touches it. A target whose code reads flags on entry restores
// them with sahf, and OF by an add that overflows exactly when it was set.
//
// The whole of RFLAGS (DF included) goes through ctx.flags_slot with pushfq
// and popfq, on a one-slot stack inside the context (rsp parked in its spill
// slot), where pushf, popf, syscall and sysret need it.
#pragma once

#include <asmjit/x86.h>

#include "cpu/lazy_flags.h"
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

// ctx.flags_lahf = the arithmetic flags (byte 1: lahf's SF ZF AF PF CF;
// byte 0: OF as 0 or 1). `park`: a GPR free to hold rax meanwhile (a
// register move instead of a store and a reload on rax's path), kRax when
// host rax holds nothing (the guest's is in its spill slot), or -1.
inline void EmitSaveArithFlags(asmjit::x86::Assembler& a, int park = -1) {
  using namespace asmjit::x86;
  const Gp held = park >= 0 ? gpq(static_cast<uint32_t>(park)) : Gp();
  if (park < 0) a.mov(GsSlot(XLAT_CTX_OFF(lahf_rax)), rax);
  else if (park != kRax) a.mov(held, rax);
  a.lahf();
  a.seto(al);
  a.mov(GsSlot(XLAT_CTX_OFF(flags_lahf)).cloneResized(2), ax);
  if (park < 0) a.mov(rax, GsSlot(XLAT_CTX_OFF(lahf_rax)));
  else if (park != kRax) a.mov(rax, held);
}

// The flags an eager save left in ctx.flags_lahf, back in RFLAGS (every
// register as it was).
inline void EmitRestoreEagerArithFlags(asmjit::x86::Assembler& a) {
  using namespace asmjit::x86;
  a.mov(GsSlot(XLAT_CTX_OFF(lahf_rax)), rax);
  a.mov(ax, GsSlot(XLAT_CTX_OFF(flags_lahf)).cloneResized(2));
  a.add(al, 0x7f);  // 1 + 0x7f overflows, 0 + 0x7f does not: OF
  a.sahf();         // the rest
  a.mov(rax, GsSlot(XLAT_CTX_OFF(lahf_rax)));
}

// Where the guest's r11 is displaced (a target's indirect entry, the
// lookup-miss thunk): host r11 is scratch. A lazy save (lazy_flags.h) runs
// its stub, which makes the flags, saves them eagerly and comes back.
inline void EmitRestoreArithFlags(asmjit::x86::Assembler& a) {
  using namespace asmjit::x86;
  asmjit::Label eager = a.newLabel(), done = a.newLabel();
  a.test(GsSlot(XLAT_CTX_OFF(flags_lahf) + 1).cloneResized(1), static_cast<uint32_t>(kLazyFlagsMarker >> 8));
  a.jz(eager);
  a.lea(r11, ptr(done));
  a.mov(GsSlot(XLAT_CTX_OFF(lazy_flags_ret)), r11);
  a.movzx(r11d, GsSlot(XLAT_CTX_OFF(flags_lahf) + 2).cloneResized(2));  // the id
  Mem stub = GsSlot(XLAT_CTX_OFF(lazy_flags_stub));
  stub.setIndex(r11, 3);
  a.jmp(stub);
  a.bind(eager);
  EmitRestoreEagerArithFlags(a);
  a.bind(done);
}

// For a transfer to an indirect entry: ctx.flags_lahf = the arithmetic
// flags of the RFLAGS value in `v`, and the host's DF = v's. `v` becomes
// scratch; the flags are clobbered.
inline void EmitArithFlagsToLahfAndDf(asmjit::x86::Assembler& a, const asmjit::x86::Gpd& v) {
  using namespace asmjit::x86;
  asmjit::Label df_set = a.newLabel(), done = a.newLabel();
  a.test(v, static_cast<uint32_t>(kFlagDF));
  a.jnz(df_set);
  a.cld();
  a.jmp(done);
  a.bind(df_set);
  a.std();
  a.bind(done);
  a.pext(v, v, GsSlot(XLAT_CTX_OFF(lahf_pext_mask)).cloneResized(4));  // bits 7:0, then OF
  a.rol(v.r16(), 8);
  a.and_(v, ~static_cast<uint32_t>(kLazyFlagsMarker));  // (RFLAGS bit 3: whatever `v` had there, not lazy)
  a.mov(GsSlot(XLAT_CTX_OFF(flags_lahf)).cloneResized(2), v.r16());
}

}  // namespace xlat
