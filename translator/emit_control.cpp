#include "translator/emit_control.h"

#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "translator/emit_memory.h"
#include "translator/emit_stack.h"

namespace xlat {

using namespace asmjit;

namespace {

bool FlagsLive(const GuestInsn& gi) { return (gi.flags_live_in & kArithFlags) != 0; }

// Reads an indirect branch's target into `t` (taken as scratch by the
// caller): the guest register a `jmp reg` or `call reg` names, or its
// memory operand read through the TLB with the registers as they were
// before the instruction.
void LoadTargetInto(BlockEmitter& e, const GuestInsn& gi, unsigned t) {
  const DecodedInsn& d = *gi.d;
  const ZydisDecodedOperand& op = d.ops[0];
  auto& a = e.a;
  const x86::Gp T = x86::gpq(t);
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    a.mov(T, x86::gpq(static_cast<uint32_t>(GprNumber(op.reg.value))));
    return;
  }
  const AddressExpr expr = AddressOf(d, op);
  GuardedAccess ga{t, 8, kAccessRead, FlagsLive(gi)};
  // A jump table or a pointer in the image (jmp [table + rax*8], call [rip
  // + x]): one compare with the page's tag, as for a load from there.
  ga.constant = OnConstantPage(expr, gi.index_bound, ga);
  ga.expr = expr;
  if (!ga.constant) {
    const uint16_t avoid = GprsUsed(d) | static_cast<uint16_t>(1u << t) | (FlagsLive(gi) ? (1u << kRcx) : 0);
    const unsigned seg = expr.segment >= 0 ? e.TakeScratch(avoid) : 16;
    EmitGuestAddress(e, t, seg, expr);
    if (seg < 16) e.Restore(seg);
  }
  if (IsConstantTableRead(ga) && expr.index != static_cast<int>(t)) {
    // A jump table: its entry read from the page's addend plus index and table.
    const x86::Mem entry =
        x86::qword_ptr(T, x86::gpq(static_cast<uint32_t>(expr.index)), static_cast<uint32_t>(__builtin_ctz(expr.scale)),
                       static_cast<int32_t>(expr.disp));
    const EmitFn table_read = [&a, T, entry] { a.mov(T, entry); };
    EmitGuardedAccess(e, ga, [&a, T] { a.mov(T, x86::qword_ptr(T)); }, &table_read);
  } else {
    EmitGuardedAccess(e, ga, [&a, T] { a.mov(T, x86::qword_ptr(T)); });
  }
}

// Displaces r11 and returns where an indirect branch's target is: the
// guest register a `jmp reg` or `call reg` names (but rsp, which a call
// moves first), else r11, into which it is read (LoadTargetInto).
x86::Gp LoadTarget(BlockEmitter& e, const GuestInsn& gi) {
  const ZydisDecodedOperand& op = gi.d->ops[0];
  e.Displace(kR11);
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(op.reg.value) != kRsp)
    return x86::gpq(static_cast<uint32_t>(GprNumber(op.reg.value)));
  LoadTargetInto(e, gi, kR11);
  return x86::r11;
}

// Pushes the return address `ret` (a guest VA).
void PushReturnAddress(BlockEmitter& e, const GuestInsn& gi, uint64_t ret) {
  auto& a = e.a;
  const int64_t sret = static_cast<int64_t>(ret);
  if (sret == static_cast<int32_t>(sret)) {
    EmitPushStore(e, gi, 8, 0, [&a, sret](const x86::Gp& slot) {
      a.mov(x86::qword_ptr(slot), static_cast<int32_t>(sret));
    });
    return;
  }
  const unsigned rv = e.TakeScratch(FlagsLive(gi) ? (1u << kRcx) : 0);
  const x86::Gp V = Gpr64Reg(rv);
  a.mov(V, ret);
  EmitPushStore(e, gi, 8, static_cast<uint16_t>(1u << rv),
                [&a, V](const x86::Gp& slot) { a.mov(x86::qword_ptr(slot), V); });
  e.Restore(rv);
}

}  // namespace

void EmitIndirectJump(BlockEmitter& e, const x86::Gp& target) {
  EmitJumpThroughCache(e, e.priv, target, e.displaced());
}

void EmitJumpThroughCache(BlockEmitter& e, PrivClass priv, const x86::Gp& target, uint16_t displaced) {
  auto& a = e.a;
  // The target's indirect entry expects exactly r11 displaced. The target
  // and its index are taken first: `target` may be displaced itself.
  a.mov(Ctx(XLAT_CTX_OFF(ind_target)), target);  // the target checks this
  if (!(displaced & (1u << kR11))) a.mov(Ctx(CtxSpillOff(kR11)), x86::r11);
  // Single-stepped (a TF trap, a debugger's step, a trace being recorded):
  // one instruction, then the VMM, not on into the target's translation.
  const bool stepping = e.block->single_step;
  if (!stepping) a.movzx(x86::r11d, target.r16());  // jump-cache index = VA bits 15:0
  for (unsigned r = 0; r < 16; ++r)
    if (r != kR11 && (displaced & (1u << r))) a.mov(Gpr64Reg(r), Ctx(CtxSpillOff(r)));
  if (stepping)
    a.jmp(Imm(reinterpret_cast<uint64_t>(e.thunks.lookup_miss)));
  else
    a.jmp(CtxIndexed(CtxJcCodeOff(priv), x86::r11, 3));  // a block's indirect entry, or lookup_miss
}

