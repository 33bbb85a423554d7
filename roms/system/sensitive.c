// sensitive.c — instructions whose effect depends on CPL and IOPL, run at
// CPL 3 (and at CPL 0 where that is the point): what must fault with
// #GP(0), what must run, and what must silently keep the privileged state.
//
// Sources: Intel SDM Vol. 3A 2.8 (system instructions: LGDT, LIDT, LLDT, LTR,
// LMSW, CLTS, MOV CR/DR, INVD, WBINVD, INVLPG, HLT, RDMSR, WRMSR, RDPMC with
// CR4.PCE = 0, RDTSC with CR4.TSD = 1 are #GP(0) at CPL > 0; SGDT, SIDT, SLDT,
// SMSW, STR are allowed at CPL 3 unless CR4.UMIP = 1), Vol. 1 19.5-19.6
// (IN, OUT, INS, OUTS need CPL <= IOPL or the TSS I/O bitmap bits clear;
// CLI/STI need CPL <= IOPL), Vol. 2 POPF (at CPL > 0 IOPL is kept; at CPL >
// IOPL, IF is kept, no fault), SWAPGS (#GP(0) at CPL != 0), XSETBV, CPUID;
// AMD APM Vol. 2 and 3 likewise.
#include "ktest.h"

struct priv_case {
  const char* name;
  const char* code;
  int cpl;
  uint64_t rflags;      // 0: FL_FIXED
  uint64_t vector;      // V_GP or V_END (runs)
  void (*setup)(struct run*);
  uint32_t changed;     // GPRs the snippet changes when it runs (V_END)
};

static uint8_t mem[64] ALIGNED(16);

SNIPPET(s_cli, "cli\n int $0x81");
SNIPPET(s_sti, "sti\n int $0x81");
SNIPPET(s_hlt, "hlt\n int $0x81");
SNIPPET(s_rd_cr0, "mov %cr0, %rax\n int $0x81");
SNIPPET(s_rd_cr2, "mov %cr2, %rax\n int $0x81");
SNIPPET(s_rd_cr3, "mov %cr3, %rax\n int $0x81");
SNIPPET(s_rd_cr4, "mov %cr4, %rax\n int $0x81");
SNIPPET(s_rd_cr8, "mov %cr8, %rax\n int $0x81");
SNIPPET(s_wr_cr0, "mov %rax, %cr0\n int $0x81");
SNIPPET(s_wr_cr3, "mov %rax, %cr3\n int $0x81");
SNIPPET(s_rd_dr7, "mov %dr7, %rax\n int $0x81");
SNIPPET(s_wr_dr0, "mov %rax, %dr0\n int $0x81");
SNIPPET(s_lgdt, "lgdt (%rsi)\n int $0x81");
SNIPPET(s_lidt, "lidt (%rsi)\n int $0x81");
SNIPPET(s_lldt, "lldt %ax\n int $0x81");
SNIPPET(s_ltr, "ltr %ax\n int $0x81");
SNIPPET(s_lmsw, "lmsw %ax\n int $0x81");
SNIPPET(s_clts, "clts\n int $0x81");
SNIPPET(s_rdmsr, "rdmsr\n int $0x81");
SNIPPET(s_wrmsr, "wrmsr\n int $0x81");
SNIPPET(s_invlpg, "invlpg (%rsi)\n int $0x81");
SNIPPET(s_wbinvd, "wbinvd\n int $0x81");
SNIPPET(s_invd, "invd\n int $0x81");
SNIPPET(s_swapgs, "swapgs\n int $0x81");
SNIPPET(s_rdpmc, "rdpmc\n int $0x81");
SNIPPET(s_rdtsc, "rdtsc\n int $0x81");
SNIPPET(s_rdtscp, "rdtscp\n int $0x81");
SNIPPET(s_serialize, ".byte 0x0f, 0x01, 0xe8  /* serialize */\n int $0x81");
SNIPPET(s_lock_serialize, ".byte 0xf0, 0x0f, 0x01, 0xe8  /* lock serialize */\n int $0x81");
SNIPPET(s_xsetbv, "xsetbv\n int $0x81");
SNIPPET(s_in_imm, "in $0x80, %al\n int $0x81");
SNIPPET(s_out_imm, "out %al, $0x80\n int $0x81");
SNIPPET(s_in_dx, "in %dx, %al\n int $0x81");
SNIPPET(s_out_dx, "out %al, %dx\n int $0x81");
SNIPPET(s_out_dx16, "out %ax, %dx\n int $0x81");
SNIPPET(s_outsb, "outsb\n int $0x81");
SNIPPET(s_insb, "insb\n int $0x81");
SNIPPET(s_sgdt, "sgdt (%rsi)\n int $0x81");

