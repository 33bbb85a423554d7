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
// popfq loads the arithmetic flags and DF into the host flags and, at CPL
// 0, IF into vif; when it would change a bit only the VMM handles (TF,
// IOPL, NT, AC, ID; IF at CPL 3) or set IF while an interrupt waits for it,
// it leaves for the VMM from a cold path, with nothing changed.
// syscall (at CPL 3) and sysretq (at CPL 0) switch privilege without an
// exit: the new CS, SS, CPL and RFLAGS are written to the context (virtual
// bits to vif/vflags/rflags, arithmetic flags and DF to the flags slot, as
// an indirect branch leaves them) and the block jumps through the jump cache
// of the other privilege class to LSTAR or RCX. Whatever needs the VMM (no
// EFER.SCE, a syscall from user code running with alignment checks, sysret
// at CPL 1/2 or to a non-canonical RIP, a TF or AC that sysret sets, an
// interrupt waiting for the IF it sets) leaves for it before anything is
// changed, and the VMM emulates the instruction.
#include "translator/emit_virtual.h"

#include "cpu/descriptors.h"
#include "cpu/flags_slot.h"
#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "translator/emit_control.h"
#include "translator/emit_memory.h"
#include "translator/emit_sensitive.h"
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

void EmitPopf(BlockEmitter& e, const GuestInsn& gi) {
  auto& a = e.a;
  const bool flags_live = (gi.flags_live_in & kArithFlags) != 0;  // (only for a precise fault)
  const uint16_t avoid = flags_live ? (1u << kRcx) : 0;
  const unsigned rv = e.TakeScratch(avoid);
  const unsigned rt = e.TakeScratch(avoid | (1u << rv));
  const x86::Gp V = Gpr64Reg(rv), T = Gpr64Reg(rt);
  {
    const unsigned rs = e.TakeScratch(avoid | (1u << rv) | (1u << rt));
    const x86::Gp S = Gpr64Reg(rs);
    a.mov(S, x86::rsp);
    GuardedAccess ga{rs, 8, kAccessRead, flags_live};
    EmitGuardedAccess(e, ga, [&a, S, V] { a.mov(V, x86::qword_ptr(S)); });
    e.Restore(rs);
  }
  // The way out: every displaced register back, then the VMM emulates the
  // popf from the start (it does not depend on the flags it replaces).
  Label slow = a.newLabel();
  Site site{};
  site.kind = SiteKind::kEmulate;
  const uint32_t site_id = e.NewSite(site);
  const uint16_t displaced = e.displaced();
  e.Cold([&e, slow, site_id, displaced] {
    e.a.bind(slow);
    for (unsigned r = 0; r < 16; ++r)
      if (displaced & (1u << r)) e.a.mov(Gpr64Reg(r), Ctx(CtxSpillOff(r)));
    e.JumpToThunk(site_id, e.thunks.exit);
  });
  const bool supervisor = e.priv == PrivClass::kSupervisor;
  const uint32_t vmm_bits = kFlagTF | kFlagIOPL | kFlagNT | kFlagAC | kFlagID | (supervisor ? 0 : kFlagIF);
  a.mov(T, V);
  a.xor_(T, Ctx(XLAT_CTX_OFF(rflags)));  // the VMM's view of the virtual bits (IF aside)
  a.test(T.r32(), static_cast<int32_t>(vmm_bits));
  a.jnz(slow);
  if (supervisor) {
    Label clear = a.newLabel(), done = a.newLabel();
    a.test(V.r32(), static_cast<int32_t>(kFlagIF));
    a.jz(clear);
    a.cmp(Ctx(XLAT_CTX_OFF(vif)), 0);
    a.jne(done);                                // IF stays set
    a.cmp(Ctx(XLAT_CTX_OFF(irq_waiting)), 0);  // taken right after the popf: by the VMM
    a.jne(slow);
    a.mov(Ctx(XLAT_CTX_OFF(vif)), static_cast<int32_t>(kFlagIF));
    a.jmp(done);
    a.bind(clear);
    a.mov(Ctx(XLAT_CTX_OFF(vif)), 0);
    a.bind(done);
  }
  a.and_(V, Ctx(XLAT_CTX_OFF(arith_df_mask)));
  a.mov(Ctx(XLAT_CTX_OFF(flags_slot)), V);
  EmitRestoreGuestFlags(a);
  a.lea(x86::rsp, x86::ptr(x86::rsp, 8));
  e.Restore(rt);
  e.Restore(rv);
}

