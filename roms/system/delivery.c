// delivery.c — how interrupts and exceptions are delivered in IA-32e mode:
// gate DPL checks for software interrupts, gate and code-segment checks,
// stack switches to TSS.RSP0 and to IST stacks (16-byte aligned), the frame
// pushed in each case, RFLAGS in the handler, nested delivery, #TS from the
// TSS limit, the IDT read through a virtual address, and iretq's checks.
// (Double faults are in doublefault.c: a broken #DF ends a run.)
//
// Sources: Intel SDM Vol. 3A 6.12 (exception and interrupt handling), 6.14
// (64-bit mode: stack switching, IST, 16-byte alignment, null SS), 6.13 (error
// code: EXT, IDT and TI bits), Table 6-5 (double fault conditions), Vol. 2
// INT n / IRET pseudocode; AMD APM Vol. 2 8.9 (long-mode interrupts).
#include "ktest.h"

#define FL_START (FL_FIXED | FL_CF | FL_ZF)
// The event's frame address is that of the RIP slot: 40 bytes below the
// (aligned) stack top with or without an error code (SS, RSP, RFLAGS, CS
// above it; the error code below).
#define FRAME5 40

SNIPPET(s_int80, "int $0x80\n s_int80_next: int $0x81");
SNIPPET_LABEL(s_int80_next);
SNIPPET(s_int82, "int $0x82\n s_int82_next: int $0x81");
SNIPPET_LABEL(s_int82_next);
SNIPPET(s_int41, "int $0x41\n int $0x81");
SNIPPET(s_int44, "int $0x44\n s_int44_next: int $0x81");
SNIPPET_LABEL(s_int44_next);
SNIPPET(s_int45, "int $0x45\n s_int45_next: int $0x81");
SNIPPET_LABEL(s_int45_next);
SNIPPET(s_int90, "int $0x90\n int $0x81");
SNIPPET(s_int3, "int3\n int $0x81");
SNIPPET(s_ud2, "ud2\n int $0x81");
SNIPPET(s_load, "mov (%rsi), %rax\n int $0x81");
SNIPPET(s_div, "div %rcx\n int $0x81");
SNIPPET(s_segs, "xor %eax, %eax\n xor %ebx, %ebx\n mov %ds, %ax\n mov %es, %bx\n int $0x81\n s_segs_end:");
SNIPPET_LABEL(s_segs_end);
// iretq with a frame from registers: rax = SS, rcx = RSP, r8 = RFLAGS,
// rdx = CS, rsi = RIP.
SNIPPET(s_iret, "push %rax\n push %rcx\n push %r8\n push %rdx\n push %rsi\n s_iret_at: iretq\n int $0x81");
SNIPPET_LABEL(s_iret_at);
SNIPPET(s_iret_target, "int $0x81\n s_iret_target_at:");
SNIPPET_LABEL(s_iret_target_at);
// The same with RFLAGS.NT set first (popfq of rdi).
SNIPPET(s_iret_nt, "push %rdi\n popfq\n push %rax\n push %rcx\n push %r8\n push %rdx\n push %rsi\n s_iret_nt_at: iretq\n int $0x81");
SNIPPET_LABEL(s_iret_nt_at);

static int expect_frame(const struct event* ev, const struct run* run) {
  return expect_eq("frame cs", run->cs, ev->cs) && expect_eq("frame ss", run->ss, ev->ss) &&
         expect_eq("frame rsp", run->r.rsp, ev->rsp) && expect_eq("frame rflags", run->rflags, ev->rflags & ~(uint64_t)FL_RF);
}

// ---- software interrupts and gate DPL ----------------------------------------

