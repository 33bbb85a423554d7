// String instructions. The common ones -- rep movs and rep stos forward,
// with 64-bit addresses, of any element size, the whole range within one
// page each side -- run natively on host addresses from the inline TLB:
// memcpy and memset in compiled code, which would otherwise each be a call
// into the VMM. Everything else (lods, cmps, scas, no rep, DF set, a range
// crossing a page or missing the TLB, segment overrides) the VMM does, and
// translated code resumes after the instruction.
#pragma once

#include "translator/emit_context.h"

namespace xlat {

// True for the forms EmitString may run inline. They read no flag: the
// block's liveness need not keep flags exact up to them (a fault they raise
// from the VMM shows dead flags as any memory access does).
bool InlineStringForm(const DecodedInsn& d);
// The pool registers the inline form takes (all at once, besides what the
// instruction names): 4 for movs, 3 for stos; 0 if not an inline form.
unsigned InlineStringPoolRegs(const DecodedInsn& d);

void EmitString(BlockEmitter& e, const GuestInsn& gi);

}  // namespace xlat
