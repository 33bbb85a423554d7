// Sensitive instructions done inline on virtual state, without leaving
// translated code (emit_virtual.cpp).
#pragma once

#include "translator/emit_context.h"

namespace xlat {

void EmitVirtualInsn(BlockEmitter& e, const GuestInsn& gi);

}  // namespace xlat
