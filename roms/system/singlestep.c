// singlestep.c — the single-step trap (RFLAGS.TF): one #DB after each
// instruction, with RIP at the next instruction to run; across straight-line
// code, taken and not-taken branches, calls and returns, memory stores,
// string instructions (one trap per iteration), MOV SS (the trap waits one
// instruction), POPF setting or clearing TF, software interrupts (the
// handler is not stepped), and faults (a faulting instruction is not
// stepped over).
//
// Sources: Intel SDM Vol. 3B 17.3.1.4 (single-step trap: after an instruction
// that started with TF = 1; DR6.BS), 17.3.1.1 (RF pushed as 1 for a trap
// after any iteration of a REP string instruction but the last), Vol. 3A
// 6.8.3 (MOV SS / POP SS delay #DB traps until after the next instruction),
// Vol. 2 INT n (TF cleared on delivery); AMD APM Vol. 2 13.1.
#include "ktest.h"

struct step {
  uint64_t rip, rflags, rcx, rax, mem, dr6;
};
static struct step steps[512];
static int nsteps;
static int read_dr6_in_hook;
static int clear_zf_at_trap;  // > 0: the #DB handler clears ZF in the frame at that trap
static volatile uint64_t mem_cell;

// Records every #DB and resumes; other vectors: 0x44 resumes (a software
// interrupt in the middle of stepped code), #UD skips the 2-byte ud2.
static int step_hook(struct frame* f, const struct event* ev) {
  if (ev->vector == V_DB) {
    if (nsteps < (int)ARRAY_SIZE(steps)) {
      struct step* s = &steps[nsteps];
      s->rip = f->rip;
      s->rflags = f->rflags;
      s->rcx = f->rcx;
      s->rax = f->rax;
      s->mem = mem_cell;
      if (read_dr6_in_hook) {
        s->dr6 = read_dr6();
        write_dr6(0xffff0ff0);
      }
    }
    nsteps++;
    if (nsteps == clear_zf_at_trap) f->rflags &= ~(uint64_t)0x40;
    return HOOK_RESUME;
  }
  if (ev->vector == 0x44) return HOOK_RESUME;
  if (ev->vector == V_UD) {
    f->rip += 2;
    return HOOK_RESUME;
  }
  return HOOK_DECLINE;
}

static void step_run(int cpl, const char* code, uint64_t rflags, struct run* run, struct event* ev) {
  nsteps = 0;
  mem_cell = 0;
  g_hook = step_hook;
  run_init(run, cpl, code);
  run->rflags = rflags;
  run->r.rsi = ADDR(&mem_cell);
  xrun(run, ev);
}

// The trap RIPs must be exactly want[0..n-1], then the run ends with int $0x81.
static int expect_steps(const struct event* ev, const uint64_t* want, int n) {
  if (!expect_vector(ev, V_END)) return 0;
  for (int i = 0; i < n && i < nsteps; i++) {
    char what[32];
    guest_snprintf(what, sizeof what, "trap %d rip", i + 1);
    if (!expect_eq(what, want[i], steps[i].rip)) return 0;
  }
  return expect_eq("number of traps", (uint64_t)n, (uint64_t)nsteps);
}

SNIPPET(s_line, "nop\n s_line_1: mov $1, %eax\n s_line_2: add %eax, %ebx\n s_line_3: lea 8(%rdx), %rdx\n s_line_4: int $0x81");
SNIPPET_LABEL(s_line_1);
SNIPPET_LABEL(s_line_2);
SNIPPET_LABEL(s_line_3);
SNIPPET_LABEL(s_line_4);
static void straight_line(int cpl) {
  struct run run;
  struct event ev;
  step_run(cpl, s_line, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_line_1), ADDR(s_line_2), ADDR(s_line_3), ADDR(s_line_4)};
  // The trap frame: TF still set, RF clear; the state after each instruction
  // (eax = 1 from the trap after the mov on).
  expect_steps(&ev, want, 4) && expect_eq("trap 1 rflags (TF, no RF)", FL_TF, steps[0].rflags & (FL_TF | FL_RF)) &&
      expect_eq("rax at trap 1", run.r.rax, steps[0].rax) && expect_eq("rax at trap 2", 1, steps[1].rax) &&
      expect_eq("frame rflags of the end event", FL_TF, ev.rflags & FL_TF) &&
      expect_eq("handler TF", 0, ev.handler_rflags & FL_TF);
}
static void straight_line0(void) { straight_line(0); }
static void straight_line3(void) { straight_line(3); }

