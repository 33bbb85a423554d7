// farcall.c — far jmp, far call and far ret in 64-bit mode, and 64-bit call
// gates: the selector checks with their error codes, the pushes of each
// operand size, the stack switch of a call through a gate to a more
// privileged level, and far ret to the same and to an outer level.
//
// Sources: Intel SDM Vol. 2A CALL, JMP and Vol. 2B RET (far forms, IA-32e
// mode pseudocode and the 64-bit mode exception lists); Vol. 3A 5.8.3.1
// (IA-32e mode call gates: 16 bytes, the upper type field must be 0, the
// target must be a 64-bit code segment, pushes are 8 bytes, the new SS is a
// null selector with RPL = new CPL, no parameter copy) and 5.2.1 (L and D
// both set is reserved); AMD APM Vol. 2 4.8.3 and Vol. 3 CALL/JMP/RET (far).
//
// The far pointer forms: m16:32 by default (the offset zero-extended to 64
// bits), m16:64 with REX.W; the direct ptr16:32 forms (EA, 9A) are invalid in
// 64-bit mode. Through a gate, the pointer's offset is ignored.
#include "ktest.h"

// Test descriptors in the free GDT slots.
enum {
  CONF_CODE_SEL = 13 << 3,  // conforming 64-bit code, DPL 0
  LD_CODE_SEL = 14 << 3,    // code with L = 1 and D = 1: reserved
  GATE_A_SEL = 16 << 3,     // a 64-bit call gate (16 bytes: slots 16 and 17)
  GATE_B_SEL = 18 << 3,     // a second one (slots 18 and 19)
};
#define GATE_LAST_SEL ((GDT_ENTRIES - 1) << 3)  // a gate whose upper half lies past the GDT limit

static void set_call_gate(uint16_t sel, uint64_t target, uint16_t cs, int dpl, int present) {
  const int i = sel >> 3;
  g_gdt[i] = (target & 0xffff) | ((uint64_t)cs << 16) | (0xcull << 40) | ((uint64_t)dpl << 45) |
             ((uint64_t)(present != 0) << 47) | (((target >> 16) & 0xffff) << 48);
  if (i + 1 < GDT_ENTRIES) g_gdt[i + 1] = target >> 32;
}

static void add_test_segments(void) {
  g_gdt[CONF_CODE_SEL >> 3] = 0x00af9e000000ffffull;  // P, DPL 0, code conforming readable, L
  g_gdt[LD_CODE_SEL >> 3] = 0x00ef9a000000ffffull;    // P, DPL 0, code, L and D
}

// Far pointers (offset, then selector).
struct __attribute__((packed)) fptr64 { uint64_t off; uint16_t sel; };
struct __attribute__((packed)) fptr32 { uint32_t off; uint16_t sel; };
static struct fptr64 p64;
static struct fptr32 p32;

// The far transfers; rsi points at the far pointer.
SNIPPET(s_ljmp64, "rex64 ljmp *(%rsi)\n int $0x81");
SNIPPET(s_ljmp32, "ljmp *(%rsi)\n int $0x81");
SNIPPET(s_lcall64, "rex64 lcall *(%rsi)\n s_lcall64_ret: int $0x81");
SNIPPET_LABEL(s_lcall64_ret);
SNIPPET(s_lcall32, "lcall *(%rsi)\n s_lcall32_ret: int $0x81");
SNIPPET_LABEL(s_lcall32_ret);
// Direct far jmp/call (EA, 9A): invalid in 64-bit mode.
SNIPPET(s_direct_jmp, ".byte 0xea, 0, 0, 0, 0, 0x08, 0\n int $0x81");
SNIPPET(s_direct_call, ".byte 0x9a, 0, 0, 0, 0, 0x08, 0\n int $0x81");
// Targets: the end of the run right there, or a far return.
SNIPPET(s_target, "int $0x81\n s_target_end:");
SNIPPET_LABEL(s_target_end);
SNIPPET(s_target_lretq, "lretq");
SNIPPET(s_target_lretl, "lretl");
SNIPPET(s_target_lretq16, "lretq $16");
// Far ret with a frame from registers, lowest address first: rsi = RIP,
// rdx = CS, then (to an outer level) rcx = RSP, rax = SS; r9 is loaded into
// DS first. s_lret_imm leaves 16 bytes of "parameters" between the two halves.
SNIPPET(s_lret, "mov %r9d, %ds\n push %rax\n push %rcx\n push %rdx\n push %rsi\n s_lret_at: lretq\n int $0x81");
SNIPPET_LABEL(s_lret_at);
SNIPPET(s_lret_imm,
        "mov %r9d, %ds\n push %rax\n push %rcx\n push %r10\n push %r10\n push %rdx\n push %rsi\n"
        " s_lret_imm_at: lretq $16\n int $0x81");