#define IOPL3 (FL_FIXED | FL_IOPL3)

static void su_port80(struct run* r) { r->r.rdx = 0x80; r->r.rax = 0; }
static void su_port_lsr(struct run* r) { r->r.rdx = 0x3fd; }
static void su_mem(struct run* r) { r->r.rsi = ADDR(mem); r->r.rdi = ADDR(mem) + 32; r->r.rdx = 0x80; r->r.rcx = 1; }
static void su_cr0(struct run* r) { r->r.rax = g_default_cr0; }
static void su_cr3(struct run* r) { r->r.rax = read_cr3(); }
static void su_efer(struct run* r) { r->r.rcx = MSR_EFER; r->r.rax = (uint32_t)g_default_efer; r->r.rdx = g_default_efer >> 32; }
static void su_ltr(struct run* r) { r->r.rax = TSS_SEL; }
static void su_lmsw(struct run* r) { r->r.rax = g_default_cr0 & 0xffff; }
static void su_pmc(struct run* r) { r->r.rcx = 0; }
static void su_xcr0(struct run* r) { r->r.rcx = 0; r->r.rax = 7; r->r.rdx = 0; }
static void su_tsd(struct run* r) { (void)r; write_cr4(g_default_cr4 | CR4_TSD); }
// I/O bitmap: only port 0x80 allowed.
static void su_bitmap80(struct run* r) { g_tss.iomap[0x80 / 8] &= (uint8_t)~(1u << (0x80 % 8)); su_port80(r); }
static void su_bitmap80_81(struct run* r) { su_bitmap80(r); r->r.rdx = 0x81; }
static void su_bitmap80_beyond_limit(struct run* r) { su_bitmap80(r); g_tss.iomap_base = 0xffff; }

#define DX REG_BIT(rdx)
#define AX REG_BIT(rax)

