// Memory accesses through the inline TLB.
//
// A guest memory access becomes, on the hot path:
//
//     lea   rS, [guest address]            ; the guest virtual address
//     rorx  rT, rS, 12                     ; VA bits 27:12 -> TLB index
//     movzx rT32, rT16
//     add   rS, gs:[rT*8 + tlb_read_tag]   ; rS = offset in page if the tag matches
//     cmp   rS, 4096 - size                ; hit, and not crossing the page?
//     ja    slow                           ; (cold: the VMM walks, fills, or bounces)
//     add   rS, gs:[rT*8 + tlb_host_page]  ; rS = host address
//   resume_in_place:
//     <the guest instruction, re-encoded with [rS]>
//
// where the guest's flags are dead before the instruction (an access that
// must be aligned first tests its low VA bits: `test rS, align-1; jnz slow`;
// the VMM raises the #GP). Where they are
// live, the range check is done without touching flags: the offset goes
// through `lea` into rcx, `pext` keeps its bits above 11, and `jrcxz` tests
// for zero.
//
// The slow path calls the VMM with the site's id and the VA in rS. The VMM
// either fills the TLB and resumes in place with rS = host address, or points rS at the bounce buffer and resumes at a cold copy of
// the instruction, after which (for a store) it writes the bounce buffer back
// to guest memory: that is how page-crossing accesses to discontiguous pages,
// MMIO, and stores to pages holding translated code are done.
#pragma once

#include "codecache/site.h"
#include "translator/checked_span.h"
#include "translator/emit_context.h"

