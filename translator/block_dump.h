// Text dumps of translated blocks (-d in_asm, out_asm): the guest
// instructions with their virtual and physical addresses, and the host code
// each one became, with how it was classified. Disassembly by Capstone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace xlat {

struct Block;

// `guest_code` holds the bytes of the block's instructions one after the
// other (b.guest_size in all: insn_lens[i] bytes for instruction i);
// `symbolize` names guest addresses ("" when unknown; may be empty).
std::string DumpBlockInAsm(const Block& b, const uint8_t* guest_code,
                           const std::function<std::string(uint64_t)>& symbolize);
std::string DumpBlockOutAsm(const Block& b, const uint8_t* guest_code);

}  // namespace xlat
