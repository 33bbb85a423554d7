// The per-vCPU context: the one block of memory that translated code reaches
// through the host GS base.
//
// While translated code runs, host GPR n *is* guest GPR n (rsp included), host
// RFLAGS' arithmetic flags and DF *are* the guest's, and the guest's x87/SSE/AVX
// state *is* the host's. Everything else the guest CPU has -- virtual IF, CPL,
// control registers, segment bases -- and everything the VMM needs in order to
// run translated code -- spill slots, the inline TLB, the jump cache, the site
// a slow path was entered from -- lives here, at fixed offsets that emitted
// code encodes as `gs:[disp32]`.
//
// Layout invariants (static_asserts below; emitters rely on them):
//  - every field used by emitted code sits at an offset < 2 GiB (disp32);
//  - spill[r] holds guest GPR r while r is displaced by a rewrite: a slow path
//    or signal that must make guest state precise takes spill[r] for every r
//    in the site's displaced mask;
//  - the TLB and the jump cache are arrays of uint64_t, one per field, so
//    emitted code indexes them as gs:[idx*8 + base];
//  - the xsave area is 64-byte aligned, the poll page 4 KiB aligned.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xlat {

// Guest GPR numbers in x86 encoding order.
enum Gpr : uint8_t {
  kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi,
  kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15,
  kGprCount
};

// RFLAGS bits.
inline constexpr uint64_t kFlagCF = 1u << 0, kFlagPF = 1u << 2, kFlagAF = 1u << 4, kFlagZF = 1u << 6,
                          kFlagSF = 1u << 7, kFlagTF = 1u << 8, kFlagIF = 1u << 9, kFlagDF = 1u << 10,
                          kFlagOF = 1u << 11, kFlagIOPL = 3u << 12, kFlagNT = 1u << 14, kFlagRF = 1u << 16,
                          kFlagVM = 1u << 17, kFlagAC = 1u << 18, kFlagVIF = 1u << 19, kFlagVIP = 1u << 20,
                          kFlagID = 1u << 21;
// The guest flags that live in host RFLAGS while translated code runs.
inline constexpr uint64_t kHostCarriedFlags = kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagDF | kFlagOF;
inline constexpr uint64_t kArithFlags = kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagOF;
// The arithmetic flags (RFLAGS layout) of ctx.flags_lahf saved eagerly (cpu/flags_slot.h).
inline uint64_t ArithFlagsFromLahf(uint64_t slot) {
  return ((slot >> 8) & (kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF)) | ((slot & 1) ? kFlagOF : 0);
}
// Its inverse: the slot as lahf (byte 1) and seto (byte 0) leave it for `flags`.
inline uint16_t LahfSlotOf(uint64_t flags) {
  const uint64_t lahf = flags & (kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF);
  return static_cast<uint16_t>(lahf << 8 | ((flags & kFlagOF) ? 1 : 0));
}
// Flag writers whose flags a block may save lazily (cpu/lazy_flags.h): ids
// below this, 0 unused.
inline constexpr unsigned kLazyFlagsIds = 1u << 15;
// Entry counters of blocks that may start a trace (Translator::set_trace_counters):
// shared round robin when there are more such blocks (a counter is a hint).
inline constexpr unsigned kTraceCounters = 4096;
// The RFLAGS bits ctx.vflags mirrors for an inline pushf (with bit 1).
inline constexpr uint64_t kVirtualFlagsMask = kFlagTF | kFlagIOPL | kFlagAC | kFlagID | kFlagNT | kFlagVIF | kFlagVIP;

// Inline TLB: direct-mapped on guest virtual page number bits [27:12], so a
// buffer of up to 256 MiB that is contiguous in guest virtual memory never
// conflicts with itself.
inline constexpr unsigned kTlbIndexBits = 16;
inline constexpr uint64_t kTlbEntries = uint64_t{1} << kTlbIndexBits;
// A negated tag that never matches: va + tag lands far above any page offset.
inline constexpr uint64_t kTlbInvalidNegTag = uint64_t{1} << 62;

