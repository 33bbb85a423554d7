// syscall.c — syscall/sysret round trips and the other ways between CPL 3
// and CPL 0 (int $0x80 + iretq), swapgs.
//
// SYSCALL (Intel SDM Vol. 2B; AMD APM Vol. 3): RCX <- RIP of the next
// instruction, R11 <- RFLAGS, RFLAGS <- RFLAGS & ~IA32_FMASK (RF cleared),
// CS <- STAR[47:32] & 0xfffc, SS <- STAR[47:32] + 8, CPL 0; RSP unchanged;
// descriptors are fixed values, the GDT is not read.
// SYSRET (64-bit): RIP <- RCX, RFLAGS <- (R11 & 0x3c7fd7) | 2,
// CS <- (STAR[63:48] + 16) | 3, SS <- (STAR[63:48] + 8) | 3, CPL 3; the other
// segment registers are left alone (unlike IRET to an outer level).
//
// The kernel's STAR: syscall CS 0x08 / SS 0x10, sysret SS 0x1b / CS 0x23;
// SFMASK = TF | DF | IF | IOPL | NT | AC (what Linux uses).
#include "ktest.h"

// User flags for the round trips: arithmetic flags, DF, IF, IOPL 3, NT, AC
// (AC is inert with CR0.AM = 0). iretq at CPL 0 can set them all.
#define USER_FLAGS                                                                                          \
  (FL_FIXED | FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_DF | FL_OF | FL_IF | FL_IOPL3 | FL_NT | FL_AC)
#define KERNEL_SFMASK (FL_TF | FL_DF | FL_IF | FL_IOPL3 | FL_AC | FL_NT)
#define SYSRET_R11_MASK 0x3c7fd7ull

SNIPPET(s_syscall, "syscall\n s_syscall_next: int $0x81\n s_syscall_end:");
SNIPPET_LABEL(s_syscall_next);
SNIPPET_LABEL(s_syscall_end);
// The segment registers as the user sees them after the syscall returns.
SNIPPET(s_syscall_segs, "syscall\n xor %eax, %eax\n xor %ebx, %ebx\n mov %ds, %ax\n mov %ss, %bx\n int $0x81");
SNIPPET(s_int80_segs, "int $0x80\n xor %eax, %eax\n xor %ebx, %ebx\n mov %ds, %ax\n mov %ss, %bx\n int $0x81");
// 1000 round trips, each adding 1 to rax in the kernel; odd ones by syscall,
// even ones by int $0x80.
SNIPPET(s_loop,
        "xor %eax, %eax\n mov $500, %ebx\n"
        "1: syscall\n int $0x80\n dec %ebx\n jnz 1b\n int $0x81");

static int sysret_hook(struct frame* f, const struct event* ev) {
  (void)f;
  return ev->vector == V_SYSCALL ? HOOK_SYSRET : HOOK_DECLINE;
}

static void syscall_entry_state(uint64_t sfmask, uint64_t user_flags) {
  wrmsr(MSR_SFMASK, sfmask);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  run.rflags = user_flags;
  xrun(&run, &ev);
  if (!expect_event(&ev, V_SYSCALL, 0, ADDR(s_syscall_next))) return;
  expect_eq("rcx (next rip)", ADDR(s_syscall_next), ev.r.rcx) && expect_eq("r11 (rflags)", user_flags, ev.r.r11) &&
      expect_regs(&ev, &run.r, REG_BIT(rcx) | REG_BIT(r11)) &&
      expect_eq("kernel rflags", (user_flags & ~sfmask) | FL_FIXED, ev.handler_rflags) &&
      expect_eq("kernel cs", KCS, ev.handler_cs) && expect_eq("kernel ss", KDS, ev.handler_ss);
}
static void entry_linux_mask(void) { syscall_entry_state(KERNEL_SFMASK, USER_FLAGS); }
static void entry_no_mask(void) { syscall_entry_state(0, USER_FLAGS); }
static void entry_all_mask(void) { syscall_entry_state(0x3f7fd5, USER_FLAGS); }
static void entry_arith_mask(void) { syscall_entry_state(FL_CF | FL_ZF | FL_OF, USER_FLAGS); }
static void entry_plain_flags(void) { syscall_entry_state(KERNEL_SFMASK, FL_FIXED | FL_SF); }