SNIPPET_LABEL(s_lret_imm_at);
SNIPPET(s_lretl, "push %rdx\n push %rsi\n movl %esi, (%rsp)\n movl %edx, 4(%rsp)\n s_lretl_at: lretl\n int $0x81");
SNIPPET_LABEL(s_lretl_at);
// Where a far ret lands: DS and SS as the code sees them.
SNIPPET(s_ret_target, "xor %eax, %eax\n xor %ebx, %ebx\n mov %ds, %ax\n mov %ss, %bx\n int $0x81\n s_ret_target_end:");
SNIPPET_LABEL(s_ret_target_end);

static uint64_t stack_at(uint64_t va) { return *(volatile uint64_t*)(uintptr_t)va; }
static uint32_t stack32_at(uint64_t va) { return *(volatile uint32_t*)(uintptr_t)va; }

// Runs code (at cpl) with rsi = the far pointer and returns the event.
static void run_far(int cpl, const char* code, const void* ptr, struct run* run, struct event* ev) {
  add_test_segments();
  run_init(run, cpl, code);
  run->r.rsi = ADDR(ptr);
  xrun(run, ev);
}

// A fault at the transfer: nothing changed (registers, stack, CS).
static void expect_fault(int cpl, const char* code, const void* ptr, uint64_t vector, uint64_t error) {
  struct run run;
  struct event ev;
  run_far(cpl, code, ptr, &run, &ev);
  expect_event(&ev, vector, error, ADDR(code)) && expect_regs(&ev, &run.r, 0) && expect_eq("frame cs", run.cs, ev.cs) &&
      expect_eq("frame rsp", run.r.rsp, ev.rsp);
}
static void fault64(int cpl, uint16_t sel, uint64_t off, uint64_t vector, uint64_t error) {
  p64 = (struct fptr64){off, sel};
  expect_fault(cpl, s_ljmp64, &p64, vector, error);
}

// ---- far jmp / call to a code segment ----------------------------------------

