// Instructions the translator hands to the VMM: sensitive instructions
// (emulated at a block boundary), instructions that must raise an exception,
// (String instructions: emit_string.h.)
#pragma once

#include "translator/emit_context.h"

namespace xlat {

// Ends the block: the VMM emulates the instruction at gi's rip and continues.
void EmitEmulateExit(BlockEmitter& e, const GuestInsn& gi);
// Ends the block: raise exception `vector` with rip = gi's rip.
void EmitRaise(BlockEmitter& e, const GuestInsn& gi, uint8_t vector);
// Ends the block at a debugger breakpoint (the dispatcher stops there).
void EmitDebugBreak(BlockEmitter& e);

}  // namespace xlat