constexpr int32_t kSelCsOff = XLAT_CTX_OFF(sel) + 2 * kSegCs, kSelSsOff = XLAT_CTX_OFF(sel) + 2 * kSegSs;
// STAR[47:32] (syscall's CS) and STAR[63:48] (sysret's base).
constexpr int32_t kStarSyscallOff = XLAT_CTX_OFF(star) + 4, kStarSysretOff = XLAT_CTX_OFF(star) + 6;

// Intel SDM vol. 2B SYSCALL (64-bit mode): RCX = next RIP, R11 = RFLAGS with
// RF clear, RFLAGS &= ~SFMASK, CS = STAR[47:32] & ~3, SS = STAR[47:32] + 8,
// CPL 0, RIP = LSTAR. Translated at CPL 3 only, with TF clear (a set TF
// makes single-stepped blocks, which keep the exit), so no trap follows.
void EmitSyscall(BlockEmitter& e, const GuestInsn& gi) {
  auto& a = e.a;
  e.RestoreAll();
  Label slow = a.newLabel();
  EmitSaveGuestFlags(a);  // flags_slot: the guest's arithmetic flags and DF
  a.mov(Ctx(XLAT_CTX_OFF(virt_tmp)), x86::rcx);
  a.test(Ctx(XLAT_CTX_OFF(efer), 1), 1);  // EFER.SCE, or #UD
  a.jz(slow);
  // The user's alignment checks are on in the host's RFLAGS.AC: the kernel
  // must not run with them (the VMM's entry turns them off).
  a.cmp(Ctx(XLAT_CTX_OFF(host_alignment_check)), 0);
  a.jne(slow);
  a.movzx(x86::ecx, Ctx(kStarSyscallOff, 2));
  a.lea(x86::r11d, x86::ptr(x86::rcx, 8));
  a.and_(x86::ecx, 0xfffc);
  a.mov(Ctx(kSelCsOff, 2), x86::cx);
  a.mov(Ctx(kSelSsOff, 2), x86::r11w);
  a.mov(Ctx(XLAT_CTX_OFF(cpl), 4), 0);
  // r11 = RFLAGS as the guest sees it; rcx = what stays of it.
  a.mov(x86::r11, Ctx(XLAT_CTX_OFF(flags_slot)));
  a.and_(x86::r11, Ctx(XLAT_CTX_OFF(arith_df_mask)));
  a.or_(x86::r11, Ctx(XLAT_CTX_OFF(vflags)));
  a.or_(x86::r11, Ctx(XLAT_CTX_OFF(vif)));
  a.mov(x86::rcx, Ctx(XLAT_CTX_OFF(sfmask)));
  a.andn(x86::rcx, x86::rcx, x86::r11);
  a.or_(x86::rcx, 2);
  a.mov(Ctx(XLAT_CTX_OFF(rflags)), x86::rcx);  // the VMM's view of the virtual bits
  a.mov(Ctx(CtxSpillOff(kR11)), x86::r11);     // r11 now carries the target
  a.mov(x86::r11, x86::rcx);
  a.and_(x86::r11d, static_cast<int32_t>(kFlagIF));
  a.mov(Ctx(XLAT_CTX_OFF(vif)), x86::r11);
  a.mov(x86::r11, x86::rcx);
  a.and_(x86::r11d, static_cast<int32_t>(kVirtualFlagsMask));
  a.or_(x86::r11d, 2);
  a.mov(Ctx(XLAT_CTX_OFF(vflags)), x86::r11);
  EmitArithFlagsToLahfAndDf(a, x86::ecx);  // the target's indirect entry loads them
  a.inc(Ctx(XLAT_CTX_OFF(inline_syscalls)));
  a.mov(x86::rcx, gi.d->next_rip());
  a.mov(x86::r11, Ctx(XLAT_CTX_OFF(lstar)));  // canonical: wrmsr refuses others
  EmitJumpThroughCache(e, PrivClass::kSupervisor, x86::r11);

  a.bind(slow);
  a.mov(x86::rcx, Ctx(XLAT_CTX_OFF(virt_tmp)));
  EmitRestoreGuestFlags(a);
  EmitEmulateExit(e, gi);
}