// int $0x80 from CPL 3 through a DPL-3 interrupt gate: stack switch to RSP0,
// SS becomes a null selector (RPL 0), the frame holds the user's SS:RSP,
// RFLAGS, CS:RIP (the next instruction); the handler starts with IF, TF, NT
// and RF clear.
static void int80_from_user(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int80);
  run.rflags = FL_START;
  xrun(&run, &ev);
  expect_event(&ev, V_SYSCALL80, 0, ADDR(s_int80_next)) && expect_regs(&ev, &run.r, 0) && expect_frame(&ev, &run) &&
      expect_eq("frame rflags.RF", 0, ev.rflags & FL_RF) &&
      expect_eq("frame address (RSP0 - 40)", rsp0_top() - FRAME5, ev.frame_addr) &&
      expect_eq("handler ss (null)", 0, ev.handler_ss) && expect_eq("handler cs", KCS, ev.handler_cs) &&
      expect_eq("handler rflags & (IF|TF|NT|RF)", 0, ev.handler_rflags & (FL_IF | FL_TF | FL_NT | FL_RF));
}

// int n at CPL 3 through a DPL-0 gate: #GP with error code vector*8 + 2
// (IDT bit set, EXT clear for a software interrupt), RIP = the int itself.
static void int_dpl0_from_user(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int82);
  xrun(&run, &ev);
  expect_event(&ev, V_GP, V_DPL0 * 8 + 2, ADDR(s_int82)) && expect_regs(&ev, &run.r, 0) && expect_frame(&ev, &run) &&
      expect_eq("frame address (RSP0 - 40)", rsp0_top() - FRAME5, ev.frame_addr);
}

static void int_dpl0_from_kernel(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_int82);
  xrun(&run, &ev);
  expect_event(&ev, V_DPL0, 0, ADDR(s_int82_next)) && expect_regs(&ev, &run.r, 0) && expect_frame(&ev, &run);
}

// int3 is checked against the gate DPL like int n: #GP(3*8+2) at the int3.
static void int3_dpl0_from_user(void) {
  set_gate(V_BP, isr_address(V_BP), KCS, GATE_INT, 0, 0);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int3);
  xrun(&run, &ev);
  expect_event(&ev, V_GP, V_BP * 8 + 2, ADDR(s_int3)) && expect_regs(&ev, &run.r, 0);
}

// A processor exception ignores the gate DPL: #UD from CPL 3 through the
// DPL-0 gate 6 is delivered as #UD.
static void exception_ignores_dpl(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_ud2);
  xrun(&run, &ev);
  expect_event(&ev, V_UD, 0, ADDR(s_ud2)) && expect_frame(&ev, &run);
}

// ---- gate checks ---------------------------------------------------------------

static void gate_case(int cpl, const char* code, int vector, uint16_t sel, int type_attr, int dpl, uint64_t want_vec,
                      uint64_t want_err) {
  set_gate(vector, isr_address(vector), sel, type_attr, dpl, 0);
  struct run run;
  struct event ev;
  run_init(&run, cpl, code);
  xrun(&run, &ev);
  expect_event(&ev, want_vec, want_err, ADDR(code)) && expect_regs(&ev, &run.r, 0);
}
// Not present: #NP(vector*8+2), but at CPL 3 the DPL check comes first.
static void gate_np_cpl0(void) { gate_case(0, s_int41, 0x41, KCS, GATE_INT & 0x7f, 0, V_NP, 0x41 * 8 + 2); }
static void gate_np_cpl3(void) { gate_case(3, s_int41, 0x41, KCS, GATE_INT & 0x7f, 3, V_NP, 0x41 * 8 + 2); }
static void gate_np_dpl_first(void) { gate_case(3, s_int41, 0x41, KCS, GATE_INT & 0x7f, 0, V_GP, 0x41 * 8 + 2); }
// Types other than 64-bit interrupt (E) and trap (F) gates: #GP(vector*8+2).
static void gate_call_type(void) { gate_case(0, s_int41, 0x41, KCS, 0x8c, 0, V_GP, 0x41 * 8 + 2); }
static void gate_task_type(void) { gate_case(0, s_int41, 0x41, KCS, 0x85, 0, V_GP, 0x41 * 8 + 2); }
static void gate_int16_type(void) { gate_case(0, s_int41, 0x41, KCS, 0x86, 0, V_GP, 0x41 * 8 + 2); }
// The gate's code segment: null -> #GP(0); not code -> #GP(selector);
// beyond the GDT limit -> #GP(selector); not present -> #NP(selector); EXT
// is 0 for a software interrupt.
static void gate_null_cs(void) { gate_case(0, s_int41, 0x41, 0, GATE_INT, 0, V_GP, 0); }
static void gate_data_cs(void) { gate_case(0, s_int41, 0x41, KDS, GATE_INT, 0, V_GP, KDS); }
static void gate_cs_beyond(void) { gate_case(0, s_int41, 0x41, GDT_ENTRIES * 8, GATE_INT, 0, V_GP, GDT_ENTRIES * 8); }
static void gate_cs_np(void) { gate_case(0, s_int41, 0x41, NP_CODE_SEL, GATE_INT, 0, V_NP, NP_CODE_SEL); }
// A hardware exception through a not-present gate: #NP(vector*8+2+EXT) with
// EXT = 1 (the event being delivered was not a software interrupt); #UD is
// benign, #NP contributory: handled serially, RIP = the ud2.
static void gate_np_for_exception(void) { gate_case(0, s_ud2, V_UD, KCS, GATE_INT & 0x7f, 0, V_NP, V_UD * 8 + 2 + 1); }
static void gate_data_cs_for_exception(void) { gate_case(3, s_ud2, V_UD, KDS, GATE_INT, 0, V_GP, KDS + 1); }

