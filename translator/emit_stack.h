// Stack instructions (push/pop/enter/leave) and the stack half of call/ret.
#pragma once

#include "translator/emit_context.h"

namespace xlat {

// Stores through `store` into the new top-of-stack slot of `size` bytes, then
// moves rsp down. `avoid`: registers the store reads (not usable as scratch).
using StoreFn = InlineFunction<void(const x86::Gp& slot), 40>;
void EmitPushStore(BlockEmitter& e, const GuestInsn& gi, unsigned size, uint16_t avoid, const StoreFn& store);

void EmitPush(BlockEmitter& e, const GuestInsn& gi);
void EmitPop(BlockEmitter& e, const GuestInsn& gi);
void EmitLeave(BlockEmitter& e, const GuestInsn& gi);
void EmitEnter(BlockEmitter& e, const GuestInsn& gi);

}  // namespace xlat