// SDM vol. 2B SYSRET with REX.W: #UD without EFER.SCE, #GP(0) at CPL > 0 or
// for a non-canonical RCX; else RIP = RCX, RFLAGS = (R11 & 0x3C7FD7) | 2,
// CS = (STAR[63:48] + 16) | 3, SS = (STAR[63:48] + 8) | 3, CPL 3.
void EmitSysret(BlockEmitter& e, const GuestInsn& gi) {
  auto& a = e.a;
  constexpr uint32_t kSysretFlags = 0x3c7fd7;
  e.RestoreAll();
  Label slow = a.newLabel(), commit = a.newLabel();
  EmitSaveGuestFlags(a);  // for the slow path: its faults see them
  a.mov(Ctx(XLAT_CTX_OFF(virt_tmp)), x86::rax);
  a.test(Ctx(XLAT_CTX_OFF(efer), 1), 1);
  a.jz(slow);
  a.cmp(Ctx(XLAT_CTX_OFF(cpl), 4), 0);
  a.jne(slow);
  a.mov(x86::rax, x86::rcx);  // canonical: bits 63:47 all equal
  a.sar(x86::rax, 47);
  a.add(x86::rax, 1);
  a.cmp(x86::rax, 1);
  a.ja(slow);
  a.test(x86::r11d, static_cast<int32_t>(kFlagTF | kFlagAC));  // a step trap, alignment checks
  a.jnz(slow);
  a.test(x86::r11d, static_cast<int32_t>(kFlagIF));
  a.jz(commit);
  a.cmp(Ctx(XLAT_CTX_OFF(irq_waiting)), 0);  // taken right after the sysret: by the VMM
  a.jne(slow);
  a.bind(commit);
  a.mov(x86::eax, x86::r11d);
  a.and_(x86::eax, static_cast<int32_t>(kSysretFlags));
  a.or_(x86::eax, 2);
  a.mov(Ctx(XLAT_CTX_OFF(rflags)), x86::rax);
  a.mov(x86::eax, x86::r11d);
  a.and_(x86::eax, static_cast<int32_t>(kFlagIF));
  a.mov(Ctx(XLAT_CTX_OFF(vif)), x86::rax);
  a.mov(x86::eax, x86::r11d);
  a.and_(x86::eax, static_cast<int32_t>(kVirtualFlagsMask & kSysretFlags));
  a.or_(x86::eax, 2);
  a.mov(Ctx(XLAT_CTX_OFF(vflags)), x86::rax);
  a.mov(x86::eax, x86::r11d);
  EmitArithFlagsToLahfAndDf(a, x86::eax);  // the target's indirect entry loads them
  a.movzx(x86::eax, Ctx(kStarSysretOff, 2));
  a.add(x86::eax, 16);
  a.or_(x86::eax, 3);
  a.mov(Ctx(kSelCsOff, 2), x86::ax);
  a.sub(x86::eax, 8);
  a.mov(Ctx(kSelSsOff, 2), x86::ax);  // (base + 8) | 3: the | 3 carries over
  a.mov(Ctx(XLAT_CTX_OFF(cpl), 4), 3);
  a.inc(Ctx(XLAT_CTX_OFF(inline_sysrets)));
  a.mov(x86::rax, Ctx(XLAT_CTX_OFF(virt_tmp)));
  a.mov(Ctx(CtxSpillOff(kR11)), x86::r11);
  a.mov(x86::r11, x86::rcx);
  EmitJumpThroughCache(e, PrivClass::kUser, x86::r11);

  a.bind(slow);
  a.mov(x86::rax, Ctx(XLAT_CTX_OFF(virt_tmp)));
  EmitRestoreGuestFlags(a);
  EmitEmulateExit(e, gi);
}

}  // namespace

void EmitVirtualInsn(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
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
    case ZYDIS_MNEMONIC_RDTSCP:
      // The host's counter (the guest's TSC runs unoffset: native_rdtsc),
      // then the guest's IA32_TSC_AUX for the host's in ecx (rcx's upper
      // half cleared, as rdtscp does).
      a.rdtscp();
      a.mov(x86::ecx, Ctx(XLAT_CTX_OFF(tsc_aux), 4));
      return;
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFQ:
      EmitPopf(e, gi);
      return;
    case ZYDIS_MNEMONIC_SYSCALL:
      EmitSyscall(e, gi);
      return;
    case ZYDIS_MNEMONIC_SYSRET:
      EmitSysret(e, gi);
      return;
    case ZYDIS_MNEMONIC_MOV: {
      const int n = GprNumber(d.ops[0].reg.value);
      if (d.ops[1].reg.value == ZYDIS_REGISTER_CR2) {
        a.mov(x86::gpq(n), Ctx(XLAT_CTX_OFF(cr2)));  // (always 64 bits in 64-bit mode)
        return;
      }
      // mov r32/r64, sreg zero-extends the selector; mov r16, sreg merges.
      const int seg = SegIndex(d.ops[1].reg.value);
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