// syscall at CPL 0 works the same way (only sysret needs CPL 0).
static void syscall_from_kernel(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_syscall);
  run.rflags = FL_FIXED | FL_CF | FL_AC;
  xrun(&run, &ev);
  expect_event(&ev, V_SYSCALL, 0, ADDR(s_syscall_next)) && expect_eq("rcx", ADDR(s_syscall_next), ev.r.rcx) &&
      expect_eq("r11", FL_FIXED | FL_CF | FL_AC, ev.r.r11) && expect_eq("kernel rflags", FL_FIXED | FL_CF, ev.handler_rflags) &&
      expect_eq("kernel cs", KCS, ev.handler_cs) && expect_eq("rsp unchanged", run.r.rsp, ev.rsp);
}

// STAR[47:32] with RPL bits: CS gets them masked off, SS does not (SS is
// STAR[47:32] + 8 as is).
static void syscall_star_rpl(void) {
  wrmsr(MSR_STAR, ((uint64_t)KDS << 48) | ((uint64_t)(KCS | 3) << 32));
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  xrun(&run, &ev);
  expect_vector(&ev, V_SYSCALL) && expect_eq("kernel cs", KCS, ev.handler_cs) &&
      expect_eq("kernel ss", (KCS | 3) + 8, ev.handler_ss);
}

// The round trip: sysret to the instruction after the syscall, user
// selectors, RFLAGS from R11, every other GPR as before.
static void round_trip(void) {
  g_hook = sysret_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  run.rflags = USER_FLAGS;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_syscall_end)) && expect_eq("cs", UCS, ev.cs) && expect_eq("ss", UDS, ev.ss) &&
      expect_eq("rflags", USER_FLAGS, ev.rflags) && expect_eq("rsp", run.r.rsp, ev.rsp) &&
      expect_eq("rcx", ADDR(s_syscall_next), ev.r.rcx) && expect_eq("r11", USER_FLAGS, ev.r.r11) &&
      expect_regs(&ev, &run.r, REG_BIT(rcx) | REG_BIT(r11)) && expect_eq("events", 2, g_nlog) &&
      expect_eq("kernel cs", KCS, g_log[0].handler_cs);
}

// sysret takes RFLAGS from R11 masked with 0x3c7fd7, bit 1 set: RF (16) and
// VM (17) and the reserved bits never reach RFLAGS.
static uint64_t r11_for_sysret;
static int r11_hook(struct frame* f, const struct event* ev) {
  if (ev->vector != V_SYSCALL) return HOOK_DECLINE;
  f->rflags = r11_for_sysret;  // the stub loads it into r11
  return HOOK_SYSRET;
}
static void sysret_r11(uint64_t r11) {
  r11_for_sysret = r11;
  g_hook = r11_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_syscall_end)) &&
      expect_eq("rflags after sysret", (r11 & SYSRET_R11_MASK) | FL_FIXED, ev.rflags) && expect_eq("r11", r11, ev.r.r11);
}
static void sysret_r11_all_but_tf(void) { sysret_r11(~0ull & ~(uint64_t)FL_TF); }
static void sysret_r11_zero(void) { sysret_r11(0); }
static void sysret_r11_rf_vm(void) { sysret_r11(FL_RF | FL_VM | FL_CF); }
static void sysret_r11_iopl_if(void) { sysret_r11(FL_IOPL3 | FL_IF | FL_ZF | FL_FIXED); }
// A TF that sysret loads traps at once, before the first user instruction
// runs (Linux's entry code returns through iret for that reason: "restoring
// TF results in a trap from userspace immediately after SYSRET").
static void sysret_r11_tf(void) {
  r11_for_sysret = FL_TF | FL_CF | FL_FIXED;
  g_hook = r11_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  xrun(&run, &ev);
  expect_event(&ev, V_DB, 0, ADDR(s_syscall_next)) && expect_eq("frame cs", UCS, ev.cs) &&
      expect_eq("frame rflags", FL_TF | FL_CF | FL_FIXED, ev.rflags & ~(uint64_t)FL_RF);
}

