// The per-vCPU context: the one block of memory that translated code reaches
// through the host GS base.
//
// While translated code runs, host GPR n *is* guest GPR n (rsp included), host
// RFLAGS' arithmetic flags and DF *are* the guest's, and the guest's x87/SSE/AVX
// state *is* the host's. Everything else the guest CPU has -- virtual IF, CPL,
// control registers, segment bases -- and everything the VMM needs in order to
// run translated code -- spill slots, the inline TLB, the jump cache, thunk
// arguments -- lives here, at fixed offsets that emitted code encodes as
// `gs:[disp32]`.
//
// Layout invariants (checked by static_asserts below and relied on by emitters):
//  - every field used by emitted code sits at an offset < 2 GiB (disp32);
//  - spill[r] holds guest GPR r while r is displaced by a rewrite; a slow path
//    that must make guest state precise copies spill[r] back for every r in the
//    site's displaced mask;
//  - the xsave area is 64-byte aligned;
//  - TLB and jump-cache arrays are indexed `base + idx*8`, so they are plain
//    arrays of uint64_t, one array per field (no struct-of-entries, which would
//    need a scale of 16 that x86 addressing does not have).
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

// Inline TLB: direct-mapped on guest virtual page number bits [27:12].
// The index is computed flag-free as `rorx; movzx r32, r16`.
inline constexpr unsigned kTlbIndexBits = 16;
inline constexpr uint64_t kTlbEntries = uint64_t{1} << kTlbIndexBits;
// An entry that can never match: for any canonical VA, va + kTlbInvalidNegTag
// + size - 1 has bits above 11 set.
inline constexpr uint64_t kTlbInvalidNegTag = uint64_t{1} << 62;

// Jump cache: guest VA -> host code, direct-mapped on VA bits [15:0].
inline constexpr unsigned kJumpCacheBits = 16;
inline constexpr uint64_t kJumpCacheEntries = uint64_t{1} << kJumpCacheBits;

// Translations and TLB entries are split by privilege: code translated for
// CPL 3 only ever consults the user arrays, which hold only U=1 pages.
enum class PrivClass : uint8_t { kSupervisor = 0, kUser = 1 };
inline constexpr unsigned kPrivClasses = 2;

// Why translated code handed control back to the VMM.
enum class ExitReason : uint32_t {
  kNone = 0,
  kBranch,         // direct branch whose target is not chained yet; rip = target
  kLookupMiss,     // indirect branch missed the jump cache; rip = target
  kEmulate,        // sensitive instruction at rip: the VMM emulates it
  kException,      // guest exception pending (vector/error code in context)
  kPoll,           // interrupt or stop request noticed at a block boundary
  kCodeInvalidated,// a store hit translated code of the running block; rip = next insn
  kCount
};

// Actions a mid-instruction helper (TLB miss, post-store) tells its thunk.
enum class HelperAction : uint32_t {
  kResume = 0,     // restore guest state and jump to ctx.thunk_ret
  kExit = 1,       // leave translated code; ctx.exit_reason says why
};

struct alignas(64) VcpuContext {
  // ---- Hot fields used by emitted code (first cache lines). ----
  uint64_t spill[kGprCount];      // displaced guest GPRs, indexed by Gpr
  uint64_t thunk_ret;             // host code address a thunk returns to
  uint64_t thunk_site;            // host address of the calling site's SiteMeta
  uint64_t host_rsp;              // host stack pointer of EnterGuest's frame
  uint64_t page_high_mask;        // ~0xfff: pext mask for the TLB range check
  uint64_t entry_target;          // host code EnterGuest jumps to
  uint64_t exit_link;             // patch site of the exit that left (for chaining)
  uint32_t exit_reason;           // ExitReason
  uint32_t helper_action;         // HelperAction, written by helpers
  uint64_t self;                  // this context's own address (for thunks)
  uint64_t saved_host_mxcsr;      // host MXCSR while guest code runs
  uint64_t runtime;               // the VcpuRuntime that owns this context (for helpers)
  uint64_t host_flags_tmp;        // host RFLAGS parked by a thunk
  uint64_t bit_offset_mask[3];    // 15, 31, 63: pext masks for bt/bts/btr/btc [mem], reg
  uint64_t stat_counter[8];       // in-line event counters (only with --stats)

