// Text dumps of translated blocks: the guest instructions and the host code
// they became, disassembled with Capstone (the -d in_asm/out_asm categories).
#pragma once

#include <cstdint>
#include <string>

namespace xlat {

struct Block;

// Guest code of `b` (bytes read from `guest_code`, which holds b->guest_size
// bytes) and its host code, one instruction per line.
std::string DumpBlock(const Block& b, const uint8_t* guest_code, bool in_asm, bool out_asm);

}  // namespace xlat