static const struct priv_case kCases[] = {
    // CLI/STI: #GP(0) at CPL > IOPL; run with IOPL 3.
    {"iopl.cli-iopl0.cpl3", s_cli, 3, 0, V_GP, 0, 0},
    {"iopl.sti-iopl0.cpl3", s_sti, 3, 0, V_GP, 0, 0},
    {"iopl.cli-iopl3.cpl3", s_cli, 3, IOPL3 | FL_IF, V_END, 0, 0},
    {"iopl.sti-iopl3.cpl3", s_sti, 3, IOPL3, V_END, 0, 0},
    {"iopl.cli-iopl0.cpl0", s_cli, 0, FL_FIXED | FL_IF, V_END, 0, 0},
    // IN/OUT/INS/OUTS: #GP(0) at CPL > IOPL unless the TSS bitmap allows
    // every port of the access; IOPL 3 runs them.
    {"io.in-imm-iopl0.cpl3", s_in_imm, 3, 0, V_GP, 0, 0},
    {"io.out-imm-iopl0.cpl3", s_out_imm, 3, 0, V_GP, 0, 0},
    {"io.in-dx-iopl0.cpl3", s_in_dx, 3, 0, V_GP, su_port_lsr, 0},
    {"io.out-dx-iopl0.cpl3", s_out_dx, 3, 0, V_GP, su_port80, 0},
    {"io.outsb-iopl0.cpl3", s_outsb, 3, 0, V_GP, su_mem, 0},
    {"io.insb-iopl0.cpl3", s_insb, 3, 0, V_GP, su_mem, 0},
    {"io.in-dx-iopl3.cpl3", s_in_dx, 3, IOPL3, V_END, su_port_lsr, AX},
    {"io.out-imm-iopl3.cpl3", s_out_imm, 3, IOPL3, V_END, su_port80, 0},
    {"io.outsb-iopl3.cpl3", s_outsb, 3, IOPL3, V_END, su_mem, REG_BIT(rsi)},
    {"io.in-out-iopl0.cpl0", s_out_dx, 0, 0, V_END, su_port80, 0},
    {"io.bitmap-allows-port.cpl3", s_out_dx, 3, 0, V_END, su_bitmap80, 0},
    {"io.bitmap-denies-next-port.cpl3", s_out_dx, 3, 0, V_GP, su_bitmap80_81, 0},
    {"io.bitmap-16bit-access-needs-both-ports.cpl3", s_out_dx16, 3, 0, V_GP, su_bitmap80, 0},
    {"io.bitmap-beyond-tss-limit-denies.cpl3", s_out_dx, 3, 0, V_GP, su_bitmap80_beyond_limit, 0},
    // System instructions: #GP(0) at CPL 3.
    {"sys.hlt.cpl3", s_hlt, 3, 0, V_GP, 0, 0},
    {"sys.mov-from-cr0.cpl3", s_rd_cr0, 3, 0, V_GP, 0, 0},
    {"sys.mov-from-cr2.cpl3", s_rd_cr2, 3, 0, V_GP, 0, 0},
    {"sys.mov-from-cr3.cpl3", s_rd_cr3, 3, 0, V_GP, 0, 0},
    {"sys.mov-from-cr4.cpl3", s_rd_cr4, 3, 0, V_GP, 0, 0},
    {"sys.mov-from-cr8.cpl3", s_rd_cr8, 3, 0, V_GP, 0, 0},
    {"sys.mov-to-cr0.cpl3", s_wr_cr0, 3, 0, V_GP, su_cr0, 0},
    {"sys.mov-to-cr3.cpl3", s_wr_cr3, 3, 0, V_GP, su_cr3, 0},
    {"sys.mov-from-dr7.cpl3", s_rd_dr7, 3, 0, V_GP, 0, 0},
    {"sys.mov-to-dr0.cpl3", s_wr_dr0, 3, 0, V_GP, 0, 0},
    {"sys.lgdt.cpl3", s_lgdt, 3, 0, V_GP, su_mem, 0},
    {"sys.lidt.cpl3", s_lidt, 3, 0, V_GP, su_mem, 0},
    {"sys.lldt.cpl3", s_lldt, 3, 0, V_GP, 0, 0},
    {"sys.ltr.cpl3", s_ltr, 3, 0, V_GP, su_ltr, 0},
    {"sys.lmsw.cpl3", s_lmsw, 3, 0, V_GP, su_lmsw, 0},
    {"sys.clts.cpl3", s_clts, 3, 0, V_GP, 0, 0},
    {"sys.rdmsr.cpl3", s_rdmsr, 3, 0, V_GP, su_efer, 0},
    {"sys.wrmsr.cpl3", s_wrmsr, 3, 0, V_GP, su_efer, 0},
    {"sys.invlpg.cpl3", s_invlpg, 3, 0, V_GP, su_mem, 0},
    {"sys.wbinvd.cpl3", s_wbinvd, 3, 0, V_GP, 0, 0},
    {"sys.invd.cpl3", s_invd, 3, 0, V_GP, 0, 0},
    {"sys.swapgs.cpl3", s_swapgs, 3, 0, V_GP, 0, 0},
    {"sys.rdpmc-without-pce.cpl3", s_rdpmc, 3, 0, V_GP, su_pmc, 0},
    {"sys.xsetbv.cpl3", s_xsetbv, 3, 0, V_GP, su_xcr0, 0},
    // RDTSC: allowed at CPL 3 when CR4.TSD = 0; #GP(0) when TSD = 1 (only
    // at CPL > 0).
    {"tsc.rdtsc-tsd0.cpl3", s_rdtsc, 3, 0, V_END, 0, AX | DX},
    {"tsc.rdtsc-tsd1.cpl3", s_rdtsc, 3, 0, V_GP, su_tsd, 0},
    {"tsc.rdtsc-tsd1.cpl0", s_rdtsc, 0, 0, V_END, su_tsd, AX | DX},
    // System instructions that are fine at CPL 0 (sanity for the above).
    {"sys.wbinvd.cpl0", s_wbinvd, 0, 0, V_END, 0, 0},
    {"sys.rdmsr-efer.cpl0", s_rdmsr, 0, 0, V_END, su_efer, AX | DX},
};

