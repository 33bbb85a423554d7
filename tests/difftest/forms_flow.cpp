// Stack, string and control-flow forms: the instructions the translator
// rewrites (implicit memory through rsp/rsi/rdi, block exits, calls and
// returns) rather than copies.
#include "tests/difftest/composites.h"
#include "tests/difftest/forms.h"

namespace difftest {

namespace {
using enum Op;

Form& Stack(FormTable& t, ZydisMnemonic m, FormTable::Sig ops, int delta) {
  Form& f = t.Add(m, ops, kFStack);
  f.rsp_delta = static_cast<int16_t>(delta);
  return f;
}
}  // namespace

void AddStackStringControlForms(FormTable& t) {
  // ---- stack ----
  t.SetCategory(Cat::kStack);
  t.SetWeight(1.5f);
  Stack(t, ZYDIS_MNEMONIC_PUSH, {kR64}, -8);
  Stack(t, ZYDIS_MNEMONIC_PUSH, {kR16}, -2);
  Stack(t, ZYDIS_MNEMONIC_PUSH, {kM64}, -8);
  Stack(t, ZYDIS_MNEMONIC_PUSH, {kM16}, -2);
  Stack(t, ZYDIS_MNEMONIC_PUSH, {kS8}, -8);
  Stack(t, ZYDIS_MNEMONIC_PUSH, {kI32}, -8);
  Stack(t, ZYDIS_MNEMONIC_POP, {kR64}, 8);
  Stack(t, ZYDIS_MNEMONIC_POP, {kR16}, 2);
  Stack(t, ZYDIS_MNEMONIC_POP, {kM64}, 8);
  Stack(t, ZYDIS_MNEMONIC_POP, {kM16}, 2);
  t.Custom("push rsp", GenPushRsp, kFStack, ZYDIS_MNEMONIC_PUSH);
  t.Custom("pop rsp", GenPopRsp, kFStack, ZYDIS_MNEMONIC_POP);
  t.Custom("push qword [rsp+disp]", GenStackMemRsp, kFStack, ZYDIS_MNEMONIC_PUSH, 0);
  t.Custom("pop qword [rsp+disp]", GenStackMemRsp, kFStack, ZYDIS_MNEMONIC_POP, 1);
  t.Custom("pushfq; and [rsp]; popfq", GenPushfPopf, kFStack, ZYDIS_MNEMONIC_PUSHFQ, 0);
  t.Custom("pushfq; and [rsp]; pop r64", GenPushfPopf, kFStack, ZYDIS_MNEMONIC_PUSHFQ, 1);
  t.Custom("pushf; and [rsp]; popf (16-bit)", GenPushfPopf, kFStack, ZYDIS_MNEMONIC_PUSHF, 2);
  t.Custom("push imm; popfq", GenPopfImm, kFStack | kFSetsDf, ZYDIS_MNEMONIC_POPFQ);
  for (int level : {0, 1, 2, 3})
    t.Custom("enter imm16, " + std::to_string(level) + "; body; leave", GenEnterLeave, kFStack,
             ZYDIS_MNEMONIC_ENTER, level);
  t.Custom("leave", GenLeave, kFStack, ZYDIS_MNEMONIC_LEAVE);
  t.Custom("lea rsp, [rsp+disp]", GenRspArith, kFStack, ZYDIS_MNEMONIC_LEA, 0);
  t.Custom("add/sub rsp, imm", GenRspArith, kFStack, ZYDIS_MNEMONIC_ADD, 1);
  t.Custom("mov rsp, r64", GenRspArith, kFStack, ZYDIS_MNEMONIC_MOV, 2);
  t.Custom("xchg rsp, r64", GenRspArith, kFStack, ZYDIS_MNEMONIC_XCHG, 3);
  t.Custom("and rsp, -16 (align)", GenRspArith, kFStack, ZYDIS_MNEMONIC_AND, 4);

  // ---- strings: every width, with and without rep, 64- and 32-bit addressing ----
  t.SetCategory(Cat::kString);
  t.SetWeight(1.0f);
  struct StringOp {
    ZydisMnemonic m[4];
    uint32_t reps[3];
  };
  const StringOp kStrings[] = {
      {{ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ}, {0, kFRep, 0}},
      {{ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ}, {0, kFRep, 0}},
      {{ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ}, {0, kFRep, 0}},
      {{ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ}, {0, kFRepe, kFRepne}},
      {{ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ}, {0, kFRepe, kFRepne}},
  };
  for (const StringOp& s : kStrings) {
    for (int w = 0; w < 4; w++) {
      for (int r = 0; r < 3; r++) {
        if (r > 0 && s.reps[r] == 0) continue;
        Form f;
        f.mnemonic = s.m[w];
        f.flags = s.reps[r];
        const std::string base = DefaultFormName(f);
        t.Custom(base, GenString, s.reps[r], s.m[w]);
        // 32-bit addressing: esi/edi/ecx, with garbage in the upper halves.
        if (w == 0 || w == 3) t.Custom(base + " (a32)", GenString, s.reps[r] | kFA32, s.m[w]);
      }
    }
  }

  // ---- control flow ----
  t.SetCategory(Cat::kControl);
  t.SetWeight(1.0f);
  const ZydisMnemonic kJcc[] = {
      ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
      ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
      ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
      ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE};
  for (ZydisMnemonic m : kJcc) {
    Form f;
    f.mnemonic = m;
    const std::string n = DefaultFormName(f);
    t.Custom(n + " rel8 (forward)", GenBranchFwd, kFControl, m, 1);
    t.Custom(n + " rel32 (forward)", GenBranchFwd, kFControl, m, 0);
  }
  t.Custom("jmp rel8 (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_JMP, 1);
  t.Custom("jmp rel32 (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_JMP, 0);
  t.Custom("jrcxz (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_JRCXZ, 1);
  t.Custom("jecxz (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_JECXZ, 1);
  t.Custom("loop (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_LOOP, 1);
  t.Custom("loope (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_LOOPE, 1);
  t.Custom("loopne (forward)", GenBranchFwd, kFControl, ZYDIS_MNEMONIC_LOOPNE, 1);
  t.Custom("mov ecx, n; body; loop back", GenLoopBack, kFControl, ZYDIS_MNEMONIC_LOOP, 0);
  t.Custom("mov r, n; body; dec r; jnz back", GenLoopBack, kFControl, ZYDIS_MNEMONIC_JNZ, 1);
  t.Custom("mov ecx, n; body; loope/loopne back", GenLoopBack, kFControl, ZYDIS_MNEMONIC_LOOPE, 2);
  t.Custom("call rel32; body; ret", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_CALL, 0);
  t.Custom("call r64; body; ret", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_CALL, 1);
  t.Custom("call [rip+pool]; ret", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_CALL, 2);
  t.Custom("call [data]; ret", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_CALL, 3);
  t.Custom("call; ret imm16", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_RET, 4);
  t.Custom("call; add [rsp], n; ret (modified return)", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_RET, 5);
  t.Custom("push target; ret (jump through ret)", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_RET, 6);
  t.Custom("call; call; ret; ret (nested)", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_CALL, 7);
  t.Custom("call; pop r64 (get rip)", GenCallRet, kFControl | kFStack, ZYDIS_MNEMONIC_CALL, 8);
  t.Custom("jmp r64 (forward)", GenJmpIndirect, kFControl, ZYDIS_MNEMONIC_JMP, 0);
  t.Custom("jmp [rip+pool] (forward)", GenJmpIndirect, kFControl, ZYDIS_MNEMONIC_JMP, 1);
  t.Custom("jmp [table + index*8] (forward)", GenJmpIndirect, kFControl, ZYDIS_MNEMONIC_JMP, 2);
}

}  // namespace difftest