SNIPPET(s_branch, "jmp 1f\n ud2\n 1: xor %eax, %eax\n s_branch_2: jz 2f\n ud2\n 2: s_branch_3: cmp $1, %eax\n"
                  " s_branch_4: je 3f\n s_branch_5: int $0x81\n 3: ud2");
SNIPPET_LABEL(s_branch_2);
SNIPPET_LABEL(s_branch_3);
SNIPPET_LABEL(s_branch_4);
SNIPPET_LABEL(s_branch_5);
static void branches(int cpl) {
  struct run run;
  struct event ev;
  step_run(cpl, s_branch, FL_FIXED | FL_TF, &run, &ev);
  // jmp -> the target (xor); xor -> jz; jz taken -> cmp; cmp -> je; je not taken -> int.
  const uint64_t want[] = {ADDR(s_branch) + 4, ADDR(s_branch_2), ADDR(s_branch_3), ADDR(s_branch_4), ADDR(s_branch_5)};
  expect_steps(&ev, want, 5);
}
// A jcc to itself traps after every iteration (a translator must not keep
// such a loop inside the single-stepped block); the handler ends it by
// clearing ZF at the fourth trap.
SNIPPET(s_selfjz, "xor %eax, %eax\n s_selfjz_1: jz s_selfjz_1\n s_selfjz_2: int $0x81");
SNIPPET_LABEL(s_selfjz_1);
SNIPPET_LABEL(s_selfjz_2);
static void self_jcc(void) {
  struct run run;
  struct event ev;
  clear_zf_at_trap = 4;
  step_run(0, s_selfjz, FL_FIXED | FL_TF, &run, &ev);
  clear_zf_at_trap = 0;
  const uint64_t want[] = {ADDR(s_selfjz_1), ADDR(s_selfjz_1), ADDR(s_selfjz_1), ADDR(s_selfjz_1), ADDR(s_selfjz_2)};
  expect_steps(&ev, want, 5);
}

static void branches0(void) { branches(0); }
static void branches3(void) { branches(3); }

SNIPPET(s_callret, "call 1f\n s_callret_back: int $0x81\n 1: ret");
SNIPPET_LABEL(s_callret_back);
static void call_ret(void) {
  struct run run;
  struct event ev;
  step_run(3, s_callret, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_callret_back) + 2, ADDR(s_callret_back)};
  expect_steps(&ev, want, 2);
}

// Indirect transfers to code that already has a translation (the run
// without TF first makes one, reached through the jump cache): each still
// traps, at its target, rather than running on in that translation.
SNIPPET(s_indirect, "lea s_indirect_t(%rip), %rax\n s_indirect_1: jmp *%rax\n ud2\n"
                    " s_indirect_t: lea s_indirect_ret(%rip), %rcx\n s_indirect_call: call *%rcx\n"
                    " s_indirect_back: int $0x81\n s_indirect_ret: ret");
SNIPPET_LABEL(s_indirect_1);
SNIPPET_LABEL(s_indirect_t);
SNIPPET_LABEL(s_indirect_call);
SNIPPET_LABEL(s_indirect_back);
SNIPPET_LABEL(s_indirect_ret);
static void indirect_translated(void) {
  struct run run;
  struct event ev;
  step_run(0, s_indirect, FL_FIXED, &run, &ev);  // (no TF: translations as usual)
  step_run(0, s_indirect, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_indirect_1), ADDR(s_indirect_t), ADDR(s_indirect_call), ADDR(s_indirect_ret),
                           ADDR(s_indirect_back)};
  expect_steps(&ev, want, 5);
}

// The store is done when its trap comes.
SNIPPET(s_store, "mov %rax, (%rsi)\n s_store_1: nop\n s_store_2: int $0x81");
SNIPPET_LABEL(s_store_1);
SNIPPET_LABEL(s_store_2);
static void store(int cpl) {
  struct run run;
  struct event ev;
  step_run(cpl, s_store, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_store_1), ADDR(s_store_2)};
  expect_steps(&ev, want, 2) && expect_eq("memory at the first trap", run.r.rax, steps[0].mem);
}
static void store0(void) { store(0); }
static void store3(void) { store(3); }

