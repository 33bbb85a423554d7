// How each guest instruction is translated: the classification table.
//
// The table (classify.cpp) lists every mnemonic that is *not* simply copied:
// branches, stack instructions, string instructions, sensitive instructions
// and the few with quirky memory semantics. Everything else falls to the
// default rule: an instruction of a supported ISA extension is copied when it
// has no memory operand and memory-rewritten when it has one. An instruction
// of an extension the guest CPU does not have raises #UD.
#pragma once

#include <cstdint>

#include "translator/decoder.h"

namespace xlat {

enum class InsnKind : uint8_t {
  kCopy,       // register-only: bytes copied unchanged
  kMem,        // explicit memory operand: address through the inline TLB, re-encoded
  kBitMem,     // bt/bts/btr/btc [mem], reg: the register offset reaches beyond the operand
  kXlat,       // xlat: implicit [rbx + al]
  kPush,
  kPop,
  kLeave,
  kEnter,
  kJmp,        // direct or indirect
  kJcc,
  kLoop,       // loop/loope/loopne/jrcxz (rel8 only)
  kCall,
  kRet,
  kString,     // movs/stos/lods/cmps/scas, with or without rep: string helper
  kCallout,    // sensitive: the block ends and the VMM emulates it
  kDrop,       // hints with no architectural effect (prefetch, nop with operands)
  kUndefined,  // not part of the guest CPU: #UD
  kVirtual,    // sensitive, but done inline on virtual state (cli/sti at CPL 0, pushf, mov from a segment register)
};

const char* InsnKindName(InsnKind k);
InsnKind Classify(const DecodedInsn& d);

// The control-register bits that take x87, MMX and SSE instructions away
// (Intel SDM vol. 3A, 2.5, and the exceptions listed for each instruction):
// CR0.EM (no FPU: x87 -> #NM, MMX and SSE -> #UD), CR4.OSFXSR (the OS does
// not save SSE state: SSE -> #UD), and CR0.TS with CR0.MP (lazy FPU
// switching: #NM on the next x87/SIMD use). VEX-encoded instructions ignore
// EM and OSFXSR. Translations depend on them: the normal state translates
// nothing differently; any other one makes the affected instructions raise.
// (An OS that toggles TS on every task switch flushes the code cache each
// time; Linux has not done so since 4.x.)
struct FpuControl {
  bool em = false;      // CR0.EM
  bool osfxsr = true;   // CR4.OSFXSR
  bool ts = false;      // CR0.TS: lazy FPU switching, #NM on the next use
  bool mp = false;      // CR0.MP: wait/fwait obey TS too
  bool osxsave = true;  // CR4.OSXSAVE: without it xsave & co. are #UD, not #NM
  bool normal() const { return !em && osfxsr && !ts; }
  bool operator==(const FpuControl&) const = default;
};
// The vector an instruction raises instead of running under `fc` (#UD or
// #NM), or -1 when it runs.
int FpuControlFault(const DecodedInsn& d, const FpuControl& fc);
// Whether FpuControlFault can be other than -1 for some FpuControl: the
// instruction's translation depends on those control bits.
bool DependsOnFpuControl(const DecodedInsn& d);

}  // namespace xlat