static void priv_case(uint64_t i) {
  const struct priv_case* c = &kCases[i];
  struct run run;
  struct event ev;
  run_init(&run, c->cpl, c->code);
  run.rflags = c->rflags ? c->rflags : FL_FIXED;
  if (c->setup) c->setup(&run);
  xrun(&run, &ev);
  if (c->vector == V_GP) {
    expect_event(&ev, V_GP, 0, ADDR(c->code)) && expect_regs(&ev, &run.r, 0) && expect_eq("frame cs", run.cs, ev.cs) &&
        expect_eq("frame rflags", run.rflags, ev.rflags & ~(uint64_t)FL_RF);
  } else {
    expect_vector(&ev, V_END) && expect_regs(&ev, &run.r, c->changed) && expect_eq("frame cs", run.cs, ev.cs);
  }
}

// ---- CLI/STI/POPF/PUSHF and IF, IOPL ----------------------------------------------------------

// pushfq; popfq of a value; pushfq: rax = the image before, rbx = after.
SNIPPET(s_popf, "pushfq\n popq %rax\n pushq %rdx\n popfq\n pushfq\n popq %rbx\n int $0x81");
static void popf_case(int cpl, uint64_t start, uint64_t value, uint64_t want) {
  struct run run;
  struct event ev;
  run_init(&run, cpl, s_popf);
  run.rflags = start;
  run.r.rdx = value;
  xrun(&run, &ev);
  // RF and VM read as 0 in a pushed image.
  expect_vector(&ev, V_END) && expect_eq("pushf before", start, ev.r.rax) && expect_eq("after popf", want, ev.r.rbx);
}
#define ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
// CPL 3, IOPL 0: IF and IOPL are kept (no fault); the other flags change.
static void popf_keeps_if_set(void) { popf_case(3, FL_FIXED | FL_IF, FL_FIXED | ARITH | FL_DF | FL_AC, FL_FIXED | FL_IF | ARITH | FL_DF | FL_AC); }
static void popf_keeps_if_clear(void) { popf_case(3, FL_FIXED, FL_FIXED | FL_IF | FL_IOPL3 | FL_CF, FL_FIXED | FL_CF); }
// CPL 3, IOPL 3: IF changes, IOPL is still kept.
static void popf_iopl3_if(void) { popf_case(3, IOPL3, FL_FIXED | FL_IF | FL_ZF, IOPL3 | FL_IF | FL_ZF); }
static void popf_iopl3_keeps_iopl(void) { popf_case(3, IOPL3 | FL_IF, FL_FIXED, FL_FIXED | FL_IOPL3); }
// CPL 0: IF and IOPL both change.
static void popf_cpl0(void) { popf_case(0, FL_FIXED, FL_FIXED | FL_IOPL3 | FL_CF, FL_FIXED | FL_IOPL3 | FL_CF); }
// The common cases: only IF (at CPL 0) and the arithmetic flags and DF change.
static void popf_cpl0_sets_if(void) {
  popf_case(0, FL_FIXED, FL_FIXED | FL_IF | ARITH | FL_DF, FL_FIXED | FL_IF | ARITH | FL_DF);
}
static void popf_cpl0_clears_if(void) { popf_case(0, FL_FIXED | FL_IF | FL_CF, FL_FIXED | FL_ZF, FL_FIXED | FL_ZF); }
static void popf_user_arith(void) {
  popf_case(3, FL_FIXED | FL_IF, FL_FIXED | FL_IF | FL_SF | FL_PF | FL_DF, FL_FIXED | FL_IF | FL_SF | FL_PF | FL_DF);
}

// cli/sti at CPL 3 with IOPL 3 really change IF.
SNIPPET(s_cli_sti, "cli\n pushfq\n popq %rax\n sti\n pushfq\n popq %rbx\n int $0x81");
static void cli_sti_change_if(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_cli_sti);
  run.rflags = IOPL3 | FL_IF;
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("IF after cli", 0, ev.r.rax & FL_IF) && expect_eq("IF after sti", FL_IF, ev.r.rbx & FL_IF) &&
      expect_eq("frame IF", FL_IF, ev.rflags & FL_IF);
}