// rep movsb with rcx = 3: a trap after each iteration, RIP staying on the
// rep until the last one.
static uint8_t rep_src[8] = {1, 2, 3}, rep_dst[8];
SNIPPET(s_rep, "rep movsb\n s_rep_1: int $0x81");
SNIPPET_LABEL(s_rep_1);
static void rep_iterations(int check_rf) {
  struct run run;
  struct event ev;
  nsteps = 0;
  g_hook = step_hook;
  run_init(&run, 3, s_rep);
  run.rflags = FL_FIXED | FL_TF;
  run.r.rsi = ADDR(rep_src);
  run.r.rdi = ADDR(rep_dst);
  run.r.rcx = 3;
  xrun(&run, &ev);
  const uint64_t want[] = {ADDR(s_rep), ADDR(s_rep), ADDR(s_rep_1)};
  if (!expect_steps(&ev, want, 3)) return;
  if (!check_rf) {
    expect_eq("rcx at trap 1", 2, steps[0].rcx) && expect_eq("rcx at trap 2", 1, steps[1].rcx) &&
        expect_eq("rcx at trap 3", 0, steps[2].rcx) && expect_eq("copied", 3, rep_dst[2]);
  } else {
    expect_eq("RF at trap 1", FL_RF, steps[0].rflags & FL_RF) && expect_eq("RF at trap 2", FL_RF, steps[1].rflags & FL_RF) &&
        expect_eq("RF at trap 3 (last iteration)", 0, steps[2].rflags & FL_RF);
  }
}
static void rep_per_iteration(void) { rep_iterations(0); }
static void rep_rf(void) { rep_iterations(1); }

// MOV SS: no trap right after it; the trap comes after the next instruction.
SNIPPET(s_movss, "mov %ss, %eax\n s_movss_1: mov %eax, %ss\n nop\n s_movss_3: nop\n s_movss_4: int $0x81");
SNIPPET_LABEL(s_movss_1);
SNIPPET_LABEL(s_movss_3);
SNIPPET_LABEL(s_movss_4);
static void mov_ss(int cpl) {
  struct run run;
  struct event ev;
  step_run(cpl, s_movss, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_movss_1), ADDR(s_movss_3), ADDR(s_movss_4)};
  expect_steps(&ev, want, 3);
}
static void mov_ss0(void) { mov_ss(0); }
static void mov_ss3(void) { mov_ss(3); }

// POPF that sets TF: the first trap comes after the instruction after popf.
SNIPPET(s_popf_set, "pushfq\n orq $0x100, (%rsp)\n popfq\n nop\n s_popf_set_4: nop\n s_popf_set_5: int $0x81");
SNIPPET_LABEL(s_popf_set_4);
SNIPPET_LABEL(s_popf_set_5);
static void popf_sets_tf(void) {
  struct run run;
  struct event ev;
  step_run(3, s_popf_set, FL_FIXED, &run, &ev);
  const uint64_t want[] = {ADDR(s_popf_set_4), ADDR(s_popf_set_5)};
  expect_steps(&ev, want, 2);
}
// POPF that clears TF: it still traps after itself (it started with TF = 1).
SNIPPET(s_popf_clr, "pushfq\n s_popf_clr_1: andq $~0x100, (%rsp)\n s_popf_clr_2: popfq\n s_popf_clr_3: nop\n int $0x81");
SNIPPET_LABEL(s_popf_clr_1);
SNIPPET_LABEL(s_popf_clr_2);
SNIPPET_LABEL(s_popf_clr_3);
static void popf_clears_tf(void) {
  struct run run;
  struct event ev;
  step_run(3, s_popf_clr, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_popf_clr_1), ADDR(s_popf_clr_2), ADDR(s_popf_clr_3)};
  expect_steps(&ev, want, 3) && expect_eq("end event TF", 0, ev.rflags & FL_TF);
}
// pushfq under TF pushes TF = 1.
SNIPPET(s_pushf, "pushfq\n popq %rax\n int $0x81");
static void pushf_sees_tf(void) {
  struct run run;
  struct event ev;
  step_run(3, s_pushf, FL_FIXED | FL_TF, &run, &ev);
  expect_vector(&ev, V_END) && expect_eq("pushed TF", FL_TF, ev.r.rax & FL_TF) && expect_eq("traps", 2, nsteps);
}

