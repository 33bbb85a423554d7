// Sensitive instructions that stay in translated code.
//
// The guest's RFLAGS.IF is virtual: while translated code runs it is
// ctx.vif (0 or 0x200), and the VMM folds it into ctx.rflags whenever it
// takes over. So at CPL 0:
//   cli   mov qword gs:[vif], 0
//   sti   mov qword gs:[vif], 0x200
//         mov byte gs:[irq_poll_page], 0     ; read-only while an interrupt
//                                            ; waits for IF: this sti leaves
// pushf builds the image the guest would see (arithmetic flags and DF from
// the host, IF from vif, TF/IOPL/AC/ID/NT from ctx.vflags) without touching the
// flags: they are saved with pushfq first, and the bits are combined with
// pext/pdep and lea.
// mov r, sreg reads the selector from the context.
// swapgs at CPL 0 exchanges ctx.gs_base and ctx.kernel_gs_base, which is what
// gs: accesses read; supervisor-class code at CPL 1 or 2 goes to the VMM for
// its #GP. The test is flag-free (jrcxz): the guest's flags may be live.
// The block ends after it (translator.cpp).
#include "translator/emit_virtual.h"

#include "cpu/flags_slot.h"
#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "translator/emit_stack.h"

namespace xlat {

using namespace asmjit;

namespace {

int SegIndex(ZydisRegister r) {
  switch (r) {
    case ZYDIS_REGISTER_ES: return 0;
    case ZYDIS_REGISTER_CS: return 1;
    case ZYDIS_REGISTER_SS: return 2;
    case ZYDIS_REGISTER_DS: return 3;
    case ZYDIS_REGISTER_FS: return 4;
    case ZYDIS_REGISTER_GS: return 5;
    default: return -1;
  }
}

void EmitPushf(BlockEmitter& e, const GuestInsn& gi) {
  auto& a = e.a;
  EmitSaveGuestFlags(a);  // flags_slot = host RFLAGS: the guest's arithmetic flags and DF
  const unsigned rv = e.TakeScratch(1u << kRcx);
  const unsigned rt = e.TakeScratch((1u << kRcx) | (1u << rv));
  const x86::Gp V = Gpr64Reg(rv), T = Gpr64Reg(rt);
  a.mov(V, Ctx(XLAT_CTX_OFF(flags_slot)));
  a.pext(V, V, Ctx(XLAT_CTX_OFF(arith_df_mask)));
  a.pdep(V, V, Ctx(XLAT_CTX_OFF(arith_df_mask)));  // V = host flags & (arith | DF)
  a.mov(T, Ctx(XLAT_CTX_OFF(vflags)));
  a.lea(V, x86::ptr(V, T));                        // disjoint bits: + is |
  a.mov(T, Ctx(XLAT_CTX_OFF(vif)));
  a.lea(V, x86::ptr(V, T));
  e.Restore(rt);
  // The push must keep the flags: its lookup is the flag-preserving one.
  GuestInsn live = gi;
  live.flags_live_in = kArithFlags;
  EmitPushStore(e, live, 8, static_cast<uint16_t>(1u << rv),
                [&a, V](const x86::Gp& slot) { a.mov(x86::qword_ptr(slot), V); });
  e.Restore(rv);
}

void EmitSwapgs(BlockEmitter& e) {
  auto& a = e.a;
  e.RestoreAll();  // the CPL 1/2 path leaves for the VMM with every register in place
  Label cpl0 = a.newLabel();
  a.mov(Ctx(XLAT_CTX_OFF(virt_tmp)), x86::rcx);
  a.mov(x86::ecx, Ctx(XLAT_CTX_OFF(cpl), 4));
  a.jecxz(x86::rcx, cpl0);
  a.mov(x86::rcx, Ctx(XLAT_CTX_OFF(virt_tmp)));
  Site s{};
  s.kind = SiteKind::kEmulate;
  e.JumpToThunk(e.NewSite(s), e.thunks.exit);
  a.bind(cpl0);
  a.mov(x86::rcx, Ctx(XLAT_CTX_OFF(virt_tmp)));
  const unsigned rt = e.TakeScratch(0);
  const x86::Gp T = Gpr64Reg(rt);
  a.mov(T, Ctx(XLAT_CTX_OFF(gs_base)));
  a.xchg(Ctx(XLAT_CTX_OFF(kernel_gs_base)), T);
  a.mov(Ctx(XLAT_CTX_OFF(gs_base)), T);
  e.Restore(rt);
}

}  // namespace

void EmitVirtualInsn(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = gi.d;
  auto& a = e.a;
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_CLI:
      a.mov(Ctx(XLAT_CTX_OFF(vif)), 0);
      return;
    case ZYDIS_MNEMONIC_STI:
      a.mov(Ctx(XLAT_CTX_OFF(vif)), static_cast<int32_t>(kFlagIF));
      e.BeginNative();
      a.mov(Ctx(XLAT_CTX_OFF(irq_poll_page), 1), 0);  // faults while an interrupt is waiting
      e.EndNative();
      return;
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFQ:
      EmitPushf(e, gi);
      return;
    case ZYDIS_MNEMONIC_SWAPGS:
      EmitSwapgs(e);
      return;
    case ZYDIS_MNEMONIC_MOV: {
      // mov r32/r64, sreg zero-extends the selector; mov r16, sreg merges.
      const int seg = SegIndex(d.ops[1].reg.value);
      const int n = GprNumber(d.ops[0].reg.value);
      const int32_t off = XLAT_CTX_OFF(sel) + 2 * seg;
      if (d.ops[0].size == 16)
        a.mov(x86::gpw(n), Ctx(off, 2));
      else
        a.movzx(x86::gpd(n), Ctx(off, 2));
      return;
    }
    default:
      return;
  }
}

}  // namespace xlat
