// The VMM's hand-written host code, generated once at start-up into the code
// cache's runtime area: the world switch into and out of translated code, and
// the entry through which translated code calls the VMM in the middle of a
// guest instruction.
//
// Contract with translated code:
//  - exit:      jmp here with ctx.site set, every guest GPR in its host
//               register (none displaced) and the guest's flags in RFLAGS.
//               Saves the guest state into the context and returns from
//               enter_guest.
//  - vmm_call:  jmp here with ctx.site set. Guest GPRs as they are at that
//               point (some may be displaced: the site says which). Saves
//               everything, calls the VMM's site handler on the host stack,
//               then either resumes translated code at ctx.thunk_ret with the
//               (possibly changed) context loaded, or leaves as `exit` does.
//  - lookup_miss: an indirect branch found no block for ctx.ind_target (r11
//               displaced, the guest's arithmetic flags in ctx.flags_lahf, everything
//               else guest). Leaves like `exit` with ctx.rip = ind_target and
//               ctx.site = kLookupMissSite.
//  - trace_head: as lookup_miss, from a block's indirect entry whose entry
//               counter ran out (ind_target is that block's address), with
//               ctx.site = kTraceHeadSite: a trace may start there.
//  - signal_exit: a host signal handler points the interrupted context here
//               after it has written precise guest GPRs and flags into the
//               context (the guest vector state is still in the registers).
#pragma once

#include <cstdint>
#include <string>

namespace xlat {

struct VcpuContext;
class CodeCache;

// ctx.site values of exits that do not come from a block's own site.
inline constexpr uint32_t kSignalSite = 0xffffffffu;
inline constexpr uint32_t kLookupMissSite = 0xfffffffeu;
inline constexpr uint32_t kTraceHeadSite = 0xfffffffdu;

// The site handler: returns a HelperAction.
using SiteHandlerFn = uint32_t (*)(VcpuContext* ctx);

struct Thunks {
  void (*enter_guest)() = nullptr;   // runs ctx.entry_target until an exit
  uint8_t* exit = nullptr;
  uint8_t* vmm_call = nullptr;
  uint8_t* lookup_miss = nullptr;
  uint8_t* trace_head = nullptr;
  uint8_t* signal_exit = nullptr;
};

// Emits the thunks into cache.runtime_base(). False (with *error) if they do
// not fit or AsmJit fails.
bool GenerateThunks(CodeCache& cache, SiteHandlerFn handler, Thunks* out, std::string* error);

}  // namespace xlat
