// Flag liveness within a block. A rewrite that inserts flag-clobbering code
// before a guest instruction may do so only where no arithmetic flag is live.
//
// An instruction kills a flag only if it always writes it: flags Zydis lists
// as "undefined" may in fact be left unchanged by the hardware, and shifts
// and rotates by a count that may be zero change nothing, so neither kills.
// At the end of a block every flag is live (the successor is unknown).
#pragma once

#include <cstdint>
#include <span>

#include "translator/decoder.h"

namespace xlat {

struct FlagEffect {
  uint32_t reads = 0;   // RFLAGS bit mask of arithmetic flags read
  uint32_t kills = 0;   // ... always written
};

FlagEffect FlagEffectOf(const DecodedInsn& d);

// live_in[i] / live_out[i]: arithmetic flags live before / after insn i.
void ComputeFlagLiveness(std::span<const FlagEffect> effects, std::span<uint32_t> live_in,
                         std::span<uint32_t> live_out);

}  // namespace xlat