// An entry i is spread over four arrays so that emitted code indexes each
// one as gs:[i*8 + base]:
//   tlb_read_tag[i]   -(guest page VA) when reads of the page may go straight
//                     to host memory, else kTlbInvalidNegTag. A hit for an
//                     access of n bytes at va is (va + tag) <= 4096 - n, unsigned;
//   tlb_write_tag[i]  the same for writes (RAM pages without translated code);
//   tlb_host_page[i]  host address of the guest page (tlb_guard_page when empty);
//   tlb_write_host[i] the same for writes: tlb_guard_page unless writable, so
//                     that a non-canonical address wrapping into the check's
//                     range can never store to a page it may not write;
//   tlb_read_addend[i], tlb_write_addend[i]
//                     tag + host page (mod 2^64): host address = va + addend
//                     on a hit, in one load where the lookup must keep the VA
//                     (the flag-preserving one); on an empty entry it too
//                     lands in the guard page;
//   tlb_guest_pa[i]   its guest physical address (for the VMM only);
//   tlb_read_pair_tag[i], tlb_write_pair_tag[i]
//                     the entry's tag once the VMM has seen a span cross
//                     from its page onto the next and found that page's
//                     entry filled too, with its host page right after this
//                     one (for writes, both writable); else
//                     kTlbInvalidNegTag, and again when either entry
//                     changes (mmu/tlb.h). Such a span of up to a page hits
//                     as (va + tag) <= 8192 - n (a span check's second try,
//                     translator/emit_memory.cpp).

// Jump cache: guest VA -> host code, direct-mapped on VA bits [15:0].
inline constexpr unsigned kJumpCacheBits = 16;
inline constexpr uint64_t kJumpCacheEntries = uint64_t{1} << kJumpCacheBits;
// An indirect branch puts its target VA in ctx.ind_target and jumps through
// jc_code[VA bits 15:0] unconditionally: to a block's indirect entry, which
// checks that ind_target is its own address, or to the lookup-miss thunk.
// jc_tag[i] = -(guest VA of the block in jc_code[i]) is for the VMM's own
// lookups. Entry and thunk expect r11 displaced.

// Translations and TLB entries are split by privilege: code translated for
// CPL 3 only ever consults the user arrays, which hold only U=1 pages.
enum class PrivClass : uint8_t { kSupervisor = 0, kUser = 1 };
inline constexpr unsigned kPrivClasses = 2;

// Why translated code handed control back to the VMM.
enum class ExitReason : uint32_t {
  kNone = 0,
  kBranch,          // direct branch whose target is not chained yet (site says where)
  kLookupMiss,      // indirect branch missed the jump cache; rip = target
  kEmulate,         // sensitive instruction at rip: the VMM emulates it
  kException,       // guest exception pending (vector/error code in context)
  kPoll,            // interrupt or stop request noticed at a block boundary
  kCodeInvalidated, // a store hit translated code of the running block; rip = next insn
  kTraceHead,       // a block's entry counter ran out: a trace may start at rip
  kCount
};

// What a mid-instruction helper tells its thunk to do next.
enum class HelperAction : uint32_t {
  kResume = 0,  // load the (possibly changed) guest state and jump to ctx.thunk_ret
  kExit = 1,    // leave translated code; ctx.exit_reason says why
};

struct alignas(4096) VcpuContext {  // 4096: its poll pages; clang rejects a smaller alignas
  // ---- Hot fields used by emitted code (first cache lines). ----
  uint64_t spill[kGprCount];      // displaced guest GPRs, indexed by Gpr
  uint64_t ind_target;            // guest VA an indirect branch is going to (checked by the target)
  uint64_t flags_push_sp;         // &flags_slot + 8: rsp for the pushfq that saves guest flags
  uint64_t flags_pop_sp;          // &flags_slot: rsp for the popfq that restores them
  uint64_t flags_slot;            // guest RFLAGS saved by pushfq (pushf, popf, syscall, sysret)
  uint64_t flags_lahf;            // arithmetic flags saved before an indirect branch (flags_slot.h),
                                  // or which instruction made them (lazy_flags.h)
  uint64_t lahf_rax;              // rax while lahf/sahf use it
  uint64_t lazy_flags_ret;        // where a lazy-flags stub returns to (lazy_flags.h)
  uint64_t lazy_flags_tmp;        // its scratch
  uint64_t lahf_pext_mask;        // 0x8ff: RFLAGS bits 7:0 and OF (pext operand)
  uint64_t vif;                   // the guest's RFLAGS.IF (0 or 0x200) while translated code runs: cli/sti write it
  uint64_t vflags;                // the guest's other virtual RFLAGS bits (TF, IOPL, AC, ID, NT, bit 1) for pushf
  uint64_t arith_df_mask;         // kArithFlags | DF: pext/pdep operand of pushf
  uint64_t page_high_mask;        // ~0xfff (pext operand of the flag-free range check)
  uint64_t bit_offset_mask[3];    // 15, 31, 63: pext operands for bt* [mem], reg
  uint64_t thunk_ret;             // host code address a helper thunk resumes at
  uint32_t site;                  // id of the site that entered a thunk (CodeCache::Site)
  uint32_t exit_reason;           // ExitReason
  uint64_t host_rsp;              // host stack pointer in EnterGuest's frame
  uint64_t entry_target;          // host code EnterGuest jumps to
  uint64_t saved_host_mxcsr;      // host MXCSR while guest code runs
  uint64_t host_flags_tmp;        // scratch for thunks
  uint64_t virt_tmp;              // scratch for inline virtualized instructions (swapgs)
  // A loop's windows of accesses moving with its counter
  // (translator/checked_span.h): the iterations they have left in their
  // pages, where the loop has no register to spare for the count.
  uint64_t stride_n;
  uint64_t host_alignment_check;  // kFlagAC while the guest's alignment checks apply (CPL 3 with
                                  // CR0.AM and RFLAGS.AC), else 0: or'ed into host RFLAGS on entry
  uint64_t self;                  // this context's own address (thunks pass it to helpers)
  void* owner;                    // the VcpuRuntime that runs this context (for the site handler)