namespace xlat {

struct GuardedAccess {
  unsigned addr_reg;     // rS: holds the guest VA when the lookup starts (and
                         // whenever the slow path is entered), the host address after
  uint16_t size;         // bytes accessed
  uint8_t access;        // MemAccessBits
  bool flags_live;       // guest flags must survive the lookup
  uint16_t align = 0;    // RequiredAlignment: checked where flags are dead (else the access faults natively)
  // The VA is known at translation time (an absolute or RIP-relative
  // operand within one page, aligned as required; flags dead): rS is not
  // loaded with it, and the lookup is a compare of the entry's tag with a
  // constant, independent of any guest register.
  bool constant = false;
  // With `constant`: the operand's address, expr.disp plus, for a table
  // read, a bounded index (index_bound * scale stays within disp's page).
  AddressExpr expr{};
};

// Whether an access through `expr` may be checked against a page known at
// translation time (GuardedAccess::constant): absolute or RIP-relative, or
// a table read through an index the block bounds (index_bound, IndexBoundAt;
// -1 if none), within one page, flags dead.
bool OnConstantPage(const AddressExpr& expr, int64_t index_bound, const GuardedAccess& ga);

// A read of a table on a constant page through an index: the one access for
// which EmitGuardedAccess takes a `table_read`.
inline bool IsConstantTableRead(const GuardedAccess& ga) {
  return ga.constant && ga.expr.index >= 0 && ga.access == kAccessRead;
}

// Emits the lookup for an access whose VA is already in ga.addr_reg (unless
// ga.constant: then the lookup computes it), then
// `native` (the host instruction(s) doing the access through [rS], run
// natively and recorded as a native span), then binds nothing more: on
// return the hot path continues right after the native part. `native` is
// emitted twice (hot path and bounce path) and must not depend on emitter
// state that changes between the two.
//
// `table_read`, for a read of a table on a constant page
// (IsConstantTableRead): the same access through [rS + index * scale + disp] with rS = the
// page's addend, emitted on the hot path instead of `native` (one add fewer
// than forming the host address); `native` then serves the slow paths.
void EmitGuardedAccess(BlockEmitter& e, const GuardedAccess& ga, const EmitFn& native,
                       const EmitFn* table_read = nullptr);

// index = the inline TLB's index for the VA in `va` (bits 27:12), flags untouched.
void EmitTlbIndex(asmjit::x86::Assembler& a, const asmjit::x86::Gp& index, const asmjit::x86::Gp& va);

// Emits `lea rS, [expr]` (or `mov rS, imm` for an absolute address) plus the
// FS/GS base; `tmp` is a free scratch for the segment base.
void EmitGuestAddress(BlockEmitter& e, unsigned addr_reg, unsigned tmp, const AddressExpr& expr);

// Builds the AddressExpr of a decoded memory operand (RIP-relative operands
// are resolved to an absolute address).
AddressExpr AddressOf(const DecodedInsn& d, const ZydisDecodedOperand& op);

// Bit mask of the GPRs an instruction names in any operand (explicit,
// hidden, memory base/index).
uint16_t GprsUsed(const DecodedInsn& d);

// Registers that a register held for a whole block (a span's or a window's
// host base) must not be: rcx, which a flag-preserving check of a later
// access takes, and r11, which the indirect branch ending a block takes.
inline constexpr uint16_t kNotHeldAcrossBlock = (1u << kRcx) | (1u << kR11);

// One check covering [base, base + span) for `access`: leaves the host
// address of base in a pool register (not in `avoid` or `avoid_held`, never
// rcx), which the caller holds for as long as it uses it; the check's own
// scratch avoids only `avoid`. -1 (nothing emitted) when no pool register
// is free. A miss the VMM cannot stand behind is declined: the block is
// translated again without groups (mem_groups.h). A span that may lie
// across two pages is looked up in the single page first, then as a pair
// (vcpu_context.h, pair tags) in cold code; `pair_first` swaps the two, for
// a span expected to cross (flags dead only).
int EmitSpanCheck(BlockEmitter& e, const AddressExpr& base, uint32_t span, uint8_t access, bool flags_live,
                  uint16_t avoid, uint16_t avoid_held, bool pair_first);

// Before a loop's head: the windows moving with its counter (checked_span.h).
// Each group's check leaves its host base (host address of B, so that
// [base + I*s + d] is the host address of each member) in a pool register,
// recorded in e.stride_reg. How many iterations every group's window stays
// in its page then goes, with count_in_register and room in the pool, into a
// pool register held for the block (e.stride_count_reg), else into
// ctx.stride_n: the head counts it down. Returns the label the head goes
// back to when the iterations run out (bound before the checks), or an
// invalid label when no group got a register.
asmjit::Label EmitStrideWindows(BlockEmitter& e, const StrideSpans& s, bool count_in_register);
// At the loop head: one iteration less; back to the checks when none is left.
void EmitStrideHeadCheck(BlockEmitter& e, const asmjit::Label& refill);

// The check of an access group (mem_groups.h) at its first member: leaves the
// host address of the group's lowest byte in a pool register, recorded in
// e.group_reg[index]. False (nothing emitted) when no pool register is free.
bool EmitGroupCheck(BlockEmitter& e, const GuestInsn& gi, int index);

// A member of an access group (gi.group): at the group's first member emits
// the check. Returns the register with the host address of the group's
// lowest byte, or -1 when the instruction checks for itself. After the
// member's access, EndGroupMember gives the register back at the last one.
int GroupMemberReg(BlockEmitter& e, const GuestInsn& gi);
void EndGroupMember(BlockEmitter& e, const GuestInsn& gi);

// Rewrites of instructions with memory operands.
void EmitMemInsn(BlockEmitter& e, const GuestInsn& gi);     // explicit operand
void EmitXlat(BlockEmitter& e, const GuestInsn& gi);        // [rbx + al]
void EmitBitMemInsn(BlockEmitter& e, const GuestInsn& gi);  // bt/bts/btr/btc [mem], reg

// Re-encodes `d` with its explicit memory operand replaced by [base + disp]
// (64-bit base, no index or segment; with keep_index, its index and scale
// stay; with new_index >= 0, that register becomes the index, scale 1);
// `reg_op`/`new_reg` optionally replace a register operand too. False if
// Zydis cannot.
bool ReencodeWithBase(const DecodedInsn& d, unsigned base, uint8_t* out, size_t* len, int reg_op = -1,
                      ZydisRegister new_reg = ZYDIS_REGISTER_NONE, int64_t disp = 0, bool keep_index = false,
                      int new_index = -1);

}  // namespace xlat