// Beyond the IDT limit: #GP(vector*8+2); a gate that is only partly inside
// the limit is beyond it too.
static void idt_limit(uint64_t limit) {
  load_idtr(ADDR(g_idt), (uint16_t)limit);
  struct run run;
  struct event ev;
  run_init(&run, 0, s_int90);
  xrun(&run, &ev);
  expect_event(&ev, V_GP, 0x90 * 8 + 2, ADDR(s_int90));
}
static void idt_limit_below(void) { idt_limit(0x90 * 16 - 1); }
static void idt_limit_partial(void) { idt_limit(0x90 * 16 + 14); }

// ---- RFLAGS in the handler: interrupt vs trap gates ---------------------------

static void gate_flags(int type, uint64_t rflags, uint64_t mask, uint64_t want) {
  set_gate(0x44, isr_address(0x44), KCS, type, 0, 0);
  struct run run;
  struct event ev;
  run_init(&run, 0, s_int44);
  run.rflags = rflags;
  xrun(&run, &ev);
  expect_event(&ev, 0x44, 0, ADDR(s_int44_next)) && expect_eq("frame rflags", rflags, ev.rflags) &&
      expect_eq("handler rflags (masked)", want, ev.handler_rflags & mask);
}
// Interrupt gate: IF cleared. Trap gate: IF kept. Both clear NT (and TF, RF)
// and keep AC (delivery does not touch AC; CR0.AM = 0 so it is inert).
static void int_gate_clears_if(void) { gate_flags(GATE_INT, FL_FIXED | FL_IF, FL_IF, 0); }
static void trap_gate_keeps_if(void) { gate_flags(GATE_TRAP, FL_FIXED | FL_IF, FL_IF, FL_IF); }
static void gate_clears_nt_keeps_ac(void) {
  gate_flags(GATE_INT, FL_FIXED | FL_NT | FL_AC | FL_CF, FL_NT | FL_AC | FL_CF, FL_AC | FL_CF);
}
// int n with TF = 1: delivery clears TF; the frame keeps it; no single-step
// trap comes before the handler.
static void int_clears_tf(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_int44);
  run.rflags = FL_FIXED | FL_TF;
  xrun(&run, &ev);
  expect_event(&ev, 0x44, 0, ADDR(s_int44_next)) && expect_eq("frame rflags", FL_FIXED | FL_TF, ev.rflags) &&
      expect_eq("handler rflags.TF", 0, ev.handler_rflags & FL_TF) && expect_eq("events", 1, g_nlog);
}

