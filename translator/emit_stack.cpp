// Stack instructions: push, pop, enter, leave, and the stack half of call
// and ret. The guest rsp is the host rsp, but the memory it points to is
// guest memory, so every slot is reached through the inline TLB like any
// other access. rsp only moves after the access succeeded, which keeps a
// faulting push or pop precise.
#include "translator/emit_stack.h"

#include "cpu/vcpu_context.h"
#include "translator/emit_memory.h"

namespace xlat {

using namespace asmjit;

namespace {

bool FlagsLive(const GuestInsn& gi) { return (gi.flags_live_in & kArithFlags) != 0; }

uint16_t FlagAvoid(const GuestInsn& gi) { return FlagsLive(gi) ? (1u << kRcx) : 0; }

}  // namespace

void EmitPushStore(BlockEmitter& e, const GuestInsn& gi, unsigned size, uint16_t avoid, const StoreFn& store) {
  auto& a = e.a;
  const unsigned rs = e.TakeScratch(avoid | FlagAvoid(gi));
  const x86::Gp S = Gpr64Reg(rs);
  a.lea(S, x86::ptr(x86::rsp, -static_cast<int32_t>(size)));
  GuardedAccess ga{rs, static_cast<uint16_t>(size), kAccessWrite, FlagsLive(gi)};
  EmitGuardedAccess(e, ga, [S, store] { store(S); });
  a.lea(x86::rsp, x86::ptr(x86::rsp, -static_cast<int32_t>(size)));
  e.Restore(rs);
}

void EmitPush(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  auto& a = e.a;
  const unsigned size = d.insn.operand_width / 8;  // 8, or 2 with a 0x66 prefix
  const ZydisDecodedOperand& src = d.ops[0];
  const uint16_t used = GprsUsed(d);
  if (src.type != ZYDIS_OPERAND_TYPE_MEMORY) {
    if (const int p = GroupMemberReg(e, gi); p >= 0) {
      // In a stack group (mem_groups.h): the slot is checked already.
      const x86::Mem slot = x86::ptr(Gpr64Reg(p), gi.group_offset, size);
      e.BeginNative();
      if (src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        a.mov(slot, static_cast<int32_t>(size == 8 ? src.imm.value.s : static_cast<int16_t>(src.imm.value.s)));
      else
        a.mov(slot, size == 8 ? x86::Gp(x86::gpq(GprNumber(src.reg.value))) : x86::Gp(x86::gpw(GprNumber(src.reg.value))));
      e.EndNative();
      a.lea(x86::rsp, x86::ptr(x86::rsp, -static_cast<int32_t>(size)));
      EndGroupMember(e, gi);
      return;
    }
  }
  if (src.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const int n = GprNumber(src.reg.value);
    EmitPushStore(e, gi, size, used, [&a, n, size](const x86::Gp& slot) {
      if (size == 8)
        a.mov(x86::qword_ptr(slot), x86::gpq(n));
      else
        a.mov(x86::word_ptr(slot), x86::gpw(n));
    });
  } else if (src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    const int64_t imm = src.imm.value.s;
    EmitPushStore(e, gi, size, used, [&a, imm, size](const x86::Gp& slot) {
      if (size == 8)
        a.mov(x86::qword_ptr(slot), static_cast<int32_t>(imm));
      else
        a.mov(x86::word_ptr(slot), static_cast<int16_t>(imm));
    });
  } else {
    // push [mem]: load into a scratch (address computed with the old rsp),
    // then push the scratch.
    const unsigned rv = e.TakeScratch(used | FlagAvoid(gi));
    const x86::Gp V = Gpr64Reg(rv);
    const AddressExpr expr = AddressOf(d, src);
    {
      const unsigned rs = e.TakeScratch(used | FlagAvoid(gi) | (1u << rv));
      const unsigned seg = expr.segment >= 0 ? e.TakeScratch(used | FlagAvoid(gi) | (1u << rv) | (1u << rs)) : 16;
      EmitGuestAddress(e, rs, seg, expr);
      if (seg < 16) e.Restore(seg);
      const x86::Gp S = Gpr64Reg(rs);
      GuardedAccess ga{rs, static_cast<uint16_t>(size), kAccessRead, FlagsLive(gi)};
      EmitGuardedAccess(e, ga, [&a, S, V, size] {
        if (size == 8)
          a.mov(V, x86::qword_ptr(S));
        else
          a.mov(V.r16(), x86::word_ptr(S));
      });
      e.Restore(rs);
    }
    EmitPushStore(e, gi, size, used | (1u << rv), [&a, V, size](const x86::Gp& slot) {
      if (size == 8)
        a.mov(x86::qword_ptr(slot), V);
      else
        a.mov(x86::word_ptr(slot), V.r16());
    });
    e.Restore(rv);
  }
}

void EmitPop(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  auto& a = e.a;
  const unsigned size = d.insn.operand_width / 8;
  const ZydisDecodedOperand& dst = d.ops[0];
  const uint16_t used = GprsUsed(d);
  if (dst.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const int n = GprNumber(dst.reg.value);
    if (const int p = GroupMemberReg(e, gi); p >= 0) {
      // In a stack group (mem_groups.h): the slot is checked already.
      const x86::Mem slot = x86::ptr(Gpr64Reg(p), gi.group_offset, size);
      e.BeginNative();
      a.mov(size == 8 ? x86::Gp(x86::gpq(n)) : x86::Gp(x86::gpw(n)), slot);
      e.EndNative();
      a.lea(x86::rsp, x86::ptr(x86::rsp, static_cast<int32_t>(size)));
      EndGroupMember(e, gi);
      return;
    }
    // A 64-bit pop into a register other than rsp loads through itself.
    const bool through_dest = size == 8 && n != kRsp && !(FlagsLive(gi) && n == kRcx);
    unsigned rs;
    if (through_dest) {
      rs = static_cast<unsigned>(n);
      e.Displace(rs);
    } else {
      rs = e.TakeScratch(used | FlagAvoid(gi));
    }
    const x86::Gp S = Gpr64Reg(rs);
    a.mov(S, x86::rsp);
    GuardedAccess ga{rs, static_cast<uint16_t>(size), kAccessRead, FlagsLive(gi)};
    EmitGuardedAccess(e, ga, [&a, S, n, size] {
      if (size == 8)
        a.mov(x86::gpq(n), x86::qword_ptr(S));
      else
        a.mov(x86::gpw(n), x86::word_ptr(S));
    });
    // pop rsp leaves rsp = the loaded value; every other pop moves rsp up.
    if (n != kRsp) a.lea(x86::rsp, x86::ptr(x86::rsp, static_cast<int32_t>(size)));
    if (through_dest)
      e.Undisplace(rs);
    else
      e.Restore(rs);
    return;
  }
  // pop [mem]: load [rsp] into a scratch, store it to [mem] (whose address
  // is computed with rsp already incremented), and only then move rsp.
  const unsigned rv = e.TakeScratch(used | FlagAvoid(gi));
  const x86::Gp V = Gpr64Reg(rv);
  {
    const unsigned rs = e.TakeScratch(used | FlagAvoid(gi) | (1u << rv));
    const x86::Gp S = Gpr64Reg(rs);
    a.mov(S, x86::rsp);
    GuardedAccess ga{rs, static_cast<uint16_t>(size), kAccessRead, FlagsLive(gi)};
    EmitGuardedAccess(e, ga, [&a, S, V, size] {
      if (size == 8)
        a.mov(V, x86::qword_ptr(S));
      else
        a.mov(V.r16(), x86::word_ptr(S));
    });
    e.Restore(rs);
  }
  {
    AddressExpr expr = AddressOf(d, dst);
    const unsigned rs = e.TakeScratch(used | FlagAvoid(gi) | (1u << rv));
    const unsigned seg = expr.segment >= 0 ? e.TakeScratch(used | FlagAvoid(gi) | (1u << rv) | (1u << rs)) : 16;
    EmitGuestAddress(e, rs, seg, expr);
    if (seg < 16) e.Restore(seg);
    const x86::Gp S = Gpr64Reg(rs);
    if (expr.base == kRsp) a.lea(S, x86::ptr(S, static_cast<int32_t>(size)));
    GuardedAccess ga{rs, static_cast<uint16_t>(size), kAccessWrite, FlagsLive(gi)};
    EmitGuardedAccess(e, ga, [&a, S, V, size] {
      if (size == 8)
        a.mov(x86::qword_ptr(S), V);
      else
        a.mov(x86::word_ptr(S), V.r16());
    });
    e.Restore(rs);
  }
  a.lea(x86::rsp, x86::ptr(x86::rsp, static_cast<int32_t>(size)));
  e.Restore(rv);
}

void EmitLeave(BlockEmitter& e, const GuestInsn& gi) {
  // leave = mov rsp, rbp; pop rbp -- with both registers untouched if the
  // load faults.
  auto& a = e.a;
  const unsigned rs = e.TakeScratch((1u << kRbp) | FlagAvoid(gi));
  const x86::Gp S = Gpr64Reg(rs);
  a.mov(S, x86::rbp);
  GuardedAccess ga{rs, 8, kAccessRead, FlagsLive(gi)};
  EmitGuardedAccess(e, ga, [&a, S] { a.mov(S, x86::qword_ptr(S)); });
  a.lea(x86::rsp, x86::ptr(x86::rbp, 8));
  a.mov(x86::rbp, S);
  e.Restore(rs);
}

void EmitEnter(BlockEmitter& e, const GuestInsn& gi) {
  // enter size, 0 = push rbp; mov rbp, rsp; lea rsp, [rsp - size].
  // (Nesting levels above 0 are sent to the VMM by the classifier.)
  auto& a = e.a;
  const uint16_t frame = static_cast<uint16_t>(gi.d->ops[0].imm.value.u);
  EmitPushStore(e, gi, 8, 1u << kRbp, [&a](const x86::Gp& slot) { a.mov(x86::qword_ptr(slot), x86::rbp); });
  a.mov(x86::rbp, x86::rsp);
  if (frame) a.lea(x86::rsp, x86::ptr(x86::rsp, -static_cast<int32_t>(frame)));
}

}  // namespace xlat