// Alignment checking (CR0.AM with RFLAGS.AC) applies at CPL 3 only: a
// syscall from user code that had it on enters a kernel where a misaligned
// load just works (SFMASK clears AC anyway). The kernel entry here defines
// every arithmetic flag before it loads (cmp), so nothing of the user's
// RFLAGS is reloaded on the way in.
static uint64_t misaligned_word[2] ALIGNED(16);
SNIPPET(s_lstar_misaligned, "cmp %eax, %eax\n mov 1(%rsi), %rax\n int $0x81\n s_lstar_misaligned_end:");
SNIPPET_LABEL(s_lstar_misaligned_end);
static void syscall_leaves_alignment_checks(void) {
  wrmsr(MSR_LSTAR, ADDR(s_lstar_misaligned));
  write_cr0(g_default_cr0 | CR0_AM);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  run.rflags = FL_FIXED | FL_AC;
  run.r.rsi = ADDR(misaligned_word);
  // Twice: the second syscall finds its way to LSTAR already known.
  for (int i = 0; i < 2 && !case_failed(); i++) {
    xrun(&run, &ev);
    expect_event(&ev, V_END, 0, ADDR(s_lstar_misaligned_end)) && expect_eq("cs", KCS, ev.cs) &&
        expect_eq("r11 (user RFLAGS)", FL_FIXED | FL_AC, ev.r.r11);
  }
}

// SFMASK clears DF: the kernel's string instructions go up even when the
// user's DF was set, though the entry reads no flag before them.
static uint8_t df_buf[16];
SNIPPET(s_lstar_stosb, "cmp %eax, %eax\n stosb\n int $0x81\n s_lstar_stosb_end:");
SNIPPET_LABEL(s_lstar_stosb_end);
static void syscall_clears_df(void) {
  wrmsr(MSR_SFMASK, KERNEL_SFMASK);
  wrmsr(MSR_LSTAR, ADDR(s_lstar_stosb));
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  run.rflags = FL_FIXED | FL_DF;
  // Twice: the second syscall finds its way to LSTAR already known.
  for (int i = 0; i < 2 && !case_failed(); i++) {
    run.r.rdi = ADDR(df_buf) + 8;
    xrun(&run, &ev);
    expect_event(&ev, V_END, 0, ADDR(s_lstar_stosb_end)) && expect_eq("rdi after stosb", ADDR(df_buf) + 9, ev.r.rdi) &&
        expect_eq("kernel DF", 0, ev.rflags & FL_DF) && expect_eq("r11 (user RFLAGS)", FL_FIXED | FL_DF, ev.r.r11);
  }
}

// sysret's selectors come from STAR[63:48] with RPL forced to 3; the GDT is
// not read (STAR[63:48] = 0x40 names the not-present 0x48 and 0x50 entries).
static uint64_t star_for_sysret;
static int star_hook(struct frame* f, const struct event* ev) {
  (void)f;
  if (ev->vector != V_SYSCALL) return HOOK_DECLINE;
  wrmsr(MSR_STAR, star_for_sysret);
  return HOOK_SYSRET;
}
static void sysret_star(uint64_t base, uint64_t want_cs, uint64_t want_ss) {
  star_for_sysret = (base << 48) | ((uint64_t)KCS << 32);
  g_hook = star_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall);
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_syscall_end)) && expect_eq("cs", want_cs, ev.cs) && expect_eq("ss", want_ss, ev.ss);
}
static void sysret_star_rpl_bits(void) { sysret_star(KDS | 3, UCS, UDS); }
static void sysret_no_gdt_read(void) { sysret_star(0x40, 0x53, 0x4b); }

// sysret leaves DS alone: a DPL-0 selector the kernel put in DS is still
// there at CPL 3. An iretq to CPL 3 nulls it.
static int ds_hook(struct frame* f, const struct event* ev) {
  (void)f;
  if (ev->vector != V_SYSCALL && ev->vector != V_SYSCALL80) return HOOK_DECLINE;
  uint16_t sel = KDS;
  __asm__ volatile("mov %0, %%ds" : : "r"(sel));
  return ev->vector == V_SYSCALL ? HOOK_SYSRET : HOOK_RESUME;
}
static void sysret_keeps_ds(void) {
  g_hook = ds_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_syscall_segs);
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("ds after sysret", KDS, ev.r.rax) && expect_eq("ss after sysret", UDS, ev.r.rbx);
}
static void iret_nulls_ds(void) {
  g_hook = ds_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int80_segs);
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("ds after iretq", 0, ev.r.rax) && expect_eq("ss after iretq", UDS, ev.r.rbx);
}