  // ---- Guest architectural state not held in host registers. ----
  uint64_t gpr[kGprCount];        // guest GPRs while outside translated code
  uint64_t rip;
  uint64_t rflags;                // full architectural RFLAGS while outside translated code;
                                  // IF/IOPL/TF/AC... are virtual even inside

  // Pending guest exception raised by translated code or a helper.
  uint32_t exc_vector;
  uint32_t exc_error_code;
  uint32_t exc_has_error;
  uint32_t pad0;
  uint64_t exc_cr2;

  // Segment bases (64-bit mode: only FS and GS have non-zero bases).
  uint64_t fs_base;
  uint64_t gs_base;
  uint64_t kernel_gs_base;

  // Control state.
  uint64_t cr0, cr2, cr3, cr4, cr8;
  uint64_t efer;
  uint64_t xcr0;
  uint64_t dr[8];
  uint32_t cpl;
  uint32_t pad1;

  // Descriptor tables and selectors (system instructions; delivery comes
  // with the system issue).
  uint64_t gdtr_base, idtr_base;
  uint16_t gdtr_limit, idtr_limit;
  uint16_t ldtr, tr;
  uint16_t sel[6];                // es cs ss ds fs gs
  uint32_t ldtr_limit, tr_limit;
  uint64_t ldtr_base, tr_base;

  // Model-specific registers the VMM keeps.
  uint64_t star, lstar, cstar, sfmask, tsc_aux, pat, apic_base, misc_enable, tsc_offset;

  // Guest instructions of the blocks entered, when translations count them
  // (VcpuConfig::count_guest_insns).
  uint64_t guest_insns_entered;

  // syscall/sysret done inline by translated code (emit_virtual.cpp).
  uint64_t inline_syscalls, inline_sysrets;
  // rep movs/stos done natively by translated code (emit_string.cpp).
  uint64_t inline_string_ops;
  // 1 while an interrupt waits for RFLAGS.IF, which is when the sti poll page
  // is read-only (the VMM's record of that too): an inline popf or sysret
  // that would set IF leaves for the VMM instead.
  uint64_t irq_waiting;

  // Guest x87/SSE/AVX state while outside translated code (standard XSAVE format).
  alignas(64) uint8_t xsave_area[4096];

  // Bounce buffer for accesses that cannot be done in place (crossing two
  // discontiguous pages, or not RAM): the slow path fills it, the instruction
  // runs against it, the post-access path writes it back. Data is placed at
  // bounce + (va & 63) so that alignment checks behave as on the guest address.
  alignas(64) uint8_t bounce[1024 + 64];

  // ---- Inline TLB, one set per privilege class. ----
  alignas(64) uint64_t tlb_read_tag[kPrivClasses][kTlbEntries];
  uint64_t tlb_write_tag[kPrivClasses][kTlbEntries];
  uint64_t tlb_host_page[kPrivClasses][kTlbEntries];
  uint64_t tlb_write_host[kPrivClasses][kTlbEntries];
  uint64_t tlb_read_addend[kPrivClasses][kTlbEntries];
  uint64_t tlb_write_addend[kPrivClasses][kTlbEntries];
  uint64_t tlb_guest_pa[kPrivClasses][kTlbEntries];
  uint64_t tlb_read_pair_tag[kPrivClasses][kTlbEntries];
  uint64_t tlb_write_pair_tag[kPrivClasses][kTlbEntries];

