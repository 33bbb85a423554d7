#include "cpu/thunks.h"

#include <asmjit/x86.h>

#include <cstring>

#include "codecache/code_cache.h"
#include "cpu/vcpu_context.h"

namespace xlat {
namespace {

using namespace asmjit;
using namespace asmjit::x86;

// Guest flags the host RFLAGS carries while guest code runs: CF PF AF ZF SF DF OF.
constexpr uint32_t kHostCarriedFlags = 0xcd5;

Mem Ctx(int32_t off, uint32_t size = 8) {
  Mem m = ptr_abs(static_cast<uint64_t>(static_cast<int64_t>(off)), size);
  m.setSegment(gs);
  return m;
}

const Gp kGpr64[16] = {rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15};

// Guest GPRs and flags -> context; switches rsp to the host stack; saves the
// guest vector state and gives the host a clean x87/SSE environment.
void EmitSaveGuest(Assembler& a) {
  a.mov(Ctx(CtxGprOff(kRsp)), rsp);
  a.mov(rsp, Ctx(XLAT_CTX_OFF(host_rsp)));
  for (unsigned r = 0; r < 16; ++r)
    if (r != kRsp) a.mov(Ctx(CtxGprOff(r)), kGpr64[r]);
  // Merge the host-carried arithmetic flags into the architectural RFLAGS.
  a.pushfq();
  a.pop(rax);
  a.mov(Ctx(XLAT_CTX_OFF(host_flags_tmp)), rax);
  a.and_(eax, kHostCarriedFlags);
  a.mov(rcx, Ctx(XLAT_CTX_OFF(rflags)));
  a.and_(rcx, static_cast<int32_t>(~kHostCarriedFlags));
  a.or_(rcx, rax);
  a.mov(Ctx(XLAT_CTX_OFF(rflags)), rcx);
  // Guest x87/SSE/AVX -> context (only the components the guest has).
  a.mov(eax, 7);
  a.xor_(edx, edx);
  a.xsave64(Ctx(XLAT_CTX_OFF(xsave_area), 0));
  a.fninit();
  a.ldmxcsr(Ctx(XLAT_CTX_OFF(saved_host_mxcsr), 4));
}

// Context -> guest vector state, flags and GPRs; then jumps through the
// context slot `target_off`. Runs on the host stack until the last moment.
void EmitLoadGuestAndJump(Assembler& a, int32_t target_off) {
  a.mov(eax, 7);
  a.xor_(edx, edx);
  a.xrstor64(Ctx(XLAT_CTX_OFF(xsave_area), 0));
  a.mov(rax, Ctx(XLAT_CTX_OFF(rflags)));
  a.and_(eax, kHostCarriedFlags);
  a.or_(eax, 2);
  a.push(rax);
  a.popfq();
  for (unsigned r = 0; r < 16; ++r)
    if (r != kRsp) a.mov(kGpr64[r], Ctx(CtxGprOff(r)));
  a.mov(rsp, Ctx(CtxGprOff(kRsp)));
  a.jmp(Ctx(target_off));
}

// Restores the host's callee-saved registers pushed by enter_guest and
// returns the exit reason to EnterGuest's caller.
void EmitExitTail(Assembler& a) {
  a.add(rsp, 8);
  a.pop(r15);
  a.pop(r14);
  a.pop(r13);
  a.pop(r12);
  a.pop(rbp);
  a.pop(rbx);
  a.mov(eax, Ctx(XLAT_CTX_OFF(exit_reason), 4));
  a.ret();
}

}  // namespace

bool GenerateThunks(CodeCache& cache, const HelperSet& helpers, Thunks* out, std::string* error) {
  Environment env(Arch::kX64);
  CodeHolder code;
  code.init(env, reinterpret_cast<uint64_t>(cache.runtime_base()));
  Assembler a(&code);

  Label enter = a.newLabel(), exit = a.newLabel(), exit_tail = a.newLabel();
  Label signal_exit = a.newLabel();
  Label helper_entry[3] = {a.newLabel(), a.newLabel(), a.newLabel()};
  HelperFn helper_fns[3] = {helpers.tlb_miss, helpers.post_access, helpers.string_op};

  // enter_guest: host C ABI function. Saves callee-saved registers, records
  // the host stack, loads the guest and jumps to ctx.entry_target.
  a.align(AlignMode::kCode, 16);
  a.bind(enter);
  a.push(rbx);
  a.push(rbp);
  a.push(r12);
  a.push(r13);
  a.push(r14);
  a.push(r15);
  a.sub(rsp, 8);  // 16-byte alignment for helper calls made from this frame
  a.mov(Ctx(XLAT_CTX_OFF(host_rsp)), rsp);
  a.stmxcsr(Ctx(XLAT_CTX_OFF(saved_host_mxcsr), 4));
  EmitLoadGuestAndJump(a, XLAT_CTX_OFF(entry_target));

  a.align(AlignMode::kCode, 16);
  a.bind(exit);
  EmitSaveGuest(a);
  a.bind(exit_tail);
  EmitExitTail(a);

  // Helper thunks: save, call, then resume or exit.
  for (int i = 0; i < 3; ++i) {
    a.align(AlignMode::kCode, 16);
    a.bind(helper_entry[i]);
    EmitSaveGuest(a);
    a.mov(rdi, Ctx(XLAT_CTX_OFF(self)));
    a.mov(rax, reinterpret_cast<uint64_t>(helper_fns[i]));
    a.call(rax);
    a.cmp(eax, static_cast<uint32_t>(HelperAction::kExit));
    a.je(exit_tail);
    EmitLoadGuestAndJump(a, XLAT_CTX_OFF(thunk_ret));
  }

  // signal_exit: the handler already wrote guest GPRs and flags.
  a.align(AlignMode::kCode, 16);
  a.bind(signal_exit);
  a.mov(rsp, Ctx(XLAT_CTX_OFF(host_rsp)));
  a.mov(eax, 7);
  a.xor_(edx, edx);
  a.xsave64(Ctx(XLAT_CTX_OFF(xsave_area), 0));
  a.fninit();
  a.ldmxcsr(Ctx(XLAT_CTX_OFF(saved_host_mxcsr), 4));
  a.jmp(exit_tail);

  code.flatten();
  code.resolveUnresolvedLinks();
  if (code.codeSize() > cache.runtime_bytes()) {
    *error = "VMM thunks do not fit in the code cache runtime area";
    return false;
  }
  if (code.copyFlattenedData(cache.runtime_base(), cache.runtime_bytes()) != kErrorOk) {
    *error = "cannot place the VMM thunks";
    return false;
  }
  auto addr = [&](const Label& l) { return cache.runtime_base() + code.labelOffsetFromBase(l); };
  out->enter_guest = reinterpret_cast<uint32_t (*)()>(addr(enter));
  out->exit = addr(exit);
  out->tlb_miss = addr(helper_entry[0]);
  out->post_access = addr(helper_entry[1]);
  out->string_op = addr(helper_entry[2]);
  out->signal_exit = addr(signal_exit);
  return true;
}

}  // namespace xlat