// int $0x80 and back with iretq: the kernel's result in rax.
static int int80_hook(struct frame* f, const struct event* ev) {
  if (ev->vector != V_SYSCALL80 && ev->vector != V_SYSCALL) return HOOK_DECLINE;
  f->rax += 1;
  return ev->vector == V_SYSCALL ? HOOK_SYSRET : HOOK_RESUME;
}
SNIPPET(s_int80, "int $0x80\n s_int80_next: int $0x81\n s_int80_end:");
SNIPPET_LABEL(s_int80_end);
static void int80_round_trip(void) {
  g_hook = int80_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_int80);
  run.rflags = FL_FIXED | FL_CF | FL_IF;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_int80_end)) && expect_eq("rax", run.r.rax + 1, ev.r.rax) &&
      expect_regs(&ev, &run.r, REG_BIT(rax)) && expect_eq("rflags", FL_FIXED | FL_CF | FL_IF, ev.rflags) &&
      expect_eq("cs", UCS, ev.cs);
}

static void many_round_trips(void) {
  g_hook = int80_hook;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_loop);
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("rax", 1000, ev.r.rax) &&
      expect_regs(&ev, &run.r, REG_BIT(rax) | REG_BIT(rbx) | REG_BIT(rcx) | REG_BIT(r11)) && expect_eq("cs", UCS, ev.cs);
}

// A C function at CPL 3 that makes syscalls (the compiler's code around
// inline syscalls, with the kernel changing rax).
static uint64_t user_fn(uint64_t n) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t a = i;
    __asm__ volatile("syscall" : "+a"(a) : : "rcx", "r11", "memory");
    sum += a;
  }
  return sum;
}
static void user_function_syscalls(void) {
  g_hook = int80_hook;
  struct event ev;
  xrun_fn(3, user_fn, 100, 0, &ev);
  // sum of (i + 1) for i < 100
  expect_vector(&ev, V_END) && expect_eq("result", 5050, ev.r.rax) && expect_eq("cs", UCS, ev.cs);
}

// swapgs exchanges GS.base and IA32_KERNEL_GS_BASE; gs: references use the
// new base.
static uint64_t gs_area_a[2] = {0xaaaa, 0}, gs_area_b[2] = {0xbbbb, 0};
static void swapgs_exchange(void) {
  wrmsr(MSR_GS_BASE, ADDR(gs_area_a));
  wrmsr(MSR_KERNEL_GS_BASE, ADDR(gs_area_b));
  uint64_t before, after;
  __asm__ volatile("mov %%gs:0, %0\n swapgs\n mov %%gs:0, %1" : "=&r"(before), "=r"(after) : : "memory");
  expect_eq("gs:0 before", 0xaaaa, before) && expect_eq("gs:0 after", 0xbbbb, after) &&
      expect_eq("GS.base", ADDR(gs_area_b), rdmsr(MSR_GS_BASE)) &&
      expect_eq("KERNEL_GS_BASE", ADDR(gs_area_a), rdmsr(MSR_KERNEL_GS_BASE));
  __asm__ volatile("swapgs");
  expect_eq("GS.base after two", ADDR(gs_area_a), rdmsr(MSR_GS_BASE));
}

static const struct kcase cases[] = {
    {"syscall.entry-linux-sfmask", entry_linux_mask},
    {"syscall.entry-sfmask-zero", entry_no_mask},
    {"syscall.entry-sfmask-all", entry_all_mask},
    {"syscall.entry-sfmask-arith", entry_arith_mask},
    {"syscall.entry-plain-flags", entry_plain_flags},
    {"syscall.from-cpl0", syscall_from_kernel},
    {"syscall.star-rpl-cs-masked-ss-not", syscall_star_rpl},
    {"sysret.round-trip", round_trip},
    {"sysret.r11-all-bits-but-tf", sysret_r11_all_but_tf},
    {"sysret.r11-zero", sysret_r11_zero},
    {"sysret.r11-rf-vm-dropped", sysret_r11_rf_vm},
    {"sysret.r11-iopl-if", sysret_r11_iopl_if},
    {"sysret.r11-tf-traps-before-first-user-insn", sysret_r11_tf},
    {"syscall.leaves-user-alignment-checks", syscall_leaves_alignment_checks},
    {"syscall.clears-df-for-the-kernel", syscall_clears_df},
    {"sysret.star-rpl-bits", sysret_star_rpl_bits},
    {"sysret.keeps-ds", sysret_keeps_ds},
    {"iret.nulls-ds-after-int80", iret_nulls_ds},
    {"int80.round-trip", int80_round_trip},
    {"roundtrip.1000-syscall-and-int80", many_round_trips},
    {"roundtrip.c-function-syscalls", user_function_syscalls},
    {"swapgs.exchanges-gs-bases", swapgs_exchange},
    {"sysret.selectors-without-gdt-read", sysret_no_gdt_read},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
