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

}  // namespace xlat