// ---- stacks ---------------------------------------------------------------------

// RSP0 not 16-byte aligned: the new RSP is aligned down before the pushes.
static void rsp0_misaligned(void) {
  g_tss.rsp[0] = rsp0_top() - 8;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int80);
  xrun(&run, &ev);
  expect_vector(&ev, V_SYSCALL80) && expect_eq("frame address", rsp0_top() - 16 - FRAME5, ev.frame_addr) &&
      expect_frame(&ev, &run);
}

// No privilege change: the frame goes on the current stack, aligned down to
// 16 bytes, and still holds SS:RSP (the unaligned RSP).
static void same_level_alignment(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_int82);
  run.r.rsp = run_stack_top() - 8;
  xrun(&run, &ev);
  expect_vector(&ev, V_DPL0) && expect_eq("frame address", run_stack_top() - 16 - FRAME5, ev.frame_addr) &&
      expect_frame(&ev, &run) && expect_eq("handler ss", KDS, ev.handler_ss);
}

// A gate with an IST index: the frame lands on that IST stack, from CPL 0 or
// CPL 3, with or without an error code, aligned down to 16 bytes. SS becomes
// a null selector only with a privilege change: the INT n pseudocode (Intel
// SDM Vol. 2, INTRA-PRIVILEGE-LEVEL-INTERRUPT) and AMD's long-mode interrupt
// pseudocode take RSP from the IST without loading SS. (The prose of Intel
// SDM 6.14.5, "the new SS selector is forced to NULL", describes the
// privilege change.)
static void ist_case(int cpl, uint64_t ist_value, uint64_t want_frame) {
  set_gate(0x45, isr_address(0x45), KCS, GATE_INT, 3, IST_TEST);
  g_tss.ist[IST_TEST] = ist_value;
  struct run run;
  struct event ev;
  run_init(&run, cpl, s_int45);
  xrun(&run, &ev);
  expect_event(&ev, 0x45, 0, ADDR(s_int45_next)) && expect_frame(&ev, &run) &&
      expect_eq("frame address", want_frame, ev.frame_addr) &&
      expect_eq("handler ss", cpl == 3 ? 0 : KDS, ev.handler_ss);
}
static void ist_cpl0(void) { ist_case(0, ist_top(IST_TEST), ist_top(IST_TEST) - FRAME5); }
static void ist_cpl3(void) { ist_case(3, ist_top(IST_TEST), ist_top(IST_TEST) - FRAME5); }
static void ist_misaligned(void) { ist_case(0, ist_top(IST_TEST) - 4, ist_top(IST_TEST) - 16 - FRAME5); }
static void ist_other_slot(void) {
  set_gate(0x45, isr_address(0x45), KCS, GATE_INT, 3, IST_TEST2);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int45);
  xrun(&run, &ev);
  expect_vector(&ev, 0x45) && expect_eq("frame address", ist_top(IST_TEST2) - FRAME5, ev.frame_addr);
}
static void ist_with_error_code(void) {
  g_idt[V_UD].ist = IST_TEST;
  g_idt[V_GP].ist = IST_TEST;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int82);  // DPL-0 gate: #GP(0x412)
  xrun(&run, &ev);
  expect_event(&ev, V_GP, V_DPL0 * 8 + 2, ADDR(s_int82)) &&
      expect_eq("frame address", ist_top(IST_TEST) - FRAME5, ev.frame_addr) && expect_frame(&ev, &run);
}
SNIPPET(s_push_bad, "push %rax\n int $0x81");
// #SS through its IST (IST_SS by default) when the stack itself is bad.
static void ist_saves_bad_stack(void) {
  struct run run;
  struct event ev;
  all_exceptions_on_ist(IST_TEST);
  g_idt[V_SS].ist = IST_SS;
  run_init(&run, 0, s_push_bad);
  run.r.rsp = NONCANONICAL + 0x40;
  xrun(&run, &ev);
  expect_event(&ev, V_SS, 0, ADDR(s_push_bad)) && expect_eq("frame rsp", NONCANONICAL + 0x40, ev.rsp) &&
      expect_eq("frame address", ist_top(IST_SS) - FRAME5, ev.frame_addr);
}

