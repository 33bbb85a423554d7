// Architectural details of faults and traps that the dispatch loop applies
// around each run of translated code, where the host CPU running the guest's
// instructions natively does not give the guest's answer by itself:
//
//  - RFLAGS.RF and the single-step trap (TF): which instructions trap and
//    what the frame holds (Intel SDM vol. 3B, 17.3.1.1 and 17.3.1.4).
//  - Alignment checking (#AC): lent to the host CPU while the guest asks
//    for it, so that natively run accesses are checked at their own
//    alignment.
//  - The x87 last-instruction pointer (FIP): the host records the address of
//    the copy in the code cache; the guest must see its own.
//  - A near branch to a non-canonical address faults on the branch, with
//    nothing pushed or popped; translated code does not check targets.
//  - #SS(0) instead of #GP(0) for a non-canonical address through SS.
//  - CR0.EM and CR4.OSFXSR, which make x87/MMX/SSE instructions raise: the
//    translations depend on them.
#include <algorithm>
#include <cstring>

#include "cpu/guest_regs.h"
#include "cpu/vcpu_runtime.h"

namespace xlat {

namespace {

constexpr uint64_t kCr0Am = 1ull << 18;
constexpr unsigned kXsaveFip = 8;  // 64-bit FIP in the legacy region of the 64-bit XSAVE format

}  // namespace

void VcpuRuntime::BeforeGuestEntry() {
  // RF is cleared when the next instruction completes. Translated code runs
  // at least that instruction or faults on it (a fault pushes RF = 1 anyway),
  // and interrupts are only taken in the dispatcher, so clearing it now is
  // the same as clearing it then. (It is set by an iretq that loads it, and
  // between the single-stepped iterations of a string instruction.)
  ctx_.rflags &= ~kFlagRF;
  step_trap_ = StepTrap::kByTfAtStart;
  // #AC(0) at CPL 3 with CR0.AM and RFLAGS.AC (SDM vol. 3A, 6.15, interrupt
  // 17): with AC set in host RFLAGS, the host (whose CR0.AM is set) checks
  // the accesses translated code makes natively; the signal handler turns
  // its SIGBUS (BUS_ADRALN) into #AC. The guest's AC only changes in the VMM
  // (popf, iretq, sysret...), so deciding at each entry is enough.
  const bool alignment_checks = ctx_.cpl == 3 && (ctx_.cr0 & kCr0Am) && (ctx_.rflags & kFlagAC);
  ctx_.host_alignment_check = alignment_checks ? kFlagAC : 0;
}

bool VcpuRuntime::StepTrapDue(bool tf_at_start) const {
  // A fault or a software interrupt instead: delivery clears TF, no trap.
  if (exception_pending_ || halted_) return false;
  switch (step_trap_) {
    case StepTrap::kNone: return false;
    case StepTrap::kByNewTf: return (ctx_.rflags & kFlagTF) != 0;
    case StepTrap::kByTfAtStart: break;
  }
  // An instruction that began with TF set traps after itself, even when it
  // cleared TF (popf); one that set it does not (the next one does).
  return tf_at_start;
}

void VcpuRuntime::TranslateFpuInstructionPointer() {
  // The host wrote FIP into the saved state at the exit. It is in the code
  // cache when an x87 instruction ran natively since the state was last
  // loaded (which then loaded the guest's own value): map the copy back to
  // the guest instruction through the native span it ran in (its hot copy,
  // or the cold one that works on the bounce buffer). FDP stays as the host
  // had it: the guest address of the operand is gone by now.
  uint8_t* area = ctx_.xsave_area;
  uint64_t xstate_bv;
  std::memcpy(&xstate_bv, area + kXsaveHeader, 8);
  if (!(xstate_bv & 1)) return;  // x87 in its initial state: FIP reads as 0
  uint64_t fip;
  std::memcpy(&fip, area + kXsaveFip, 8);
  const CodeCache& cache = *vcpu_.cache_;
  const uint64_t cache_base = reinterpret_cast<uint64_t>(cache.runtime_base());
  if (fip - cache_base >= cache.runtime_bytes() + cache.capacity()) return;  // a guest address already
  uint64_t guest = 0;
  const uint8_t* pc = reinterpret_cast<const uint8_t*>(fip);
  if (const Block* b = cache.FindByHostPc(pc)) {
    const uint32_t off = static_cast<uint32_t>(pc - b->host_code);
    auto it = std::upper_bound(b->spans.begin(), b->spans.end(), off,
                               [](uint32_t o, const NativeSpan& s) { return o < s.begin; });
    if (it != b->spans.begin() && off < std::prev(it)->end) guest = b->insn_rips[std::prev(it)->insn];
  }
  std::memcpy(area + kXsaveFip, &guest, 8);
}

const Block* VcpuRuntime::LastBlockEntered() const {
  uint32_t host_code;
  std::memcpy(&host_code, ctx_.poll_page, sizeof host_code);
  return vcpu_.cache_->FindByHostPc(reinterpret_cast<const uint8_t*>(uintptr_t{host_code}));
}

void VcpuRuntime::RaiseNonCanonicalBranch(const Block* b) {
  // A near jmp, jcc, call or ret whose target is not canonical raises #GP(0)
  // on itself (SDM vol. 2A, JMP, Jcc and CALL; vol. 2B, RET: 64-bit mode
  // exceptions): RIP is the branch, nothing is pushed or popped. Translated
  // code does not check targets (every indirect branch would pay for it):
  // it leaves by the block's exit, or, indirect, misses in the jump cache,
  // and `b`, the block entered last (named by its poll store), is the one
  // that ended with the branch. Undo what the branch did and fault there.
  // Running off the end of the canonical range is not a branch: that fault
  // stays at the target.
  const GuestFault gp{kVecGP, 0, true, 0};
  DecodedInsn d;
  GuestFault ignored;
  if (!b || b->insn_rips.empty() || !DecodeAt(b->insn_rips.back(), &d, &ignored)) return Raise(gp);
  const bool direct = d.insn.operand_count_visible > 0 && d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
  if (direct && d.direct_target() != ctx_.rip) return Raise(gp);
  switch (d.insn.meta.category) {
    case ZYDIS_CATEGORY_CALL:
      ctx_.gpr[kRsp] += 8;  // near calls are 64-bit only (the translator refuses other widths)
      break;
    case ZYDIS_CATEGORY_RET:
      ctx_.gpr[kRsp] -= 8 + (d.insn.operand_count_visible > 0 ? (d.ops[0].imm.value.u & 0xffff) : 0);
      break;
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_COND_BR:
      break;
    default:
      return Raise(gp);  // not a branch
  }
  ctx_.rip = d.rip;
  Raise(gp);
}

FpuControl VcpuRuntime::CurrentFpuControl() const {
  constexpr uint64_t kCr0Mp = 1ull << 1, kCr0Em = 1ull << 2, kCr0Ts = 1ull << 3, kCr4Osfxsr = 1ull << 9,
                     kCr4Osxsave = 1ull << 18;
  FpuControl fc;
  fc.em = (ctx_.cr0 & kCr0Em) != 0;
  fc.osfxsr = (ctx_.cr4 & kCr4Osfxsr) != 0;
  fc.ts = (ctx_.cr0 & kCr0Ts) != 0;
  fc.mp = (ctx_.cr0 & kCr0Mp) != 0;
  fc.osxsave = (ctx_.cr4 & kCr4Osxsave) != 0;
  return fc;
}

void VcpuRuntime::UpdateFpuControl() {
  // Rare: an OS sets these at boot (Linux after some 14 K blocks), and one
  // that switches the FPU lazily toggles TS per task switch. Only blocks
  // that met an x87/MMX/SSE/AVX or XSAVE-family instruction are dropped.
  const FpuControl fc = CurrentFpuControl();
  if (fc == translator_->fpu_control()) return;
  translator_->set_fpu_control(fc);
  DropFpuDependentCode();
}

bool VcpuRuntime::ThroughStackSegment(uint64_t rip, uint64_t va) {
  // Intel SDM vol. 1, 3.3.7.1: a non-canonical address in an explicit or
  // implicit stack reference raises #SS(0), any other #GP(0).
  DecodedInsn d;
  GuestFault ignored;
  return DecodeAt(rip, &d, &ignored) && IsStackReference(ctx_, d, va);
}

}  // namespace xlat