// jmp m16:64 at CPL 0 to KCS: RIP from the pointer, CS = KCS, stack untouched.
static void jmp64_kcs(void) {
  struct run run;
  struct event ev;
  p64 = (struct fptr64){ADDR(s_target), KCS};
  run_far(0, s_ljmp64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("cs", KCS, ev.cs) && expect_eq("rsp", run.r.rsp, ev.rsp) &&
      expect_regs(&ev, &run.r, 0);
}
// jmp m16:32 at CPL 3 to UCS: the 32-bit offset, zero-extended.
static void jmp32_ucs(void) {
  struct run run;
  struct event ev;
  p32 = (struct fptr32){(uint32_t)ADDR(s_target), UCS};
  run_far(3, s_ljmp32, &p32, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("cs", UCS, ev.cs) && expect_eq("ss", UDS, ev.ss);
}
// The new CS gets RPL = CPL whatever the selector's RPL (here 0 at CPL 0...
// and a conforming segment reached from CPL 3 keeps CPL 3: CS = sel | 3).
static void jmp_conforming_from_user(void) {
  struct run run;
  struct event ev;
  p64 = (struct fptr64){ADDR(s_target), CONF_CODE_SEL};
  run_far(3, s_ljmp64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("cs (RPL = CPL 3)", CONF_CODE_SEL | 3, ev.cs) &&
      expect_eq("ss", UDS, ev.ss);
}
// call m16:64 pushes CS then RIP, 8 bytes each; the target sees them.
static void call64_pushes(void) {
  struct run run;
  struct event ev;
  p64 = (struct fptr64){ADDR(s_target), KCS};
  run_far(0, s_lcall64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("rsp", run.r.rsp - 16, ev.rsp) &&
      expect_eq("pushed rip", ADDR(s_lcall64_ret), stack_at(ev.rsp)) && expect_eq("pushed cs", KCS, stack_at(ev.rsp + 8));
}
// call m16:32 pushes 4 bytes each: CS (zero-extended) above EIP.
static void call32_pushes(void) {
  struct run run;
  struct event ev;
  p32 = (struct fptr32){(uint32_t)ADDR(s_target), UCS};
  run_far(3, s_lcall32, &p32, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("rsp", run.r.rsp - 8, ev.rsp) &&
      expect_eq("pushed eip", (uint32_t)ADDR(s_lcall32_ret), stack32_at(ev.rsp)) &&
      expect_eq("pushed cs", UCS, stack32_at(ev.rsp + 4) & 0xffff);
}
// A far call whose target far-returns: back after the call (the int $0x81
// that follows it is 2 bytes), in `cs`, with rsp moved by `rsp_delta`.
static void round_trip(int cpl, const char* code, const void* ptr, const char* ret, uint64_t cs, int64_t rsp_delta) {
  struct run run;
  struct event ev;
  run_far(cpl, code, ptr, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(ret) + 2) && expect_eq("rsp", run.r.rsp + (uint64_t)rsp_delta, ev.rsp) &&
      expect_eq("cs", cs, ev.cs) && expect_regs(&ev, &run.r, REG_BIT(rsp));
}
// call m16:64 then lretq: back after the call with the stack as before.
static void call64_lretq_round_trip(void) {
  p64 = (struct fptr64){ADDR(s_target_lretq), UCS};
  round_trip(3, s_lcall64, &p64, s_lcall64_ret, UCS, 0);
}
// call m16:32 then lretl.
static void call32_lretl_round_trip(void) {
  p32 = (struct fptr32){(uint32_t)ADDR(s_target_lretl), KCS};
  round_trip(0, s_lcall32, &p32, s_lcall32_ret, KCS, 0);
}
// lretq $16 releases 16 more bytes.
static void lretq_imm_same_level(void) {
  p64 = (struct fptr64){ADDR(s_target_lretq16), KCS};
  round_trip(0, s_lcall64, &p64, s_lcall64_ret, KCS, 16);
}

static void jmp_null(void) { fault64(0, 0, ADDR(s_target), V_GP, 0); }
static void jmp_null_rpl3(void) { fault64(3, 3, ADDR(s_target), V_GP, 0); }
static void jmp_beyond_gdt(void) { fault64(0, GDT_ENTRIES * 8, ADDR(s_target), V_GP, GDT_ENTRIES * 8); }
static void jmp_data_segment(void) { fault64(0, KDS, ADDR(s_target), V_GP, KDS); }
static void jmp_not_present(void) { fault64(0, NP_CODE_SEL, ADDR(s_target), V_NP, NP_CODE_SEL); }
static void jmp_user_to_kernel(void) { fault64(3, KCS | 3, ADDR(s_target), V_GP, KCS); }
static void jmp_kernel_to_user(void) { fault64(0, UCS, ADDR(s_target), V_GP, UCS & ~3); }
static void jmp_rpl_above_cpl(void) { fault64(0, KCS | 3, ADDR(s_target), V_GP, KCS); }
static void jmp_l_and_d(void) { fault64(0, LD_CODE_SEL, ADDR(s_target), V_GP, LD_CODE_SEL); }
static void jmp_tss(void) { fault64(0, TSS_SEL, ADDR(s_target), V_GP, TSS_SEL); }
static void jmp_noncanonical(void) { fault64(0, KCS, NONCANONICAL, V_GP, 0); }
static void call_noncanonical_stack(void) {
  all_exceptions_on_ist(IST_TEST);  // the #SS must not use the bad stack
  struct run run;
  struct event ev;
  p64 = (struct fptr64){ADDR(s_target), KCS};
  add_test_segments();
  run_init(&run, 0, s_lcall64);
  run.r.rsi = ADDR(&p64);
  run.r.rsp = NONCANONICAL + 0x100;
  xrun(&run, &ev);
  expect_event(&ev, V_SS, 0, ADDR(s_lcall64)) && expect_eq("frame rsp", run.r.rsp, ev.rsp);
}
// The push to an unmapped stack faults on the first slot (CS), and the call
// has no effect.
static void call_unmapped_stack(void) {
  struct run run;
  struct event ev;
  all_exceptions_on_ist(IST_TEST);  // the #PF cannot be delivered on that stack
  const uint64_t va = fresh_va();
  p64 = (struct fptr64){ADDR(s_target), KCS};
  add_test_segments();
  run_init(&run, 0, s_lcall64);
  run.r.rsi = ADDR(&p64);
  run.r.rsp = va + PAGE_SIZE;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, PF_W, ADDR(s_lcall64)) && expect_eq("cr2", va + PAGE_SIZE - 8, ev.cr2) &&
      expect_eq("frame rsp", run.r.rsp, ev.rsp) && expect_eq("frame cs", KCS, ev.cs);
}
static void direct_jmp_ud(void) { expect_fault(0, s_direct_jmp, &p64, V_UD, 0); }
static void direct_call_ud(void) { expect_fault(3, s_direct_call, &p64, V_UD, 0); }

// ---- call gates ----------------------------------------------------------------

// From CPL 3 through a DPL-3 gate to DPL-0 code: CPL 0 on TSS.RSP0 with SS a
// null selector (RPL 0); the new stack holds, from its top, the user's SS,
// RSP, CS and the return RIP, 8 bytes each. The pointer's offset is ignored.
static void gate_call_user_to_kernel(void) {
  struct run run;
  struct event ev;
  set_call_gate(GATE_A_SEL, ADDR(s_target), KCS, 3, 1);
  p64 = (struct fptr64){0x1234, GATE_A_SEL | 3};
  run_far(3, s_lcall64, &p64, &run, &ev);
  const uint64_t top = rsp0_top();
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("cs", KCS, ev.cs) && expect_eq("ss (null)", 0, ev.ss) &&
      expect_eq("rsp (RSP0 - 32)", top - 32, ev.rsp) && expect_eq("pushed rip", ADDR(s_lcall64_ret), stack_at(top - 32)) &&
      expect_eq("pushed cs", UCS, stack_at(top - 24)) && expect_eq("pushed rsp", run.r.rsp, stack_at(top - 16)) &&
      expect_eq("pushed ss", UDS, stack_at(top - 8)) && expect_regs(&ev, &run.r, REG_BIT(rsp));
}
// The same with the m16:32 pointer form: a 64-bit gate still pushes 8 bytes.
static void gate_call32_user_to_kernel(void) {
  struct run run;
  struct event ev;
  set_call_gate(GATE_A_SEL, ADDR(s_target), KCS, 3, 1);
  p32 = (struct fptr32){0, GATE_A_SEL | 3};
  run_far(3, s_lcall32, &p32, &run, &ev);
  const uint64_t top = rsp0_top();
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("rsp (RSP0 - 32)", top - 32, ev.rsp) &&
      expect_eq("pushed rip", ADDR(s_lcall32_ret), stack_at(top - 32)) && expect_eq("pushed ss", UDS, stack_at(top - 8));
}
// Up through the gate and back down with lretq: CPL 3 again, the user's
// RSP and SS restored; DS (a DPL-0 data selector, unusable at CPL 3) is
// nulled on the way out.
static void gate_call_and_lretq(void) {
  struct run run;
  struct event ev;
  set_call_gate(GATE_A_SEL, ADDR(s_target_lretq), KCS, 3, 1);
  p64 = (struct fptr64){0, GATE_A_SEL};
  run_far(3, s_lcall64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_lcall64_ret) + 2) && expect_eq("cs", UCS, ev.cs) && expect_eq("ss", UDS, ev.ss) &&
      expect_eq("rsp", run.r.rsp, ev.rsp) && expect_regs(&ev, &run.r, 0);
}
// A gate to the same level: CS and RIP pushed on the current stack, SS kept.
static void gate_call_same_level(void) {
  struct run run;
  struct event ev;
  set_call_gate(GATE_B_SEL, ADDR(s_target), KCS, 0, 1);
  p64 = (struct fptr64){0, GATE_B_SEL};
  run_far(0, s_lcall64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("rsp", run.r.rsp - 16, ev.rsp) &&
      expect_eq("ss", KDS, ev.ss) && expect_eq("pushed rip", ADDR(s_lcall64_ret), stack_at(ev.rsp)) &&
      expect_eq("pushed cs", KCS, stack_at(ev.rsp + 8));
}
// A call through a gate to conforming code does not change the level.
static void gate_call_conforming(void) {
  struct run run;
  struct event ev;
  set_call_gate(GATE_A_SEL, ADDR(s_target), CONF_CODE_SEL, 3, 1);
  p64 = (struct fptr64){0, GATE_A_SEL | 3};
  run_far(3, s_lcall64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("cs", CONF_CODE_SEL | 3, ev.cs) &&
      expect_eq("ss", UDS, ev.ss) && expect_eq("rsp", run.r.rsp - 16, ev.rsp);
}
// jmp through a gate at the same level: no push.
static void gate_jmp_same_level(void) {
  struct run run;
  struct event ev;
  set_call_gate(GATE_A_SEL, ADDR(s_target), UCS, 3, 1);
  p64 = (struct fptr64){0, GATE_A_SEL | 3};
  run_far(3, s_ljmp64, &p64, &run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("cs", UCS, ev.cs) && expect_eq("rsp", run.r.rsp, ev.rsp);
}
// jmp cannot raise the privilege level: #GP(code selector).
static void gate_jmp_to_inner(void) {
  set_call_gate(GATE_A_SEL, ADDR(s_target), KCS, 3, 1);
  p64 = (struct fptr64){0, GATE_A_SEL | 3};
  expect_fault(3, s_ljmp64, &p64, V_GP, KCS);
}
static void gate_case(int cpl, uint16_t ptr_sel, uint16_t cs, int dpl, int present, uint64_t vector, uint64_t error) {
  set_call_gate(GATE_A_SEL, ADDR(s_target), cs, dpl, present);
  p64 = (struct fptr64){0, ptr_sel};
  expect_fault(cpl, s_lcall64, &p64, vector, error);
}
static void gate_dpl_below_cpl(void) { gate_case(3, GATE_A_SEL | 3, KCS, 0, 1, V_GP, GATE_A_SEL); }
static void gate_rpl_above_dpl(void) { gate_case(0, GATE_A_SEL | 3, KCS, 0, 1, V_GP, GATE_A_SEL); }
static void gate_not_present(void) { gate_case(3, GATE_A_SEL | 3, KCS, 3, 0, V_NP, GATE_A_SEL); }
static void gate_null_cs(void) { gate_case(3, GATE_A_SEL | 3, 0, 3, 1, V_GP, 0); }
static void gate_data_cs(void) { gate_case(3, GATE_A_SEL | 3, KDS, 3, 1, V_GP, KDS); }
static void gate_cs_not_present(void) { gate_case(3, GATE_A_SEL | 3, NP_CODE_SEL, 3, 1, V_NP, NP_CODE_SEL); }
static void gate_cs_outer(void) { gate_case(0, GATE_A_SEL, UCS, 0, 1, V_GP, UCS & ~3); }
static void gate_cs_beyond(void) { gate_case(0, GATE_A_SEL, GDT_ENTRIES * 8, 0, 1, V_GP, GDT_ENTRIES * 8); }
static void gate_cs_l_and_d(void) { gate_case(0, GATE_A_SEL, LD_CODE_SEL, 0, 1, V_GP, LD_CODE_SEL); }
// The upper half's type field (bits 12:8 of its second dword) must be 0.
static void gate_upper_type(void) {
  set_call_gate(GATE_A_SEL, ADDR(s_target), KCS, 0, 1);
  g_gdt[(GATE_A_SEL >> 3) + 1] |= 0xcull << 40;
  p64 = (struct fptr64){0, GATE_A_SEL};
  expect_fault(0, s_lcall64, &p64, V_GP, GATE_A_SEL);
}
// A gate whose upper 8 bytes lie beyond the GDT limit.
static void gate_past_gdt_limit(void) {
  set_call_gate(GATE_LAST_SEL, ADDR(s_target), KCS, 0, 1);
  p64 = (struct fptr64){0, GATE_LAST_SEL};
  expect_fault(0, s_lcall64, &p64, V_GP, GATE_LAST_SEL);
}
// A non-canonical gate offset: #GP(0).
static void gate_noncanonical_target(void) {
  set_call_gate(GATE_A_SEL, NONCANONICAL, KCS, 0, 1);
  p64 = (struct fptr64){0, GATE_A_SEL};
  expect_fault(0, s_lcall64, &p64, V_GP, 0);
}
// Gate types other than a call gate: an interrupt gate is #GP(selector).
static void far_to_interrupt_gate(void) {
  set_call_gate(GATE_A_SEL, ADDR(s_target), KCS, 0, 1);
  g_gdt[GATE_A_SEL >> 3] = (g_gdt[GATE_A_SEL >> 3] & ~(0xfull << 40)) | (0xeull << 40);
  p64 = (struct fptr64){0, GATE_A_SEL};
  expect_fault(0, s_lcall64, &p64, V_GP, GATE_A_SEL);
}
// A non-canonical TSS.RSP0 for a call to CPL 0: #SS(0) (the new SS is a null
// selector), reported at the call with nothing changed.
static void gate_rsp0_noncanonical(void) {
  all_exceptions_on_ist(IST_TEST);
  g_tss.rsp[0] = NONCANONICAL;
  set_call_gate(GATE_A_SEL, ADDR(s_target), KCS, 3, 1);
  p64 = (struct fptr64){0, GATE_A_SEL | 3};
  expect_fault(3, s_lcall64, &p64, V_SS, 0);
}

// ---- far ret ------------------------------------------------------------------

static void lret_case(int cpl, uint64_t rip, uint64_t cs, uint64_t rsp, uint64_t ss, uint64_t vector, uint64_t error) {
  struct run run;
  struct event ev;
  add_test_segments();
  run_init(&run, cpl, s_lret);
  run.r.rsi = rip;
  run.r.rdx = cs;
  run.r.rcx = rsp;
  run.r.rax = ss;
  run.r.r9 = cpl == 3 ? UDS : KDS;
  xrun(&run, &ev);
  if (vector == V_END) {
    expect_event(&ev, V_END, 0, ADDR(s_ret_target_end)) && expect_eq("cs", cs, ev.cs) && expect_eq("ss", ss, ev.ss) &&
        expect_eq("rsp", rsp, ev.rsp) && expect_eq("ds as seen by the code", 0, ev.r.rax) &&
        expect_eq("ss as seen by the code", ss, ev.r.rbx);
  } else {
    expect_event(&ev, vector, error, ADDR(s_lret_at)) && expect_eq("frame rsp", run.r.rsp - 32, ev.rsp) &&
        expect_eq("frame cs", run.cs, ev.cs);
  }
}
// lretq from CPL 0 to CPL 3: RIP, CS, then RSP and SS popped; DS, a DPL-0
// selector, becomes null.
static void lret_to_user(void) { lret_case(0, ADDR(s_ret_target), UCS, user_stack_top() - 512, UDS, V_END, 0); }
static void lret_to_inner(void) { lret_case(3, ADDR(s_ret_target), KCS, run_stack_top(), KDS, V_GP, KCS); }
static void lret_null_cs(void) { lret_case(0, ADDR(s_ret_target), 0, 0, 0, V_GP, 0); }
static void lret_null_ss_to_user(void) { lret_case(0, ADDR(s_ret_target), UCS, user_stack_top() - 512, 0, V_GP, 0); }
static void lret_ss_rpl_mismatch(void) {
  lret_case(0, ADDR(s_ret_target), UCS, user_stack_top() - 512, KDS, V_GP, KDS);
}
static void lret_ss_dpl0_rpl3(void) {
  lret_case(0, ADDR(s_ret_target), UCS, user_stack_top() - 512, KDS | 3, V_GP, KDS);
}
static void lret_cs_rpl3_dpl0(void) { lret_case(0, ADDR(s_ret_target), KCS | 3, user_stack_top(), UDS, V_GP, KCS); }
static void lret_not_present(void) { lret_case(0, ADDR(s_ret_target), NP_CODE_SEL, 0, 0, V_NP, NP_CODE_SEL); }
static void lret_data_cs(void) { lret_case(0, ADDR(s_ret_target), KDS, 0, 0, V_GP, KDS); }
static void lret_noncanonical_rip(void) { lret_case(0, NONCANONICAL, KCS, 0, 0, V_GP, 0); }
// lretq $16 to an outer level releases 16 bytes of each stack: the
// parameters between CS and RSP, and 16 bytes above the new RSP.
static void lret_imm_to_user(void) {
  struct run run;
  struct event ev;
  const uint64_t user_rsp = user_stack_top() - 512;
  run_init(&run, 0, s_lret_imm);
  run.r.rsi = ADDR(s_ret_target);
  run.r.rdx = UCS;
  run.r.rcx = user_rsp;
  run.r.rax = UDS;
  run.r.r9 = KDS;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_ret_target_end)) && expect_eq("cs", UCS, ev.cs) &&
      expect_eq("rsp (+16)", user_rsp + 16, ev.rsp);
}
// lretl pops 4-byte RIP and CS.
static void lretl_same_level(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_lretl);
  run.r.rsi = ADDR(s_target);
  run.r.rdx = UCS;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_target_end)) && expect_eq("rsp", run.r.rsp - 8, ev.rsp) &&
      expect_eq("cs", UCS, ev.cs);
}

static const struct kcase cases[] = {
    {"jmp.m16-64.kernel", jmp64_kcs},
    {"jmp.m16-32.user", jmp32_ucs},
    {"jmp.conforming-from-user-keeps-cpl3", jmp_conforming_from_user},
    {"call.m16-64-pushes-cs-rip", call64_pushes},
    {"call.m16-32-pushes-4-bytes-each", call32_pushes},
    {"call.m16-64-lretq-round-trip.cpl3", call64_lretq_round_trip},
    {"call.m16-32-lretl-round-trip.cpl0", call32_lretl_round_trip},
    {"call.lretq-imm16", lretq_imm_same_level},
    {"jmp.null-selector-is-gp0", jmp_null},
    {"jmp.null-selector-rpl3-is-gp0.cpl3", jmp_null_rpl3},
    {"jmp.beyond-gdt-limit", jmp_beyond_gdt},
    {"jmp.data-segment", jmp_data_segment},
    {"jmp.not-present-is-np", jmp_not_present},
    {"jmp.user-to-dpl0-code", jmp_user_to_kernel},
    {"jmp.kernel-to-dpl3-code", jmp_kernel_to_user},
    {"jmp.rpl-above-cpl", jmp_rpl_above_cpl},
    {"jmp.l-and-d-reserved", jmp_l_and_d},
    {"jmp.tss-selector", jmp_tss},
    {"jmp.noncanonical-offset-is-gp0", jmp_noncanonical},
    {"call.noncanonical-stack-is-ss0", call_noncanonical_stack},
    {"call.unmapped-stack-pf-on-cs-slot", call_unmapped_stack},
    {"direct.jmp-ptr16-32-is-ud", direct_jmp_ud},
    {"direct.call-ptr16-32-is-ud.cpl3", direct_call_ud},
    {"gate.call-user-to-kernel-stack-switch", gate_call_user_to_kernel},
    {"gate.call-m16-32-pushes-8-bytes", gate_call32_user_to_kernel},
    {"gate.call-up-and-lretq-down", gate_call_and_lretq},
    {"gate.call-same-level", gate_call_same_level},
    {"gate.call-conforming-keeps-cpl", gate_call_conforming},
    {"gate.jmp-same-level", gate_jmp_same_level},
    {"gate.jmp-to-inner-level-is-gp", gate_jmp_to_inner},
    {"gate.dpl-below-cpl", gate_dpl_below_cpl},
    {"gate.rpl-above-dpl", gate_rpl_above_dpl},
    {"gate.not-present-is-np", gate_not_present},
    {"gate.null-code-selector-is-gp0", gate_null_cs},
    {"gate.data-segment-target", gate_data_cs},
    {"gate.target-not-present-is-np", gate_cs_not_present},
    {"gate.target-dpl-above-cpl", gate_cs_outer},
    {"gate.target-beyond-gdt-limit", gate_cs_beyond},
    {"gate.target-l-and-d", gate_cs_l_and_d},
    {"gate.upper-type-not-zero", gate_upper_type},
    {"gate.upper-half-past-gdt-limit", gate_past_gdt_limit},
    {"gate.noncanonical-target-is-gp0", gate_noncanonical_target},
    {"gate.interrupt-gate-type", far_to_interrupt_gate},
    {"gate.noncanonical-rsp0-is-ss0", gate_rsp0_noncanonical},
    {"ret.to-user-nulls-dpl0-ds", lret_to_user},
    {"ret.to-inner-level.cpl3", lret_to_inner},
    {"ret.null-cs-is-gp0", lret_null_cs},
    {"ret.null-ss-to-user-is-gp0", lret_null_ss_to_user},
    {"ret.ss-rpl-not-cs-rpl", lret_ss_rpl_mismatch},
    {"ret.ss-dpl0-rpl3", lret_ss_dpl0_rpl3},
    {"ret.cs-rpl3-dpl0", lret_cs_rpl3_dpl0},
    {"ret.not-present-is-np", lret_not_present},
    {"ret.data-segment-cs", lret_data_cs},
    {"ret.noncanonical-rip-is-gp0", lret_noncanonical_rip},
    {"ret.imm16-to-user-releases-both-stacks", lret_imm_to_user},
    {"ret.lretl-same-level", lretl_same_level},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
