// doublefault.c — exceptions raised while delivering another exception:
// when they become a double fault (#DF) and when they are handled serially
// (Intel SDM Vol. 3A 6.15, Table 6-5: contributory = #DE #TS #NP #SS #GP;
// contributory then contributory -> #DF; #PF then #PF or contributory ->
// #DF; contributory then #PF, or benign then anything -> the second one is
// delivered normally, with RIP at the instruction that caused the first).
//
// A separate program because a processor (or translator) that gets #DF
// wrong triple-faults, which ends the run: the cases go from the safest to
// the riskiest. The #DF gate always uses its own IST stack (IST_DF).
#include "ktest.h"

#define FRAME5 40  // the RIP slot is 40 bytes below the stack top

SNIPPET(s_load, "mov (%rsi), %rax\n int $0x81");
SNIPPET(s_div, "div %rcx\n int $0x81");
SNIPPET(s_int3, "int3\n int $0x81");
SNIPPET(s_int82, "int $0x82\n int $0x81");
SNIPPET(s_ud2, "ud2\n int $0x81");

// ---- double faults and serial handling (Intel SDM Table 6-5) ------------------------

// #DF: error code 0, on the #DF gate's IST stack; the saved RIP is undefined
// (not checked).
static int expect_df(const struct event* ev) {
  return expect_event(ev, V_DF, 0, ev->rip) && expect_eq("#DF frame address", ist_top(IST_DF) - FRAME5, ev->frame_addr);
}
// #PF while delivering #PF (the #PF gate's IST stack is not mapped) -> #DF.
static void df_pf_pf(void) {
  g_idt[V_PF].ist = IST_TEST;
  g_tss.ist[IST_TEST] = fresh_va() + PAGE_SIZE;  // top of an unmapped page
  struct run run;
  struct event ev;
  run_init(&run, 0, s_load);
  run.r.rsi = fresh_va();
  xrun(&run, &ev);
  expect_df(&ev) && expect_eq("events", 1, g_nlog);
}
// #GP while delivering #GP (the #GP gate's CS is a data segment) -> #DF.
static void df_gp_gp(void) {
  g_idt[V_GP].sel = KDS;
  struct run run;
  struct event ev;
  run_init(&run, 0, s_load);
  run.r.rsi = NONCANONICAL;
  xrun(&run, &ev);
  expect_df(&ev);
}
// #GP while delivering #DE (null CS in gate 0): contributory twice -> #DF.
static void df_de_gp(void) {
  g_idt[V_DE].sel = 0;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_div);
  run.r.rcx = 0;
  xrun(&run, &ev);
  expect_df(&ev);
}
// #GP while delivering #PF -> #DF.
static void df_pf_gp(void) {
  g_idt[V_PF].sel = KDS;
  struct run run;
  struct event ev;
  run_init(&run, 0, s_load);
  run.r.rsi = fresh_va();
  xrun(&run, &ev);
  expect_df(&ev);
}
// #NP while delivering #GP (gate 13 not present) -> #DF.
static void df_gp_np(void) {
  g_idt[V_GP].type_attr &= 0x7f;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int82);
  xrun(&run, &ev);
  expect_df(&ev);
}

// #PF while delivering #GP (its IST stack not mapped): contributory then #PF
// is handled serially: the #PF is delivered (error W, supervisor, not
// present; CR2 in the frame's area below the IST top; RIP = the instruction
// that raised the #GP). The #PF handler maps the page and returns; the
// instruction runs again and its #GP is delivered on the IST stack.
static uint64_t serial_stack_page;
static int serial_hook(struct frame* f, const struct event* ev) {
  (void)f;
  if (ev->vector == V_PF && ev->cr2 >= serial_stack_page && ev->cr2 < serial_stack_page + PAGE_SIZE) {
    map_page(g_kpml4, serial_stack_page, alloc_frame(), PTE_P | PTE_W);
    return HOOK_RESUME;
  }
  return HOOK_DECLINE;
}
static void serial_gp_pf(void) {
  serial_stack_page = fresh_va();
  g_idt[V_GP].ist = IST_TEST;
  g_tss.ist[IST_TEST] = serial_stack_page + PAGE_SIZE;
  g_hook = serial_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_load);
  run.r.rsi = NONCANONICAL;
  xrun(&run, &ev);
  if (!expect_eq("events", 2, g_nlog) || !expect_vector(&g_log[0], V_PF)) return;
  const struct event* pf = &g_log[0];
  expect_eq("#PF error", PF_W, pf->error) && expect_eq("#PF rip", ADDR(s_load), pf->rip) &&
      expect_eq("#PF frame cs", UCS, pf->cs) &&
      expect_true("CR2 within the 48 bytes below the IST top",
                  pf->cr2 >= serial_stack_page + PAGE_SIZE - 48 && pf->cr2 < serial_stack_page + PAGE_SIZE) &&
      expect_event(&ev, V_GP, 0, ADDR(s_load)) && expect_regs(&ev, &run.r, 0) &&
      expect_eq("#GP frame address", serial_stack_page + PAGE_SIZE - FRAME5, ev.frame_addr);
}
// #PF while delivering int3 (benign): handled serially; RIP = the int3.
static void serial_int3_pf(void) {
  serial_stack_page = fresh_va();
  g_idt[V_BP].ist = IST_TEST;
  g_tss.ist[IST_TEST] = serial_stack_page + PAGE_SIZE;
  g_hook = serial_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int3);
  xrun(&run, &ev);
  expect_eq("events", 2, g_nlog) && expect_vector(&g_log[0], V_PF) &&
      expect_eq("#PF rip (the int3)", ADDR(s_int3), g_log[0].rip) && expect_vector(&ev, V_BP) &&
      expect_eq("#BP rip", ADDR(s_int3) + 1, ev.rip);
}


// A benign exception (#UD) whose gate is broken (#GP, contributory): serial,
// the #GP is delivered with EXT = 1 and RIP = the ud2.
static void serial_ud_gp(void) {
  g_idt[V_UD].sel = KDS;
  struct run run;
  struct event ev;
  run_init(&run, 0, s_ud2);
  xrun(&run, &ev);
  expect_event(&ev, V_GP, KDS | 1, ADDR(s_ud2)) && expect_eq("events", 1, g_nlog);
}

static const struct kcase cases[] = {
    {"serial.gp-while-delivering-ud", serial_ud_gp},
    {"serial.pf-while-delivering-int3", serial_int3_pf},
    {"serial.pf-while-delivering-gp", serial_gp_pf},
    {"df.pf-while-delivering-pf", df_pf_pf},
    {"df.gp-while-delivering-pf", df_pf_gp},
    {"df.np-while-delivering-gp", df_gp_np},
    {"df.gp-while-delivering-gp", df_gp_gp},
    {"df.gp-while-delivering-de.cpl3", df_de_gp},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
