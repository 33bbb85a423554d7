// A translated block: one guest basic block and the host code it became.
//
// Host layout of a block in the code cache:
//
//   indirect_entry:  cmp gs:[ind_target], rip; jne lookup_miss
//                    (restore the flags if the block reads them), spill
//                    the pool but r11, jmp pool_entry
//   entry:           spill the pool registers to their slots
//   pool_entry:      mov dword gs:[poll_page], host_code  ; interrupt / stop
//                                                ; poll, and the last block entered
//                    ...translated instructions...
//                    [pool site] reload the pool; jcc/jmp rel32 -> exit stub
//                                                ; each direct exit is patchable
//   cold code:       memory slow-path stubs, exit stubs
//
// Invariants:
//  - [host_code, host_code + host_size) covers the whole block, cold code
//    included, and blocks lie at increasing host addresses between flushes,
//    so the block holding a host PC is found by binary search (the signal
//    handler relies on this);
//  - a direct exit's patch_site is the rel32 field of its jmp/jcc; linked_to
//    says where it points now (nullptr: its own exit stub); its pool site,
//    if any, goes to linked_to's pool entry when their pools are the same,
//    else on to the reloads before the jmp/jcc;
//  - a block that has been invalidated stays in memory until the next flush
//    (the vCPU may still be returning through it) but is unreachable: no
//    lookup finds it and no exit links to it.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/vcpu_context.h"

namespace xlat {

struct Block;

// One way out of a block by a direct branch.
//
// An exit taken with exactly the block's pool registers displaced may also
// have a pool site: a branch placed before the pool's reloads. While the
// exit is linked to a block with the same pool, it goes straight to that
// block's pool entry, past its spills: the guest values are in the spill
// slots already, and the registers are the pool's scratch on both sides.
struct BlockExit {
  Block* from = nullptr;
  uint64_t guest_target = 0;      // guest VA the branch goes to
  uint8_t* patch_site = nullptr;  // rel32 field of the jmp/jcc
  uint8_t* stub = nullptr;        // the exit stub it points to while unlinked
  Block* linked_to = nullptr;
  // The pool site: a `jcc rel32` (pool_site_jcc) that otherwise goes to
  // pool_reloads, or a 5-byte nop that becomes `jmp rel32`; null if none.
  uint8_t* pool_site = nullptr;
  uint8_t* pool_reloads = nullptr;
  bool pool_site_jcc = false;
  // Set by a CR3 write whose next address space would link this exit to
  // keep_target again: the link then stays (MappingCaches::OnCr3Write).
  uint64_t keep_stamp = 0;
  Block* keep_target = nullptr;

  // Whether a link to `target` goes past its spills.
  bool SkipsSpillsTo(const Block& target) const;
};

// A span of host code that runs a guest instruction natively (the copied or
// re-encoded instruction itself, or the block's poll store). A host fault in
// [begin, end) is a fault of guest instruction `insn`, with the guest's
// registers = the host's, except those in `displaced`, which are in
// ctx.spill.
struct NativeSpan {
  uint32_t begin;       // offset from host_code
  uint32_t end;
  uint16_t insn;        // index into Block::insn_rips
  uint16_t displaced;   // bit r: guest GPR r is in ctx.spill[r]
  bool flags_saved;     // the guest's arithmetic flags are in ctx.flags_lahf (DF is in the host's)
};

struct Block {
  uint64_t guest_rip = 0;          // guest VA of the first instruction
  uint64_t guest_phys = 0;         // guest PA of the first instruction
  uint64_t key = 0;                // CodeCache lookup key (phys + privilege)
  uint32_t guest_size = 0;         // bytes of guest code (the sum of insn_lens)
  PrivClass priv = PrivClass::kSupervisor;
  uint8_t* host_code = nullptr;    // start of the block's host memory (= indirect entry)
  uint8_t* entry = nullptr;        // normal entry
  uint8_t* pool_entry = nullptr;   // past the normal entry's pool spills (null without a pool)
  uint16_t pool = 0;               // its pool registers (displaced for the whole block)
  uint32_t host_size = 0;
  bool valid = true;
  bool global_code = false;        // every code page is mapped global (kept across CR3 writes)
  uint64_t jc_keep_stamp = 0;      // as BlockExit::keep_stamp, for its jump-cache entry
  bool single_step = false;        // one instruction for a TF trap: never linked, not in the jump cache
  bool trace = false;              // a trace (Translator::TranslateTrace), not one block
  bool trace_loops = false;        // ... that goes back to its own start (else it leaves at its end)
  // Its translation (or a flag lookahead of it) met an instruction whose
  // #UD/#NM depends on CR0.EM/TS/MP and CR4.OSFXSR/OSXSAVE: dropped when
  // those change.
  bool depends_on_fpu_control = false;
  // Where the loop leaves, for a block that ends with a backward jcc (to its
  // own start or further back): the jcc's fall-through; 0 otherwise.
  uint64_t loop_exit = 0;
  // Guest RIP and length of each instruction, in the order run. Not always
  // one run of bytes: a direct jmp the translator followed is followed by
  // the instruction at its target.
  std::vector<uint64_t> insn_rips;
  std::vector<uint8_t> insn_lens;
  std::vector<uint32_t> insn_host; // offset of each instruction's host code (hot path), then the cold code's
  std::vector<uint8_t> insn_kinds; // InsnKind of each instruction (for dumps)
  std::vector<NativeSpan> spans;   // sorted by begin
  std::vector<BlockExit> exits;
  std::vector<BlockExit*> incoming;  // exits of other blocks linked to this one
  // Guest physical bytes the translation depends on, each range within one
  // page: the block's own code (a range per run of consecutive instructions,
  // and one more when its last instruction straddles a page boundary) and
  // code it decoded ahead in its successors to learn their flag use. A store
  // to any of them invalidates the block.
  struct CodeRange {
    uint64_t pa;
    uint32_t len;
  };
  std::vector<CodeRange> ranges;

  // Calls fn(page) once for each distinct page of `ranges` (a handful:
  // quadratic is cheaper than any set).
  template <typename Fn>
  void ForEachPage(Fn&& fn) const {
    for (size_t i = 0; i < ranges.size(); ++i) {
      const uint64_t page = ranges[i].pa & ~0xfffull;
      bool seen = false;
      for (size_t j = 0; j < i && !seen; ++j) seen = (ranges[j].pa & ~0xfffull) == page;
      if (!seen) fn(page);
    }
  }
  bool Overlaps(uint64_t pa, uint64_t len) const {
    for (const CodeRange& r : ranges)
      if (pa < r.pa + r.len && r.pa < pa + len) return true;
    return false;
  }
};

inline bool BlockExit::SkipsSpillsTo(const Block& target) const {
  return pool_site && target.pool_entry && target.pool == from->pool;
}

}  // namespace xlat