// ---- nested delivery ---------------------------------------------------------------

SNIPPET(s_in_handler_ud, "s_in_handler_ud_at: ud2\n ret");
SNIPPET_LABEL(s_in_handler_ud_at);
static volatile int handler_went_on;
static volatile uint64_t nested_value;
static uint64_t nested_va;

// Vector 0x44's handler executes a ud2 (in a function, so the nested frame's
// RIP is known); the #UD handler at depth 2 skips it and resumes; the 0x44
// handler then goes on and ends the run.
static int nest_ud_hook(struct frame* f, const struct event* ev) {
  if (ev->vector == 0x44 && ev->depth == 1) {
    ((void (*)(void))(uintptr_t)s_in_handler_ud)();
    handler_went_on = 1;
    return HOOK_DECLINE;
  }
  if (ev->vector == V_UD && ev->depth == 2) {
    f->rip += 2;
    return HOOK_RESUME;
  }
  return HOOK_DECLINE;
}
static void nested_ud(int cpl) {
  set_gate(0x44, isr_address(0x44), KCS, GATE_INT, 3, 0);
  handler_went_on = 0;
  g_hook = nest_ud_hook;
  struct run run;
  struct event ev;
  run_init(&run, cpl, s_int44);
  xrun(&run, &ev);
  if (!expect_vector(&ev, 0x44) || !expect_eq("events", 2, g_nlog) || !expect_vector(&g_log[1], V_UD)) return;
  const struct event* in = &g_log[1];
  // The nested frame: CS = kernel, RIP = the ud2, SS = the handler's SS (null
  // after a switch from CPL 3, the kernel's otherwise), on the same stack
  // just below the outer frame.
  expect_eq("nested depth", 2, in->depth) && expect_eq("nested rip", ADDR(s_in_handler_ud_at), in->rip) &&
      expect_eq("nested cs", KCS, in->cs) && expect_eq("nested ss", cpl == 3 ? 0 : KDS, in->ss) &&
      expect_true("nested frame below the outer one", in->frame_addr < ev.frame_addr &&
                                                          in->frame_addr > ev.frame_addr - 8192) &&
      expect_eq("handler went on", 1, handler_went_on);
}
static void nested_ud_cpl0(void) { nested_ud(0); }
static void nested_ud_cpl3(void) { nested_ud(3); }

// A #PF inside a handler, fixed by the #PF handler (maps the page), after
// which the outer handler reads the value.
static int nest_pf_hook(struct frame* f, const struct event* ev) {
  (void)f;
  if (ev->vector == 0x44 && ev->depth == 1) {
    nested_value = *(volatile uint64_t*)(uintptr_t)(nested_va + 8);
    return HOOK_DECLINE;
  }
  if (ev->vector == V_PF && ev->depth == 2 && ev->cr2 == nested_va + 8) {
    uint64_t pa = alloc_frame();
    ((uint64_t*)(uintptr_t)pa)[1] = 0x1234abcd;
    map_page(g_kpml4, nested_va, pa, PTE_P | PTE_W);
    return HOOK_RESUME;
  }
  return HOOK_DECLINE;
}
static void nested_pf(void) {
  set_gate(0x44, isr_address(0x44), KCS, GATE_INT, 3, 0);
  nested_va = fresh_va();
  nested_value = 0;
  g_hook = nest_pf_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int44);
  xrun(&run, &ev);
  expect_vector(&ev, 0x44) && expect_eq("events", 2, g_nlog) && expect_vector(&g_log[1], V_PF) &&
      expect_eq("nested #PF error (supervisor read, not present)", 0, g_log[1].error) &&
      expect_eq("value read after the fix", 0x1234abcd, nested_value);
}

// ---- the IDT read through paging --------------------------------------------------

