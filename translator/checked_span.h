// Accesses in a loop checked once, before the loop head: a block that
// branches back to its own start runs its body once per iteration, and
// every access pays its TLB check each time.
//
// Where an access's base register is not written anywhere in the block and
// its index register is bounded by the block itself before the access
// (movzx from a byte, or an and with a small constant) or never written,
// every iteration accesses within [base + disp, base + disp + bound * scale
// + size). One check of that span, before the loop head, stands for all
// iterations: the access then runs natively on [host base + index * scale].
// Accesses through the same base share the span (each keeps its own
// bounded index). The table lookup of a CRC or a byte-indexed decoder loop
// loses its check, and with it three loads on the critical path.
//
// An unchanged base without an index is the same case: the fields of a
// struct a loop reads and updates through one pointer share one check, and
// join no access group.
//
// A translation found through the TLB may be used until the guest
// invalidates it (invlpg or a CR3 write, both of which leave the block). A
// store must also see write protection that the VMM adds in a callout (a
// page becoming a page table): a callout that adds any leaves the block
// (VcpuRuntime::LeaveAfterRevocation), and the loop is entered again through
// its check. A span the VMM cannot stand behind (not RAM, crossing onto a
// discontiguous page, unmapped, or a store to code or page tables) is
// declined like an access group's: the block is translated again without
// either.
//
// Outside a loop the same check at a block's start stands for two or more
// accesses through different bounded indices off one base (an
// interpreter's register file, read and written through byte-sized
// operands), which access groups cannot share. A 2 KiB span straddles a
// page about half the time: the inline check's second try covers a span
// across two pages that the TLB holds adjacent in host memory (the pair
// tags of vcpu_context.h, set by the VMM the first time it sees that span
// cross). Without that second try, such blocks went to the VMM at every
// run until declined, and the bytecode interpreter lost 8 %.
#pragma once

#include <cstdint>
#include <vector>

#include "codecache/site.h"
#include "translator/classify.h"
#include "translator/decoder.h"

namespace xlat {

struct CheckedSpan {
  AddressExpr base;      // its lowest byte: base + disp (+ index * scale when invariant)
  bool indexed = false;  // members keep their (bounded) index registers
  uint32_t span = 0;     // bytes from there
  uint8_t access = 0;    // MemAccessBits of its members
  unsigned members = 0;
};

// The largest value the last write of `reg` before instruction i leaves in
// it, when that write bounds it (movzx from a byte, and with a small
// constant), else -1 (also when nothing in the block writes it before i).
int64_t IndexBoundAt(const std::vector<DecodedInsn>& insns, size_t i, int reg);

// Whether the block ends with a jcc back to its own start (`rip`).
bool LoopsToItself(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, uint64_t rip);

// The span with the most members, if it has at least min_members (in a
// block that loops to itself, or one checked at the start of any block),
// among those whose members keep bounded indices when indexed_only (outside
// a loop, where access groups serve the others as well).
// For each instruction, *offset gets its access's displacement from the
// span's base, or -1 when it is not a member. False if there is none.
bool FindCheckedSpan(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, CheckedSpan* span,
                     std::vector<int32_t>* offset, unsigned min_members, bool indexed_only = false);

inline constexpr uint32_t kMaxCheckedSpan = 2048;

// Accesses that move with the loop's counter: [B + X*s + d] or [X + d],
// where the counter I ends each iteration as itself plus a constant step
// (add/sub of an immediate, inc/dec, lea, and moves between registers,
// followed through the block), X is I plus a known constant where the
// access is, and B does not change at all. Every
// iteration's accesses through one B and s lie in a window of `span` bytes
// at B + I*s + lo (I as at the loop head), which moves by step * s.
//
// The check before the loop head finds the page of the current window, as
// a span's check does, and works out for how many more iterations the
// window stays inside it: for that many iterations the head lets the loop
// run after one sub of a register counting them down (or, where the block
// leaves no register for the count, of ctx.stride_n), and the accesses run
// natively on [host base + I*s + d]. When the count runs out the head goes back to the check, which finds
// the next page, and polls for interrupts there, not at every iteration. A
// copy or a dot product then pays one sub per iteration instead of a TLB
// lookup per access, and a lookup per page. (The register count against the
// memory compare and a poll per iteration: the 2048² matrix multiply 1.96 s
// to 1.27 s.)
//
// Only where the block's flags are dead at its start (the head's compare
// clobbers them), only steps whose size in bytes, step * s, is a power of
// two (the number of iterations left in the page is a shift), and only
// loops whose closing test compares a counter (cmp against a bound, dec to
// zero): a loop that exits on data it loaded, a partition scan, often runs
// two or three iterations, where the check before it costs more than the
// checks it saves.
struct StrideGroup {
  AddressExpr at;        // the window's lowest byte at the loop head: B + I*s + lo (B may be none)
  uint32_t span = 0;     // the window's bytes
  uint8_t access = 0;    // MemAccessBits of its members
  uint8_t shift = 0;     // log2(|step| * s)
  unsigned members = 0;
};

inline constexpr unsigned kMaxStrideGroups = 2;

struct StrideSpans {
  int counter = -1;      // I
  int64_t step = 0;      // what one iteration adds to I
  StrideGroup groups[kMaxStrideGroups];
  unsigned count = 0;
};

// In a block that loops to itself: the counter with the most accesses
// moving with it, in at most `max_groups` groups. (*group)[i] gets each
// instruction's group, or -1. Instructions with apart[i] >= 0 (a span's
// members) join none. False if there is none.
bool FindStrideSpans(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds,
                     const std::vector<int32_t>& apart, unsigned max_groups, StrideSpans* out,
                     std::vector<int8_t>* group);

inline constexpr uint32_t kMaxStrideSpan = 1024;

}  // namespace xlat