// Ring 1: cli/sti need CPL <= IOPL there too. s_cli ran at CPL 0 before
// (iopl.cli-iopl0.cpl0), so a translation that skipped the check for every
// CPL below 3 would be reused here.
#define RING1_CODE_SEL (13 << 3)
static void ring1_case(const char* code, uint64_t rflags, uint64_t vector) {
  g_gdt[RING1_CODE_SEL >> 3] = 0x00afba000000ffffull;  // P, DPL 1, code, L
  struct run run;
  struct event ev;
  run_init(&run, 0, code);
  run.cs = RING1_CODE_SEL | 1;
  run.ss = 1;  // a null SS with RPL 1: allowed below CPL 3 in 64-bit mode
  run.rflags = rflags;
  xrun(&run, &ev);
  expect_event(&ev, vector, 0, vector == V_END ? ADDR(code) + 3 : ADDR(code)) &&
      expect_eq("frame cs", RING1_CODE_SEL | 1, ev.cs) && expect_regs(&ev, &run.r, 0);
}
static void cli_iopl0_ring1(void) { ring1_case(s_cli, FL_FIXED | FL_IF, V_GP); }
static void sti_iopl0_ring1(void) { ring1_case(s_sti, FL_FIXED, V_GP); }
static void cli_iopl1_ring1(void) { ring1_case(s_cli, FL_FIXED | FL_IF | (1 << 12), V_END); }
// mov from CR2 needs CPL 0 (SDM MOV--Move to/from Control Registers).
static void rd_cr2_ring1(void) { ring1_case(s_rd_cr2, FL_FIXED, V_GP); }

// ---- allowed at CPL 3 and what they return ---------------------------------------------------

struct __attribute__((packed)) dtr {
  uint16_t limit;
  uint64_t base;
};
static struct dtr user_gdtr, user_idtr;
static uint16_t user_tr, user_ldtr;
static uint64_t user_msw;
static uint64_t user_store_tables(uint64_t unused) {
  (void)unused;
  __asm__ volatile("sgdt %0\n sidt %1\n str %2\n sldt %3" : "=m"(user_gdtr), "=m"(user_idtr), "=m"(user_tr), "=m"(user_ldtr));
  uint64_t msw;
  __asm__ volatile("smsw %0" : "=r"(msw));
  user_msw = msw;
  return 1;
}
static void store_tables_user(void) {
  struct event ev;
  xrun_fn(3, user_store_tables, 0, 0, &ev);
  expect_vector(&ev, V_END) && expect_eq("sgdt limit", sizeof g_gdt - 1, user_gdtr.limit) &&
      expect_eq("sgdt base", ADDR(g_gdt), user_gdtr.base) && expect_eq("sidt limit", sizeof g_idt - 1, user_idtr.limit) &&
      expect_eq("sidt base", ADDR(g_idt), user_idtr.base) && expect_eq("str", TSS_SEL, user_tr) &&
      expect_eq("sldt", 0, user_ldtr) && expect_eq("smsw (low 16 bits of CR0)", g_default_cr0 & 0xffff, user_msw & 0xffff);
}
SNIPPET(s_set_cr4, "mov %rax, %cr4\n int $0x81");
// CR4.UMIP = 1 makes them #GP(0) at CPL 3; where UMIP is not supported,
// setting the bit is itself #GP(0).
static void umip(void) {
  uint32_t a, b, c, d;
  cpuid(7, 0, &a, &b, &c, &d);
  struct run run;
  struct event ev;
  if (!(c & (1u << 2))) {
    run_init(&run, 0, s_set_cr4);
    run.r.rax = g_default_cr4 | CR4_UMIP;
    xrun(&run, &ev);
    expect_event(&ev, V_GP, 0, ADDR(s_set_cr4));
    return;
  }
  write_cr4(g_default_cr4 | CR4_UMIP);
  run_init(&run, 3, s_sgdt);
  run.r.rsi = ADDR(mem);
  xrun(&run, &ev);
  expect_event(&ev, V_GP, 0, ADDR(s_sgdt));
}

