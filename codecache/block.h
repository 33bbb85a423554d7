// A translated block: one guest basic block (or a straight-line run of them up
// to a page boundary) and the host code it became.
//
// Host layout of a block in the code cache:
//
//   indirect_entry:  mov rcx, gs:[spill.rcx]      ; the jump cache enters here,
//                    mov r11, gs:[spill.r11]      ; restoring the two registers
//                                                 ; the inline lookup displaced
//   entry:           mov byte gs:[poll_page], 0   ; interrupt/stop poll
//                    ...translated instructions...
//                    jcc/jmp rel32 -> exit stub    ; each exit is patchable
//   cold section:    memory slow-path stubs, exit stubs, site metadata
//
// Invariants:
//  - host_code .. host_code+host_size covers the whole block, cold section included;
//  - blocks are allocated at increasing host addresses between cache flushes,
//    so CodeCache can find the block for a host PC by binary search (the
//    signal handler relies on this and on nothing else);
//  - every exit's patch site is a rel32 field; `linked_to` says where it
//    points now (nullptr: its own exit stub).
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/vcpu_context.h"

namespace xlat {

struct Block;

// One way out of a block by a direct branch.
struct BlockExit {
  uint64_t guest_target = 0;      // guest VA the branch goes to
  uint8_t* patch_site = nullptr;  // rel32 field of the jmp/jcc
  uint8_t* stub = nullptr;        // the exit stub it points to while unlinked
  Block* linked_to = nullptr;
};

// For a guest instruction: where its natively executed host instruction is,
// and which guest registers are displaced (held in spill slots) while it runs.
// A host fault inside [native_begin, native_end) is a fault of this guest
// instruction, with guest state = host state + spills.
struct InsnMap {
  uint32_t native_begin;   // offset from host_code
  uint32_t native_end;
  uint32_t guest_offset;   // from guest_rip
  uint16_t displaced;      // bit r: guest GPR r is in ctx.spill[r]
};

struct Block {
  uint64_t guest_rip = 0;          // guest VA of the first instruction
  uint64_t guest_phys = 0;         // guest PA of the first instruction
  uint64_t key = 0;                // CodeCache lookup key (phys + mode)
  uint32_t guest_size = 0;         // bytes of guest code
  uint32_t guest_insns = 0;
  PrivClass priv = PrivClass::kSupervisor;
  uint8_t* host_code = nullptr;    // start of the block's host memory (= indirect_entry)
  uint8_t* entry = nullptr;        // normal entry
  uint32_t host_size = 0;
  bool valid = true;               // false once invalidated (stays in memory until flush)
  std::vector<BlockExit> exits;
  std::vector<InsnMap> insns;
  std::vector<BlockExit*> incoming;  // exits of other blocks linked to this one
  // Guest physical pages the block's code occupies (one, or two for a block
  // whose last instruction straddles a page boundary).
  uint64_t pages[2] = {~0ull, ~0ull};
};

}  // namespace xlat
