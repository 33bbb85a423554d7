#include "translator/emit_control.h"

#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "translator/emit_memory.h"
#include "translator/emit_stack.h"

namespace xlat {

using namespace asmjit;

namespace {

bool FlagsLive(const GuestInsn& gi) { return (gi.flags_live_in & kArithFlags) != 0; }

// Displaces r11 and returns where an indirect branch's target is: the
// guest register a `jmp reg` or `call reg` names (but rsp, which a call
// moves first), else r11, into which a memory operand is read through the
// TLB with the registers as they were before the instruction.
x86::Gp LoadTarget(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  const ZydisDecodedOperand& op = d.ops[0];
  auto& a = e.a;
  e.Displace(kR11);
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const int n = GprNumber(op.reg.value);
    if (n != kRsp) return x86::gpq(static_cast<uint32_t>(n));
    a.mov(x86::r11, x86::rsp);
    return x86::r11;
  }
  const AddressExpr expr = AddressOf(d, op);
  GuardedAccess ga{kR11, 8, kAccessRead, FlagsLive(gi)};
  // A jump table or a pointer in the image (jmp [table + rax*8], call [rip
  // + x]): one compare with the page's tag, as for a load from there.
  ga.constant = OnConstantPage(expr, gi.index_bound, ga);
  ga.expr = expr;
  if (!ga.constant) {
    const uint16_t avoid = GprsUsed(d) | (FlagsLive(gi) ? (1u << kRcx) : 0);
    const unsigned seg = expr.segment >= 0 ? e.TakeScratch(avoid) : 16;
    EmitGuestAddress(e, kR11, seg, expr);
    if (seg < 16) e.Restore(seg);
  }
  if (IsConstantTableRead(ga) && expr.index != kR11) {
    // A jump table: its entry read from the page's addend plus index and table.
    const x86::Mem entry =
        x86::qword_ptr(x86::r11, x86::gpq(static_cast<uint32_t>(expr.index)),
                       static_cast<uint32_t>(__builtin_ctz(expr.scale)), static_cast<int32_t>(expr.disp));
    const EmitFn table_read = [&a, entry] { a.mov(x86::r11, entry); };
    EmitGuardedAccess(e, ga, [&a] { a.mov(x86::r11, x86::qword_ptr(x86::r11)); }, &table_read);
  } else {
    EmitGuardedAccess(e, ga, [&a] { a.mov(x86::r11, x86::qword_ptr(x86::r11)); });
  }
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
  auto& a = e.a;
  // The target's indirect entry expects exactly r11 displaced.
  for (unsigned r = 0; r < 16; ++r)
    if (r != kR11 && (e.displaced() & (1u << r))) a.mov(Gpr64Reg(r), Ctx(CtxSpillOff(r)));
  EmitJumpThroughCache(e, e.priv, target);
}

void EmitJumpThroughCache(BlockEmitter& e, PrivClass priv, const x86::Gp& target) {
  auto& a = e.a;
  a.mov(Ctx(XLAT_CTX_OFF(ind_target)), target);        // the target checks this
  a.movzx(x86::r11d, target.r16());                    // jump-cache index = VA bits 15:0
  a.jmp(CtxIndexed(CtxJcCodeOff(priv), x86::r11, 3));  // a block's indirect entry, or lookup_miss
}

void EmitFallthrough(BlockEmitter& e, uint64_t next) { e.LeaveTo(next); }

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
  const DecodedInsn& d = *gi.d;
  uint8_t bytes[16];
  const unsigned n = d.length();
  for (unsigned i = 0; i + 1 < n; ++i) bytes[i] = d.bytes[i];
  bytes[n - 1] = 5;
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
