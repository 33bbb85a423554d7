// The VMM's hand-written host code, generated once at start-up into the code
// cache's runtime area: the world switch into and out of translated code, and
// the entries through which translated code calls a C++ helper in the middle
// of a guest instruction.
//
// Contract with translated code:
//  - exit:      jmp here with every guest GPR in its host register (none
//               displaced), guest flags in RFLAGS, ctx.exit_reason and ctx.rip
//               set. Saves the guest state into the context and returns from
//               EnterGuest with the exit reason.
//  - helper thunks (tlb_miss, post_access, string_op): jmp here with
//               ctx.thunk_site pointing at the site's metadata. Guest GPRs as
//               they are at that point (some may be displaced: the helper knows
//               from the metadata). The thunk saves everything, calls the
//               helper on the host stack, then either resumes translated code
//               at ctx.thunk_ret with the (possibly modified) context loaded, or
//               leaves as `exit` does.
//  - signal_exit: a host signal handler points the interrupted context here
//               after it has written precise guest GPRs/flags into the context.
#pragma once

#include <cstdint>
#include <string>

namespace xlat {

struct VcpuContext;
class CodeCache;

using HelperFn = uint32_t (*)(VcpuContext* ctx);   // returns HelperAction

struct HelperSet {
  HelperFn tlb_miss;
  HelperFn post_access;
  HelperFn string_op;
};

struct Thunks {
  uint32_t (*enter_guest)() = nullptr;   // runs ctx.entry_target; returns ExitReason
  uint8_t* exit = nullptr;
  uint8_t* tlb_miss = nullptr;
  uint8_t* post_access = nullptr;
  uint8_t* string_op = nullptr;
  uint8_t* signal_exit = nullptr;
};

// Emits the thunks into cache.runtime_base(). False (with *error) if they do
// not fit or AsmJit fails.
bool GenerateThunks(CodeCache& cache, const HelperSet& helpers, Thunks* out, std::string* error);

}  // namespace xlat