// The IDT seen through a virtual window whose second page is not mapped:
// IDTR.base = window + 0x800, gates 0..127 on the first page (a copy),
// gates 128..255 unmapped. int $0x80 from CPL 3 reads gate 0x80 at
// window + 0x1000: #PF, an implicit supervisor read (U/S = 0) of a
// not-present page: error 0, CR2 = the gate's address, RIP = the int.
static void idt_unmapped_gate(void) {
  uint64_t window = fresh_va();
  uint64_t pa = alloc_frame();
  memcpy((void*)(uintptr_t)(pa + 0x800), g_idt, 128 * sizeof(struct gate_desc));
  map_page(g_kpml4, window, pa, PTE_P | PTE_W);
  load_idtr(window + 0x800, sizeof g_idt - 1);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int80);
  xrun(&run, &ev);
  expect_event(&ev, V_PF, 0, ADDR(s_int80)) && expect_eq("cr2", window + 0x1000, ev.cr2) &&
      expect_regs(&ev, &run.r, 0) && expect_frame(&ev, &run);
}
// The same window, mapped: gates are read through it (a gate changed in the
// copy is the one used).
static void idt_virtual_alias(void) {
  uint64_t window = fresh_va();
  uint64_t pa = alloc_frame(), pb = alloc_frame();
  memcpy((void*)(uintptr_t)(pa + 0x800), g_idt, 128 * sizeof(struct gate_desc));
  memcpy((void*)(uintptr_t)pb, g_idt + 128, 128 * sizeof(struct gate_desc));
  map_page(g_kpml4, window, pa, PTE_P | PTE_W);
  map_page(g_kpml4, window + PAGE_SIZE, pb, PTE_P | PTE_W);
  // Gate 0x80 in the copy sends int $0x80 to vector 0x45's stub.
  struct gate_desc* g = (struct gate_desc*)(uintptr_t)(pb + 0 * 16);
  g->off_lo = (uint16_t)isr_address(0x45);
  g->off_mid = (uint16_t)(isr_address(0x45) >> 16);
  g->off_hi = (uint32_t)(isr_address(0x45) >> 32);
  load_idtr(window + 0x800, sizeof g_idt - 1);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int80);
  xrun(&run, &ev);
  expect_event(&ev, 0x45, 0, ADDR(s_int80_next));
}

// ---- #TS: the IST slot beyond the TSS limit ------------------------------------------

// TR loaded with a TSS descriptor (same base) whose limit ends before the
// IST slot the gate uses: int n at CPL 0 -> #TS(TSS selector), EXT = 0, RIP =
// the int. IST3 is at TSS offset 0x34..0x3b: limit 0x3a is one byte short,
// 0x3b is enough.
static void tss_limit(uint64_t limit) {
  set_gate(0x45, isr_address(0x45), KCS, GATE_INT, 0, IST_TEST);
  set_tss2_limit((uint32_t)limit);
  __asm__ volatile("ltr %w0" : : "r"((uint16_t)TSS2_SEL) : "memory");
  struct run run;
  struct event ev;
  run_init(&run, 0, s_int45);
  xrun(&run, &ev);
  if (limit < 0x3b)
    expect_event(&ev, V_TS, TSS2_SEL, ADDR(s_int45)) && expect_regs(&ev, &run.r, 0) && expect_frame(&ev, &run);
  else
    expect_event(&ev, 0x45, 0, ADDR(s_int45_next)) &&
        expect_eq("frame address", ist_top(IST_TEST) - FRAME5, ev.frame_addr);
}
static void ts_ist_beyond_limit(void) { tss_limit(0x3a); }
static void ts_ist_at_limit(void) { tss_limit(0x3b); }

// ---- iretq ------------------------------------------------------------------------------