  // ---- Guest architectural state not held in host registers. ----
  uint64_t gpr[kGprCount];        // guest GPRs while outside translated code
  uint64_t rip;
  uint64_t rflags;                // arithmetic flags + DF while outside; IF/IOPL/TF/AC... virtual

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
  uint32_t cpl;
  uint32_t pad1;

  // Guest x87/SSE/AVX state while outside translated code (standard XSAVE format).
  alignas(64) uint8_t xsave_area[4096];

  // Bounce buffer for accesses that cannot be done in place (crossing two
  // non-contiguous pages, or not RAM): the helper fills it, the instruction
  // runs against it, the post-helper writes it back.
  alignas(64) uint8_t bounce[1024];
  uint64_t bounce_va;
  uint32_t bounce_size;
  uint32_t bounce_write;          // write back after the instruction
  uint64_t bounce_pa[2];          // guest physical address of each piece
  uint32_t bounce_len[2];         // bytes in each piece (second may be 0)

  // ---- Inline TLB: one set per privilege class. ----
  // A hit for an access of `size` bytes at VA va is:
  //   (va + ntag_read[i] + size - 1) < 4096   (checked with pext + jrcxz)
  // and the host address is va + addend[i].
  uint64_t tlb_ntag_read[kPrivClasses][kTlbEntries];   // -(page VA), or kTlbInvalidNegTag
  uint64_t tlb_ntag_write[kPrivClasses][kTlbEntries];  // same, only for writable RAM pages
  uint64_t tlb_addend[kPrivClasses][kTlbEntries];      // host page - guest page

  // ---- Jump cache: guest VA -> host code entry. ----
  uint64_t jc_ntag[kPrivClasses][kJumpCacheEntries];   // -(guest VA), or kTlbInvalidNegTag
  uint64_t jc_code[kPrivClasses][kJumpCacheEntries];   // host code address

  // The poll page: every block starts with a one-byte store here. Making the
  // page read-only (mprotect) makes the next block entry fault, which is how
  // an interrupt or a stop request reaches a guest spinning in chained code.
  alignas(4096) uint8_t poll_page[4096];
};

static_assert(offsetof(VcpuContext, xsave_area) % 64 == 0);
static_assert(offsetof(VcpuContext, poll_page) % 4096 == 0);
static_assert(sizeof(VcpuContext) < (uint64_t{1} << 31), "context must be disp32-addressable");

// Offsets used by emitters, named once.
#define XLAT_CTX_OFF(field) static_cast<int32_t>(offsetof(::xlat::VcpuContext, field))

inline constexpr int32_t CtxSpillOff(unsigned reg) { return XLAT_CTX_OFF(spill) + 8 * static_cast<int32_t>(reg); }
inline constexpr int32_t CtxGprOff(unsigned reg) { return XLAT_CTX_OFF(gpr) + 8 * static_cast<int32_t>(reg); }
inline constexpr int32_t CtxTlbReadOff(PrivClass p) {
  return XLAT_CTX_OFF(tlb_ntag_read) + static_cast<int32_t>(static_cast<unsigned>(p) * kTlbEntries * 8);
}
inline constexpr int32_t CtxTlbWriteOff(PrivClass p) {
  return XLAT_CTX_OFF(tlb_ntag_write) + static_cast<int32_t>(static_cast<unsigned>(p) * kTlbEntries * 8);
}
inline constexpr int32_t CtxTlbAddendOff(PrivClass p) {
  return XLAT_CTX_OFF(tlb_addend) + static_cast<int32_t>(static_cast<unsigned>(p) * kTlbEntries * 8);
}
inline constexpr int32_t CtxJcTagOff(PrivClass p) {
  return XLAT_CTX_OFF(jc_ntag) + static_cast<int32_t>(static_cast<unsigned>(p) * kJumpCacheEntries * 8);
}
inline constexpr int32_t CtxJcCodeOff(PrivClass p) {
  return XLAT_CTX_OFF(jc_code) + static_cast<int32_t>(static_cast<unsigned>(p) * kJumpCacheEntries * 8);
}

}  // namespace xlat