// int $0x44 in stepped code: the handler (TF clear) is not stepped; after its
// iretq the stepping goes on with the next instruction.
SNIPPET(s_intn, "nop\n s_intn_1: int $0x44\n s_intn_2: nop\n s_intn_3: int $0x81");
SNIPPET_LABEL(s_intn_1);
SNIPPET_LABEL(s_intn_2);
SNIPPET_LABEL(s_intn_3);
static void int_n_in_stepped_code(void) {
  set_gate(0x44, isr_address(0x44), KCS, GATE_INT, 3, 0);
  struct run run;
  struct event ev;
  step_run(3, s_intn, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_intn_1), ADDR(s_intn_3)};
  if (!expect_steps(&ev, want, 2)) return;
  // The event order: #DB, 0x44 (TF set in its frame), #DB, int $0x81.
  expect_eq("events", 4, g_nlog) && expect_vector(&g_log[1], 0x44) &&
      expect_eq("0x44 frame rip", ADDR(s_intn_2), g_log[1].rip) && expect_eq("0x44 frame TF", FL_TF, g_log[1].rflags & FL_TF);
}

// A faulting instruction is not stepped: #UD comes instead of the trap; the
// handler skips the ud2 and stepping goes on.
SNIPPET(s_fault, "nop\n s_fault_1: ud2\n s_fault_2: nop\n s_fault_3: int $0x81");
SNIPPET_LABEL(s_fault_1);
SNIPPET_LABEL(s_fault_2);
SNIPPET_LABEL(s_fault_3);
static void fault_not_stepped(void) {
  struct run run;
  struct event ev;
  step_run(3, s_fault, FL_FIXED | FL_TF, &run, &ev);
  const uint64_t want[] = {ADDR(s_fault_1), ADDR(s_fault_3)};
  expect_steps(&ev, want, 2) && expect_eq("events", 4, g_nlog) && expect_vector(&g_log[1], V_UD) &&
      expect_eq("#UD rip", ADDR(s_fault_1), g_log[1].rip);
}

// A loop of 100 iterations: exactly one trap per instruction executed.
SNIPPET(s_loop, "mov $100, %ecx\n 1: dec %ecx\n jnz 1b\n int $0x81");
static void loop_count(int cpl) {
  struct run run;
  struct event ev;
  step_run(cpl, s_loop, FL_FIXED | FL_TF, &run, &ev);
  expect_vector(&ev, V_END) && expect_eq("traps (1 + 100 * 2)", 201, nsteps) &&
      expect_eq("last trap rip (the int $0x81)", ev.rip - 2, steps[200].rip);
}
static void loop_count0(void) { loop_count(0); }
static void loop_count3(void) { loop_count(3); }

// DR6.BS (bit 14) is set for a single-step trap.
static void dr6_bs(void) {
  write_dr6(0xffff0ff0);
  read_dr6_in_hook = 1;
  struct run run;
  struct event ev;
  step_run(0, s_line, FL_FIXED | FL_TF, &run, &ev);
  read_dr6_in_hook = 0;
  expect_eq("traps", 4, nsteps) && expect_eq("DR6.BS at trap 1", 0x4000, steps[0].dr6 & 0x4000) &&
      expect_eq("DR6.BS at trap 4", 0x4000, steps[3].dr6 & 0x4000);
}

static const struct kcase cases[] = {
    {"step.straight-line.cpl0", straight_line0},
    {"step.straight-line.cpl3", straight_line3},
    {"step.branches-taken-and-not.cpl0", branches0},
    {"step.branches-taken-and-not.cpl3", branches3},
    {"step.jcc-to-itself-traps-each-time.cpl0", self_jcc},
    {"step.call-ret.cpl3", call_ret},
    {"step.indirect-to-translated-code.cpl0", indirect_translated},
    {"step.memory-store.cpl0", store0},
    {"step.memory-store.cpl3", store3},
    {"step.rep-movsb-per-iteration.cpl3", rep_per_iteration},
    {"step.rep-movsb-rf-until-last.cpl3", rep_rf},
    {"step.mov-ss-delays-trap.cpl0", mov_ss0},
    {"step.mov-ss-delays-trap.cpl3", mov_ss3},
    {"step.popf-sets-tf.cpl3", popf_sets_tf},
    {"step.popf-clears-tf.cpl3", popf_clears_tf},
    {"step.pushf-sees-tf.cpl3", pushf_sees_tf},
    {"step.int-n-handler-not-stepped.cpl3", int_n_in_stepped_code},
    {"step.fault-not-stepped.cpl3", fault_not_stepped},
    {"step.loop-100.cpl0", loop_count0},
    {"step.loop-100.cpl3", loop_count3},
    {"step.dr6-bs.cpl0", dr6_bs},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