// iretq to CPL 3 loads null into DS and ES when they hold DPL-0 data
// selectors (Intel SDM IRET: "FOR each of ES, FS, GS, DS: IF ... CPL >
// DPL THEN selector <- 0").
static void iret_nulls_data_segments(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_segs);
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_segs_end)) && expect_eq("ds", 0, ev.r.rax & 0xffff) &&
      expect_eq("es", 0, ev.r.rbx & 0xffff);
}
// ... and keeps a DPL-3 selector.
static void iret_keeps_user_data_segments(void) {
  uint16_t sel = UDS;
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(sel));
  struct run run;
  struct event ev;
  run_init(&run, 3, s_segs);
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_segs_end)) && expect_eq("ds", UDS, ev.r.rax & 0xffff) &&
      expect_eq("es", UDS, ev.r.rbx & 0xffff);
}

static void iret_case(int cpl, uint64_t ss, uint64_t rsp, uint64_t rflags, uint64_t cs, uint64_t rip, uint64_t want_vec,
                      uint64_t want_err) {
  struct run run;
  struct event ev;
  run_init(&run, cpl, s_iret);
  run.r.rax = ss;
  run.r.rcx = rsp;
  run.r.r8 = rflags;
  run.r.rdx = cs;
  run.r.rsi = rip;
  xrun(&run, &ev);
  if (want_vec == V_END) {
    expect_event(&ev, V_END, 0, ADDR(s_iret_target_at)) && expect_eq("cs", cs, ev.cs) && expect_eq("ss", ss, ev.ss) &&
        expect_eq("rsp", rsp, ev.rsp) && expect_eq("rflags", rflags, ev.rflags);
  } else {
    expect_event(&ev, want_vec, want_err, ADDR(s_iret_at)) && expect_eq("frame rsp", run.r.rsp - 40, ev.rsp);
  }
}
static void iret_same_level_user(void) {
  iret_case(3, UDS, user_stack_top() - 256, FL_FIXED | FL_CF, UCS, ADDR(s_iret_target), V_END, 0);
}
static void iret_kernel_to_user(void) {
  iret_case(0, UDS, user_stack_top() - 512, FL_FIXED | FL_ZF | FL_OF, UCS, ADDR(s_iret_target), V_END, 0);
}
static void iret_kernel_to_kernel_null_ss(void) {
  // 64-bit mode: iretq to CPL 0 may load a null SS.
  iret_case(0, 0, run_stack_top() - 512, FL_FIXED, KCS, ADDR(s_iret_target), V_END, 0);
}
static void iret_noncanonical_rip(void) {
  iret_case(0, KDS, run_stack_top() - 512, FL_FIXED, KCS, NONCANONICAL, V_GP, 0);
}
static void iret_ss_rpl_mismatch(void) {
  iret_case(0, KDS, user_stack_top() - 512, FL_FIXED, UCS, ADDR(s_iret_target), V_GP, KDS);
}
static void iret_cs_rpl3_dpl0(void) {
  iret_case(0, UDS, user_stack_top() - 512, FL_FIXED, KCS | 3, ADDR(s_iret_target), V_GP, KCS);
}
static void iret_null_ss_to_user(void) {
  iret_case(0, 0, user_stack_top() - 512, FL_FIXED, UCS, ADDR(s_iret_target), V_GP, 0);
}
// iretq with RFLAGS.NT = 1 in IA-32e mode: #GP(0).
static void iret_nt(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_iret_nt);
  run.r.rdi = FL_FIXED | FL_NT;
  run.r.rax = KDS;
  run.r.rcx = run_stack_top() - 512;
  run.r.r8 = FL_FIXED;
  run.r.rdx = KCS;
  run.r.rsi = ADDR(s_iret_target);
  xrun(&run, &ev);
  expect_event(&ev, V_GP, 0, ADDR(s_iret_nt_at)) && expect_eq("frame rflags.NT", FL_NT, ev.rflags & FL_NT);
}
// iretq at CPL 3 cannot set IOPL or IF (kept silently: RFLAGS image bits
// IOPL and IF are ignored when CPL > 0 / CPL > IOPL).
static void iret_user_cannot_raise_iopl(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_iret);
  run.r.rax = UDS;
  run.r.rcx = user_stack_top() - 256;
  run.r.r8 = FL_FIXED | FL_IOPL3 | FL_IF | FL_CF;
  run.r.rdx = UCS;
  run.r.rsi = ADDR(s_iret_target);
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_iret_target_at)) && expect_eq("rflags", FL_FIXED | FL_CF, ev.rflags);
}