  // ---- Jump cache: guest VA -> host code entry. ----
  uint64_t jc_tag[kPrivClasses][kJumpCacheEntries];
  uint64_t jc_code[kPrivClasses][kJumpCacheEntries];

  // ---- Lazily saved flags (lazy_flags.h), by id: the instruction that made
  // them (LazyFlagsDesc, packed) and the host code that makes them again. ----
  uint64_t lazy_flags_desc[kLazyFlagsIds];
  uint64_t lazy_flags_stub[kLazyFlagsIds];

  // ---- Trace heads: entries left before a block is hot (kTraceCounters). ----
  uint32_t trace_counters[kTraceCounters];

  // The poll page: every block starts with a store here. Making the page
  // read-only (mprotect) makes the next block entry fault, which is how an
  // interrupt or a stop request reaches a guest spinning in chained code.
  // The store writes the block's host address (4 bytes: the code cache lies
  // below 2 GiB), so its first word names the block entered last: the one
  // that ended with the indirect branch of a lookup miss.
  alignas(4096) uint8_t poll_page[4096];
  // The sti poll page: an inline sti stores here; it is read-only while an
  // interrupt waits for IF, so the sti that enables it leaves translated code.
  alignas(4096) uint8_t irq_poll_page[4096];
  // Never accessible: the host page of every empty inline TLB entry. An empty
  // entry's tag is kTlbInvalidNegTag, which only a non-canonical guest
  // address (0xc000000000000000 + [0, 4096)) can wrap into the check's
  // range; its access then faults here and becomes the #GP(0) it must be.
  alignas(4096) uint8_t tlb_guard_page[4096];
};

static_assert(offsetof(VcpuContext, xsave_area) % 64 == 0);
static_assert(offsetof(VcpuContext, poll_page) % 4096 == 0);
static_assert(offsetof(VcpuContext, irq_poll_page) % 4096 == 0);
static_assert(offsetof(VcpuContext, tlb_guard_page) % 4096 == 0);
static_assert(sizeof(VcpuContext) < (uint64_t{1} << 31), "context must be disp32-addressable");

// Offsets used by emitters, named once.
#define XLAT_CTX_OFF(field) static_cast<int32_t>(offsetof(::xlat::VcpuContext, field))

inline constexpr int32_t CtxSpillOff(unsigned reg) { return XLAT_CTX_OFF(spill) + 8 * static_cast<int32_t>(reg); }
inline constexpr int32_t CtxGprOff(unsigned reg) { return XLAT_CTX_OFF(gpr) + 8 * static_cast<int32_t>(reg); }
#define XLAT_CTX_ARRAY_OFF(field, p, n) \
  (XLAT_CTX_OFF(field) + static_cast<int32_t>(static_cast<unsigned>(p) * (n) * 8))
inline constexpr int32_t CtxTlbReadTagOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_read_tag, p, kTlbEntries); }
inline constexpr int32_t CtxTlbWriteTagOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_write_tag, p, kTlbEntries); }
inline constexpr int32_t CtxTlbHostPageOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_host_page, p, kTlbEntries); }
inline constexpr int32_t CtxTlbWriteHostOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_write_host, p, kTlbEntries); }
inline constexpr int32_t CtxTlbReadAddendOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_read_addend, p, kTlbEntries); }
inline constexpr int32_t CtxTlbWriteAddendOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_write_addend, p, kTlbEntries); }
inline constexpr int32_t CtxTlbReadPairTagOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_read_pair_tag, p, kTlbEntries); }
inline constexpr int32_t CtxTlbWritePairTagOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(tlb_write_pair_tag, p, kTlbEntries); }
inline constexpr int32_t CtxJcTagOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(jc_tag, p, kJumpCacheEntries); }
inline constexpr int32_t CtxJcCodeOff(PrivClass p) { return XLAT_CTX_ARRAY_OFF(jc_code, p, kJumpCacheEntries); }
inline constexpr int32_t CtxTraceCounterOff(unsigned slot) {
  return XLAT_CTX_OFF(trace_counters) + 4 * static_cast<int32_t>(slot);
}

}  // namespace xlat