// rdtsc at CPL 3 advances and agrees with CPL 0's.
static void rdtsc_user(void) {
  uint64_t t0 = guest_rdtsc();
  struct run run;
  struct event ev;
  run_init(&run, 3, s_rdtsc);
  xrun(&run, &ev);
  uint64_t t1 = guest_rdtsc();
  uint64_t t = (ev.r.rdx << 32) | (ev.r.rax & 0xffffffff);
  expect_vector(&ev, V_END) && expect_true("kernel tsc <= user tsc <= kernel tsc", t0 <= t && t <= t1);
}
static void rdtscp_user(void) {
  uint32_t a, b, c, d;
  cpuid(0x80000001u, 0, &a, &b, &c, &d);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_rdtscp);
  xrun(&run, &ev);
  if (!(d & (1u << 27))) {
    expect_event(&ev, V_UD, 0, ADDR(s_rdtscp));  // not supported: #UD
    return;
  }
  wrmsr(0xc0000103u, 0x1234);  // TSC_AUX (read by the next run)
  run_init(&run, 3, s_rdtscp);
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("ecx = TSC_AUX", 0x1234, ev.r.rcx & 0xffffffff);
}
static void rdtscp_tsd(void) {
  uint32_t a, b, c, d;
  cpuid(0x80000001u, 0, &a, &b, &c, &d);
  write_cr4(g_default_cr4 | CR4_TSD);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_rdtscp);
  xrun(&run, &ev);
  expect_event(&ev, (d & (1u << 27)) ? V_GP : V_UD, 0, ADDR(s_rdtscp));
}

// serialize (CPUID.7.0:EDX[14]) runs at any CPL and changes no register or
// flag; where it is not reported it is #UD. With a lock prefix it is #UD.
static void serialize_user(void) {
  uint32_t a, b, c, d;
  cpuid(7, 0, &a, &b, &c, &d);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_serialize);
  run.rflags = 0x2 | 0x8d5;  // every arithmetic flag set: none may change
  xrun(&run, &ev);
  if (!(d & (1u << 14))) {
    expect_event(&ev, V_UD, 0, ADDR(s_serialize));
    return;
  }
  if (!(expect_vector(&ev, V_END) && expect_regs(&ev, &run.r, 0) &&
        expect_eq("arithmetic flags", 0x8d5, ev.rflags & 0x8d5)))
    return;
  run_init(&run, 3, s_lock_serialize);
  xrun(&run, &ev);
  expect_event(&ev, V_UD, 0, ADDR(s_lock_serialize));
}

// cpuid at CPL 3 gives what it gives at CPL 0 (leaves 0, 1, 7, 0x80000001).
static uint32_t user_cpuid_out[16];
static uint64_t user_cpuid(uint64_t unused) {
  (void)unused;
  static const uint32_t leaves[4] = {0, 1, 7, 0x80000001u};
  for (int i = 0; i < 4; i++)
    cpuid(leaves[i], 0, &user_cpuid_out[i * 4], &user_cpuid_out[i * 4 + 1], &user_cpuid_out[i * 4 + 2],
          &user_cpuid_out[i * 4 + 3]);
  return 0;
}
static void cpuid_user(void) {
  struct event ev;
  xrun_fn(3, user_cpuid, 0, 0, &ev);
  if (!expect_vector(&ev, V_END)) return;
  static const uint32_t leaves[4] = {0, 1, 7, 0x80000001u};
  for (int i = 0; i < 4; i++) {
    uint32_t r[4];
    cpuid(leaves[i], 0, &r[0], &r[1], &r[2], &r[3]);
    for (int j = 0; j < 4; j++)
      if (!expect_eq("cpuid register at CPL 3", r[j], user_cpuid_out[i * 4 + j])) return;
  }
}

// xgetbv at CPL 3: XCR0 (x87, SSE and AVX enabled in the machine contract).
SNIPPET(s_xgetbv, "xgetbv\n int $0x81");
static void xgetbv_user(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_xgetbv);
  run.r.rcx = 0;
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("XCR0 & 7", 7, ev.r.rax & 7);
}