static const struct kcase cases[] = {
    {"int.int80-from-user-dpl3-gate", int80_from_user},
    {"int.dpl0-gate-from-user-is-gp", int_dpl0_from_user},
    {"int.dpl0-gate-from-kernel", int_dpl0_from_kernel},
    {"int.int3-dpl0-gate-from-user-is-gp", int3_dpl0_from_user},
    {"int.exception-ignores-gate-dpl", exception_ignores_dpl},
    {"gate.not-present.cpl0", gate_np_cpl0},
    {"gate.not-present.cpl3", gate_np_cpl3},
    {"gate.not-present-dpl-checked-first.cpl3", gate_np_dpl_first},
    {"gate.call-gate-type", gate_call_type},
    {"gate.task-gate-type", gate_task_type},
    {"gate.16bit-interrupt-gate-type", gate_int16_type},
    {"gate.null-code-selector", gate_null_cs},
    {"gate.data-segment-as-code", gate_data_cs},
    {"gate.code-selector-beyond-gdt", gate_cs_beyond},
    {"gate.code-segment-not-present", gate_cs_np},
    {"gate.not-present-for-exception-ext-bit", gate_np_for_exception},
    {"gate.data-cs-for-exception-ext-bit.cpl3", gate_data_cs_for_exception},
    {"idt.vector-beyond-limit", idt_limit_below},
    {"idt.gate-partly-beyond-limit", idt_limit_partial},
    {"flags.interrupt-gate-clears-if", int_gate_clears_if},
    {"flags.trap-gate-keeps-if", trap_gate_keeps_if},
    {"flags.delivery-clears-nt-keeps-ac", gate_clears_nt_keeps_ac},
    {"flags.int-clears-tf-no-trap", int_clears_tf},
    {"stack.rsp0-aligned-down", rsp0_misaligned},
    {"stack.same-level-aligned-down", same_level_alignment},
    {"stack.ist.cpl0", ist_cpl0},
    {"stack.ist.cpl3", ist_cpl3},
    {"stack.ist-aligned-down", ist_misaligned},
    {"stack.ist-slot-4", ist_other_slot},
    {"stack.ist-with-error-code", ist_with_error_code},
    {"stack.ist-for-bad-stack", ist_saves_bad_stack},
    {"nested.ud-in-handler.cpl0", nested_ud_cpl0},
    {"nested.ud-in-handler.cpl3", nested_ud_cpl3},
    {"nested.pf-in-handler-fixed", nested_pf},
    {"idt.gate-on-unmapped-page", idt_unmapped_gate},
    {"idt.read-through-virtual-alias", idt_virtual_alias},
    {"ts.ist-beyond-tss-limit", ts_ist_beyond_limit},
    {"ts.ist-within-tss-limit", ts_ist_at_limit},
    {"iret.to-user-nulls-dpl0-ds-es", iret_nulls_data_segments},
    {"iret.to-user-keeps-dpl3-ds-es", iret_keeps_user_data_segments},
    {"iret.same-level.cpl3", iret_same_level_user},
    {"iret.kernel-to-user", iret_kernel_to_user},
    {"iret.kernel-null-ss.cpl0", iret_kernel_to_kernel_null_ss},
    {"iret.noncanonical-rip-is-gp", iret_noncanonical_rip},
    {"iret.ss-rpl-not-cs-rpl-is-gp", iret_ss_rpl_mismatch},
    {"iret.cs-rpl3-dpl0-is-gp", iret_cs_rpl3_dpl0},
    {"iret.null-ss-to-user-is-gp", iret_null_ss_to_user},
    {"iret.nt-set-is-gp", iret_nt},
    {"iret.user-cannot-set-iopl-or-if", iret_user_cannot_raise_iopl},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
