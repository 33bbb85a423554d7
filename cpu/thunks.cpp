#include "cpu/thunks.h"

#include <asmjit/x86.h>

#include "codecache/code_cache.h"
#include "cpu/flags_slot.h"
#include "cpu/vcpu_context.h"

namespace xlat {
namespace {

using namespace asmjit;
using namespace asmjit::x86;

Mem Ctx(int32_t off, uint32_t size = 8) {
  Mem m = ptr_abs(static_cast<uint64_t>(static_cast<int64_t>(off)), size);
  m.setSegment(gs);
  return m;
}

const Gp kGpr64[16] = {rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15};

// Guest GPRs and flags -> context; switches rsp to the host stack; saves the
// guest vector state and gives the host a clean x87/SSE environment (DF=0,
// AC=0, default MXCSR) for C++ code.
void EmitSaveGuest(Assembler& a) {
  a.mov(Ctx(CtxGprOff(kRsp)), rsp);
  a.mov(rsp, Ctx(XLAT_CTX_OFF(host_rsp)));
  for (unsigned r = 0; r < 16; ++r)
    if (r != kRsp) a.mov(Ctx(CtxGprOff(r)), kGpr64[r]);
  // Merge the host-carried flags into the architectural RFLAGS.
  a.pushfq();
  a.pop(rax);
  // The guest ran with AC set for its alignment checks (the guest's AC is in
  // ctx.rflags already): host code must not, it makes unaligned accesses.
  Label no_ac = a.newLabel();
  a.test(eax, static_cast<uint32_t>(kFlagAC));
  a.jz(no_ac);
  a.push(2);
  a.popfq();
  a.bind(no_ac);
  a.and_(eax, static_cast<uint32_t>(kHostCarriedFlags));
  a.mov(rcx, Ctx(XLAT_CTX_OFF(rflags)));
  a.and_(rcx, static_cast<int32_t>(~kHostCarriedFlags));
  a.or_(rcx, rax);
  a.mov(Ctx(XLAT_CTX_OFF(rflags)), rcx);
  a.cld();
  // Guest x87/SSE/AVX -> context (the components the guest has).
  a.mov(eax, 7);
  a.xor_(edx, edx);
  a.xsaveopt64(Ctx(XLAT_CTX_OFF(xsave_area), 0));
  a.fninit();
  a.ldmxcsr(Ctx(XLAT_CTX_OFF(saved_host_mxcsr), 4));
}

// Context -> guest vector state, flags and GPRs; then jumps through the
// context slot `target_off`.
void EmitLoadGuestAndJump(Assembler& a, int32_t target_off) {
  a.mov(eax, 7);
  a.xor_(edx, edx);
  a.xrstor64(Ctx(XLAT_CTX_OFF(xsave_area), 0));
  a.mov(rax, Ctx(XLAT_CTX_OFF(rflags)));
  a.and_(eax, static_cast<uint32_t>(kHostCarriedFlags));
  // AC too while the guest's alignment checks apply: the host CPU then raises
  // them (SIGBUS, BUS_ADRALN) for natively run accesses at their own alignment.
  a.or_(rax, Ctx(XLAT_CTX_OFF(host_alignment_check)));
  a.push(rax);
  a.popfq();
  for (unsigned r = 0; r < 16; ++r)
    if (r != kRsp) a.mov(kGpr64[r], Ctx(CtxGprOff(r)));
  a.mov(rsp, Ctx(CtxGprOff(kRsp)));
  a.jmp(Ctx(target_off));
}

// Restores the host's callee-saved registers pushed by enter_guest and returns
// to enter_guest's caller.
void EmitReturnToHost(Assembler& a) {
  a.add(rsp, 8);
  a.pop(r15);
  a.pop(r14);
  a.pop(r13);
  a.pop(r12);
  a.pop(rbp);
  a.pop(rbx);
  a.ret();
}

}  // namespace

bool GenerateThunks(CodeCache& cache, SiteHandlerFn handler, Thunks* out, std::string* error) {
  Environment env(Arch::kX64);
  CodeHolder code;
  code.init(env, reinterpret_cast<uint64_t>(cache.runtime_base()));
  Assembler a(&code);

  Label enter = a.newLabel(), exit = a.newLabel(), to_host = a.newLabel();
  Label vmm_call = a.newLabel(), signal_exit = a.newLabel(), lookup_miss = a.newLabel();
  Label trace_head = a.newLabel();

  // enter_guest: a host C ABI function. Saves callee-saved registers, records
  // the host stack, loads the guest and jumps to ctx.entry_target.
  a.align(AlignMode::kCode, 16);
  a.bind(enter);
  a.push(rbx);
  a.push(rbp);
  a.push(r12);
  a.push(r13);
  a.push(r14);
  a.push(r15);
  a.sub(rsp, 8);  // 16-byte alignment for the calls made from this frame
  a.mov(Ctx(XLAT_CTX_OFF(host_rsp)), rsp);
  a.stmxcsr(Ctx(XLAT_CTX_OFF(saved_host_mxcsr), 4));
  EmitLoadGuestAndJump(a, XLAT_CTX_OFF(entry_target));

  a.align(AlignMode::kCode, 16);
  a.bind(exit);
  EmitSaveGuest(a);
  a.bind(to_host);
  EmitReturnToHost(a);

  // vmm_call: save, call the site handler, then resume or leave.
  a.align(AlignMode::kCode, 16);
  a.bind(vmm_call);
  EmitSaveGuest(a);
  a.mov(rdi, Ctx(XLAT_CTX_OFF(self)));
  a.mov(rax, reinterpret_cast<uint64_t>(handler));
  a.call(rax);
  a.cmp(eax, static_cast<uint32_t>(HelperAction::kExit));
  a.je(to_host);
  EmitLoadGuestAndJump(a, XLAT_CTX_OFF(thunk_ret));

  // lookup_miss: no block for ctx.ind_target. r11 is the only displaced register.
  // trace_head: the same, from an indirect entry whose counter ran out.
  Label leave_for_ind_target = a.newLabel();
  a.align(AlignMode::kCode, 16);
  a.bind(trace_head);
  a.mov(Ctx(XLAT_CTX_OFF(site), 4), kTraceHeadSite);
  a.jmp(leave_for_ind_target);
  a.align(AlignMode::kCode, 16);
  a.bind(lookup_miss);
  a.mov(Ctx(XLAT_CTX_OFF(site), 4), kLookupMissSite);
  a.bind(leave_for_ind_target);
  EmitRestoreArithFlags(a);
  a.mov(r11, Ctx(XLAT_CTX_OFF(ind_target)));
  a.mov(Ctx(XLAT_CTX_OFF(rip)), r11);
  a.mov(r11, Ctx(CtxSpillOff(kR11)));
  a.jmp(exit);

  // signal_exit: the handler already wrote guest GPRs and flags; the guest's
  // vector state is live in the registers.
  a.align(AlignMode::kCode, 16);
  a.bind(signal_exit);
  a.mov(rsp, Ctx(XLAT_CTX_OFF(host_rsp)));
  a.cld();
  a.mov(eax, 7);
  a.xor_(edx, edx);
  a.xsave64(Ctx(XLAT_CTX_OFF(xsave_area), 0));
  a.fninit();
  a.ldmxcsr(Ctx(XLAT_CTX_OFF(saved_host_mxcsr), 4));
  a.jmp(to_host);

  if (code.flatten() || code.resolveUnresolvedLinks() || code.relocateToBase(code.baseAddress())) {
    *error = "cannot assemble the VMM thunks";
    return false;
  }
  if (code.codeSize() > cache.runtime_bytes()) {
    *error = "VMM thunks do not fit in the code cache runtime area";
    return false;
  }
  if (code.copyFlattenedData(cache.runtime_base(), cache.runtime_bytes()) != kErrorOk) {
    *error = "cannot place the VMM thunks";
    return false;
  }
  auto addr = [&](const Label& l) { return cache.runtime_base() + code.labelOffsetFromBase(l); };
  out->enter_guest = reinterpret_cast<void (*)()>(addr(enter));
  out->exit = addr(exit);
  out->vmm_call = addr(vmm_call);
  out->signal_exit = addr(signal_exit);
  out->lookup_miss = addr(lookup_miss);
  out->trace_head = addr(trace_head);
  return true;
}

}  // namespace xlat
