// A site: a place in translated code that can enter the VMM. Emitted code
// names its site by a 32-bit id (`mov dword gs:[ctx.site], id`) before it
// jumps to a thunk; the VMM reads the record to know what to do and where to
// resume. Sites live as long as the code that names them: a code-cache flush
// drops them all.
#pragma once

#include <cstdint>

namespace xlat {

struct Block;

enum class SiteKind : uint8_t {
  kBranchExit,    // direct branch not linked yet: go to `target`; `exit_index` names the BlockExit
  kLookupMiss,    // indirect branch missed the jump cache: target is in ctx.rip
  kEmulate,       // sensitive instruction at guest_rip: the VMM emulates it
  kRaise,         // raise exception `vector` at guest_rip (e.g. #UD)
  kMemSlow,       // inline TLB miss or page-crossing access
  kMemPost,       // after an instruction that wrote to the bounce buffer
  kMemGroup,      // the one check of a group of accesses (translator/mem_groups.h)
  kString,        // string instruction (with or without rep) done by the VMM
  kFetchFault,    // the next instruction could not be fetched: retry at guest_rip
  kDebugBreak,    // a debugger breakpoint at guest_rip: leave to the dispatcher
};

// How a memory operand's guest virtual address is formed (enough for the VMM
// to recompute it from the guest registers).
struct AddressExpr {
  int8_t base = -1;         // GPR number or -1
  int8_t index = -1;
  uint8_t scale = 1;
  uint8_t addr_bits = 64;   // 64 or 32 (0x67 prefix)
  int8_t segment = -1;      // 4 = fs, 5 = gs, -1 = none (flat)
  int64_t disp = 0;         // for RIP-relative operands: the absolute address, base = index = -1
};

enum MemAccessBits : uint8_t { kAccessRead = 1, kAccessWrite = 2 };

struct Site {
  SiteKind kind;
  Block* block = nullptr;
  uint64_t guest_rip = 0;       // the guest instruction this site belongs to
  uint64_t next_rip = 0;        // the one after it
  uint16_t displaced = 0;       // GPRs held in ctx.spill at the site
  bool flags_saved = false;     // the guest's arithmetic flags are in ctx.flags_lahf (after the save before an indirect branch)
  // kBranchExit
  uint64_t target = 0;
  uint32_t exit_index = 0;
  // kRaise
  uint8_t vector = 0;
  // kMemSlow / kMemPost
  uint8_t addr_reg = 0;         // scratch that holds the VA and must receive the host address
  uint8_t access = 0;           // MemAccessBits
  uint16_t size = 0;            // bytes accessed (the VA is in addr_reg when the VMM is entered)
  uint8_t align = 0;            // kMemSlow: the alignment the access needs (#GP(0) otherwise), or 0
  uint8_t page_crossings = 0;   // kMemGroup: times its span was let across a page boundary (each a callout)
  uint8_t* resume_in_place = nullptr;  // hot path, after the TLB lookup (addr_reg = host address)
  uint8_t* resume_bounce = nullptr;    // cold copy of the instruction (addr_reg = bounce)
  uint8_t* resume_after = nullptr;     // after the instruction (kMemPost resumes here)
};

}  // namespace xlat
