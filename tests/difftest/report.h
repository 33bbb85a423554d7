// Human-readable output: sequences disassembled item by item (Zydis, Intel
// syntax, at their real addresses) and the initial state.
#pragma once

#include <cstdint>
#include <string>

#include "tests/difftest/generator.h"

namespace difftest {

// Every instruction of `s`, grouped by item, with ">>" on the instruction at
// `mark_rip` and "!!" on the one at `other_rip` (0: none). The terminator
// shows as `hlt`.
std::string DisassembleSequence(const Sequence& s, uint64_t mark_rip, uint64_t other_rip = 0);

// Prints how many forms, sequences and items a run covered, by category.
void PrintCoverage(const GenStats& st, uint64_t sequences);

// One instruction at `va` from `bytes`; returns its length (0 if invalid).
size_t FormatInstruction(const uint8_t* bytes, size_t avail, uint64_t va, std::string* text);

}  // namespace difftest