void EmitFallthrough(BlockEmitter& e, uint64_t next) { e.LeaveTo(next); }

void EmitIndirectGuard(BlockEmitter& e, const GuestInsn& gi, uint64_t expected) {
  auto& a = e.a;
  const ZydisDecodedOperand& op = gi.d->ops[0];
  // The target: in the guest register the jmp names, else read into a
  // scratch (not necessarily r11: in a trace, an access group may hold it
  // across the guard).
  int taken = -1;
  unsigned t;
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(op.reg.value) != kRsp) {
    t = static_cast<unsigned>(GprNumber(op.reg.value));
  } else {
    taken = static_cast<int>(e.TakeScratch(GprsUsed(*gi.d)));
    t = static_cast<unsigned>(taken);
    LoadTargetInto(e, gi, t);
  }
  a.cmp(x86::gpq(t), static_cast<int32_t>(expected));
  const Label other = a.newLabel();
  a.jne(other);
  const uint16_t displaced_here = e.displaced();
  e.Cold([&e, other, t, displaced_here] {
    e.a.bind(other);
    EmitJumpThroughCache(e, e.priv, x86::gpq(t), displaced_here);
  });
  if (taken >= 0) e.Restore(static_cast<unsigned>(taken));
}

void EmitJmp(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  if (d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    e.LeaveTo(d.direct_target());
    return;
  }
  EmitIndirectJump(e, LoadTarget(e, gi));
}

void EmitJcc(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  // The condition is the low nibble of the opcode in both the 7x rel8 and
  // the 0F 8x rel32 forms, and AsmJit's CondCode uses the same numbering.
  const auto cond = static_cast<x86::CondCode>(d.insn.opcode & 0xf);
  if (d.direct_target() == e.block->guest_rip && e.loop_head.isValid() && !e.block->single_step) {
    // A loop that is its own block: branch back inside the block, past the
    // entry's spills, with the pool still displaced. (Not when single-stepped:
    // every iteration must leave for its TF trap.)
    e.a.j(cond, e.loop_head);
    e.LeaveTo(d.next_rip());
    e.self_loop = true;
    return;
  }
  e.LeaveByJcc(cond, d.direct_target(), d.next_rip());
}

void EmitSideExit(BlockEmitter& e, const GuestInsn& gi, bool inverted, uint64_t dest) {
  // (x86 condition codes come in pairs that differ in bit 0: jz/jnz, jc/jnc...)
  const unsigned cond = (gi.d->insn.opcode & 0xf) ^ (inverted ? 1u : 0u);
  e.SideExitIf(static_cast<x86::CondCode>(cond), dest);
}

void EmitLoop(BlockEmitter& e, const GuestInsn& gi) {
  // loop/loope/loopne/jrcxz run natively with their rel8 pointed over the
  // fall-through exit (a 5-byte jmp rel32) at the taken exit. This keeps
  // their exact semantics: rcx or ecx (0x67), ZF, no flags written.
  // Re-encoded as [0x67] opcode rel8, not copied: the guest's other
  // prefixes mean nothing to them as decoded (64-bit operand size), but an
  // operand-size prefix (0x66) makes an AMD host truncate the branch target
  // to 16 bits, sending the host to the cache address's low 16 bits.
  const DecodedInsn& d = *gi.d;
  uint8_t bytes[3];
  unsigned n = 0;
  if (d.insn.address_width == 32) bytes[n++] = 0x67;
  bytes[n++] = d.insn.opcode;  // e0..e3
  bytes[n++] = 5;
  e.RestoreAll();
  e.BeginNative();
  e.Embed(bytes, n);
  e.EndNative();
  e.DirectExit(d.next_rip());
  e.DirectExit(d.direct_target());
}

void EmitCall(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  if (d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    PushReturnAddress(e, gi, d.next_rip());
    e.LeaveTo(d.direct_target());
    return;
  }
  const x86::Gp target = LoadTarget(e, gi);
  PushReturnAddress(e, gi, d.next_rip());
  EmitIndirectJump(e, target);
}

void EmitRet(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  auto& a = e.a;
  const int32_t pop = 8 + (d.insn.operand_count_visible > 0 ? static_cast<int32_t>(d.ops[0].imm.value.u) : 0);
  e.Displace(kR11);
  a.mov(x86::r11, x86::rsp);
  GuardedAccess ga{kR11, 8, kAccessRead, FlagsLive(gi)};
  EmitGuardedAccess(e, ga, [&a] { a.mov(x86::r11, x86::qword_ptr(x86::r11)); });
  a.lea(x86::rsp, x86::ptr(x86::rsp, pop));
  EmitIndirectJump(e, x86::r11);
}

}  // namespace xlat