// LAR, LSL, VERR, VERW at CPL 3: they check DPL against CPL and RPL and
// report through ZF (no fault).
SNIPPET(s_lar, "lar %ax, %rbx\n setz %cl\n int $0x81");
SNIPPET(s_lsl, "lsl %ax, %ebx\n setz %cl\n int $0x81");
SNIPPET(s_verr, "verr %ax\n setz %cl\n int $0x81");
SNIPPET(s_verw, "verw %ax\n setz %cl\n int $0x81");
static void seg_check(const char* code, uint64_t sel, uint64_t want_zf, uint64_t want_rbx, uint64_t rbx_mask) {
  struct run run;
  struct event ev;
  run_init(&run, 3, code);
  run.r.rax = sel;
  run.r.rcx = 0;
  run.r.rbx = 0;
  xrun(&run, &ev);
  if (!expect_vector(&ev, V_END) || !expect_eq("ZF", want_zf, ev.r.rcx & 0xff)) return;
  if (want_zf) expect_eq("result", want_rbx, ev.r.rbx & rbx_mask);
}
// lar of the user code selector: access rights bytes (type FB = present,
// DPL 3, code, readable, accessed... the A bit depends on use) in bits 15:8.
static void lar_user_code(void) { seg_check(s_lar, UCS, 1, 0xf800, 0xf800); }
static void lar_kernel_code(void) { seg_check(s_lar, KCS | 3, 0, 0, 0); }  // DPL 0 < CPL 3
static void lsl_user_data(void) { seg_check(s_lsl, UDS, 1, 0xffffffff, 0xffffffff); }
static void lsl_kernel_data(void) { seg_check(s_lsl, KDS | 3, 0, 0, 0); }
static void verr_user_data(void) { seg_check(s_verr, UDS, 1, 0, 0); }
static void verr_kernel_data(void) { seg_check(s_verr, KDS | 3, 0, 0, 0); }
static void verw_user_data(void) { seg_check(s_verw, UDS, 1, 0, 0); }
static void verw_user_code(void) { seg_check(s_verw, UCS, 0, 0, 0); }  // code is never writable

int main(void) {
  ktest_init();
  for (uint64_t i = 0; i < ARRAY_SIZE(kCases); i++) run_case_arg(kCases[i].name, priv_case, i);
  static const struct kcase more[] = {
      {"popf.keeps-if-set-iopl0.cpl3", popf_keeps_if_set},
      {"popf.keeps-if-clear-and-iopl-iopl0.cpl3", popf_keeps_if_clear},
      {"popf.changes-if-iopl3.cpl3", popf_iopl3_if},
      {"popf.keeps-iopl-iopl3.cpl3", popf_iopl3_keeps_iopl},
      {"popf.changes-if-and-iopl.cpl0", popf_cpl0},
      {"popf.sets-if-and-arith.cpl0", popf_cpl0_sets_if},
      {"popf.clears-if-and-arith.cpl0", popf_cpl0_clears_if},
      {"popf.changes-arith-and-df.cpl3", popf_user_arith},
      {"iopl.cli-sti-change-if-iopl3.cpl3", cli_sti_change_if},
      {"iopl.cli-iopl0.cpl1", cli_iopl0_ring1},
      {"iopl.sti-iopl0.cpl1", sti_iopl0_ring1},
      {"iopl.cli-iopl1.cpl1", cli_iopl1_ring1},
      {"sys.mov-from-cr2.cpl1", rd_cr2_ring1},
      {"umip.sgdt-sidt-str-sldt-smsw-allowed.cpl3", store_tables_user},
      {"umip.set-is-gp-at-cpl3-or-unsupported", umip},
      {"tsc.rdtsc-between-kernel-reads.cpl3", rdtsc_user},
      {"tsc.rdtscp-tsc-aux.cpl3", rdtscp_user},
      {"tsc.rdtscp-tsd1.cpl3", rdtscp_tsd},
      {"cpuid.same-at-cpl3", cpuid_user},
      {"serialize.no-state-change.cpl3", serialize_user},
      {"xgetbv.allowed.cpl3", xgetbv_user},
      {"seg.lar-user-code.cpl3", lar_user_code},
      {"seg.lar-kernel-code-fails.cpl3", lar_kernel_code},
      {"seg.lsl-user-data.cpl3", lsl_user_data},
      {"seg.lsl-kernel-data-fails.cpl3", lsl_kernel_data},
      {"seg.verr-user-data.cpl3", verr_user_data},
      {"seg.verr-kernel-data-fails.cpl3", verr_kernel_data},
      {"seg.verw-user-data.cpl3", verw_user_data},
      {"seg.verw-code-fails.cpl3", verw_user_code},
  };
  for (uint64_t i = 0; i < ARRAY_SIZE(more); i++) run_case(more[i].name, more[i].fn);
  return cases_finish();
}
