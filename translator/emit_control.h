// Control flow: the instructions that end a block. Direct targets leave
// through patchable exits (linked by the VMM once the target is translated);
// indirect targets and returns are looked up inline in the jump cache.
#pragma once

#include "translator/emit_context.h"

namespace xlat {

void EmitJmp(BlockEmitter& e, const GuestInsn& gi);
void EmitJcc(BlockEmitter& e, const GuestInsn& gi);
// A jcc the block goes on past: one path leaves by a side exit to `dest`,
// the taken path (or, `inverted`, the fall-through).
void EmitSideExit(BlockEmitter& e, const GuestInsn& gi, bool inverted, uint64_t dest);
void EmitLoop(BlockEmitter& e, const GuestInsn& gi);   // loop/loope/loopne/jrcxz/jecxz
void EmitCall(BlockEmitter& e, const GuestInsn& gi);
void EmitRet(BlockEmitter& e, const GuestInsn& gi);

// With the guest target in `target` (r11, or a guest GPR other than rsp;
// r11 displaced either way), looks the target up in the jump cache and
// jumps there; on a miss, leaves to the VMM with ctx.rip = target. Ends the
// block's hot path.
void EmitIndirectJump(BlockEmitter& e, const asmjit::x86::Gp& target);
// The jump through the jump cache of class `priv` to the guest VA in
// `target`, where the GPRs in `displaced` are in their spill slots (target
// may be one of them): it reloads them but r11, whose guest value it puts
// in its slot (what a block's indirect entry expects).
void EmitJumpThroughCache(BlockEmitter& e, PrivClass priv, const asmjit::x86::Gp& target,
                          uint16_t displaced = 1u << kR11);

// A trace's guard (Translator::TranslateTrace): an indirect jmp the block
// goes on past when its target is `expected` (a sign-extended imm32), and
// that otherwise leaves through the jump cache. The guest's flags must be
// saved already: the compare clobbers the host's.
void EmitIndirectGuard(BlockEmitter& e, const GuestInsn& gi, uint64_t expected);

// Ends the block with a jump to the guest instruction at `next`.
void EmitFallthrough(BlockEmitter& e, uint64_t next);

}  // namespace xlat
