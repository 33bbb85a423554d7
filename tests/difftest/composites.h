// Generators for forms that need more than "operands at random": a context
// set up before the instruction (safe divisors, string registers, gather
// indices), a body (loops, subroutines), or a control-flow target.
// Each one emits a complete item; the form table names them.
#pragma once

#include "tests/difftest/forms.h"

namespace difftest {

class Gen;

// ---- general purpose (composites_gp.cpp) ----
bool GenDiv(Gen& g, const Form& f);              // param: size; param2: 1 = memory divisor
bool GenDivByZero(Gen& g, const Form& f);        // #DE on purpose
bool GenCmpxchgPair(Gen& g, const Form& f);      // cmpxchg8b/16b, sometimes primed to succeed
bool GenCmpxchgPrimed(Gen& g, const Form& f);    // cmpxchg m, r with rax loaded from m
bool GenXlat(Gen& g, const Form& f);             // flags: kFA32
bool GenMoffs(Gen& g, const Form& f);            // param: size, param2: 1 = store
bool GenAdcChain(Gen& g, const Form& f);         // multiword add/sub through memory
bool GenRaw(Gen& g, const Form& f);              // param: index into the raw table (ud2, lock on reg...)
bool GenGuardPage(Gen& g, const Form& f);        // #PF on a guard page; param: variant
bool GenMisalignedVec(Gen& g, const Form& f);    // #GP from an aligned vector access; param: mnemonic
bool GenMaskedStore(Gen& g, const Form& f);      // maskmovq/maskmovdqu: implicit [rdi]

// ---- stack (composites_stack.cpp) ----
bool GenPushRsp(Gen& g, const Form& f);
bool GenPopRsp(Gen& g, const Form& f);
bool GenStackMemRsp(Gen& g, const Form& f);      // push/pop [rsp+d]; param: 0 push, 1 pop
bool GenPushfPopf(Gen& g, const Form& f);        // param: variant
bool GenPopfImm(Gen& g, const Form& f);
bool GenEnterLeave(Gen& g, const Form& f);       // param: nesting level
bool GenLeave(Gen& g, const Form& f);
bool GenRspArith(Gen& g, const Form& f);         // param: variant

// ---- strings (composites_stack.cpp) ----
bool GenString(Gen& g, const Form& f);           // mnemonic + rep flags + kFA32

// ---- control flow (composites_control.cpp) ----
bool GenBranchFwd(Gen& g, const Form& f);        // jcc/jmp/jrcxz/loop*; param: 1 = rel8
bool GenLoopBack(Gen& g, const Form& f);         // param: variant
bool GenCallRet(Gen& g, const Form& f);          // param: variant
bool GenJmpIndirect(Gen& g, const Form& f);      // param: variant

// ---- vector and x87 (composites_vec.cpp) ----
bool GenGather(Gen& g, const Form& f);           // param: index width (4/8), param2: vector bytes (16/32)
bool GenFxsave(Gen& g, const Form& f);           // param: 0 fxsave, 1 fxsave64; param2: 1 = fxrstor back
bool GenFpuEnv(Gen& g, const Form& f);           // param: 0 fnstenv/fldenv, 1 fnsave/frstor
bool GenFldcw(Gen& g, const Form& f);
bool GenLdmxcsr(Gen& g, const Form& f);          // param: 0 ldmxcsr, 1 vldmxcsr
bool GenFucomp(Gen& g, const Form& f);           // fucomp st(i), which the encoder lacks

}  // namespace difftest
