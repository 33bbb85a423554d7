// exceptions.c — every exception vector that software can raise, at CPL 0
// and CPL 3: #DE, #DB (int1), #BP, #UD, #NP, #SS, #GP, #AC, #MF, #XM (#PF has
// its own program, pagefault.c; #TS and gate faults are in delivery.c).
//
// Each case runs a snippet with every GPR set to a distinct pattern and
// RFLAGS = CF|ZF|SF|OF, and checks the event exactly: vector, error code,
// RIP (the faulting instruction for a fault, the next one for a trap), all
// sixteen GPRs as they were before the faulting instruction (faults are
// precise), and CS, SS, RSP and RFLAGS of the frame. RF is masked out of the
// RFLAGS comparison and checked by the rf.* cases on their own (Intel SDM
// 17.3.1.1: the RFLAGS image pushed for a fault-class exception has RF = 1; for
// a software interrupt or a trap after a completed instruction, RF = 0).
//
// Sources: Intel SDM Vol. 3A ch. 6 (exception classes and error codes),
// Vol. 2 "Exceptions" sections of each instruction; AMD APM Vol. 2 ch. 8.
#include "ktest.h"

#define FL_START (FL_FIXED | FL_CF | FL_ZF | FL_SF | FL_OF)

static uint8_t buf[1024] ALIGNED(64);
static uint64_t zero64;
static const uint16_t fcw_zm_unmasked = 0x37f & ~0x4;  // x87 zero-divide unmasked
static const uint32_t mxcsr_zm_unmasked = 0x1f80 & ~0x200;
static const uint32_t mxcsr_im_unmasked = 0x1f80 & ~0x80;
static const float one_f = 1.0f, minus_one_f = -1.0f;

struct fault_case {
  const char* name;
  const char* code;  // where the run starts
  const char* at;    // expected RIP (0: code)
  int cpl;
  uint64_t vector, error;
  void (*setup)(struct run*);
  uint32_t changed;   // GPRs the snippet itself changes before the event (not rsp)
  int64_t rsp_delta;  // the event's RSP minus the starting RSP
  int dead_flags;     // the snippet rewrites every arithmetic flag after the faulting instruction
};

// The architecture pushes the arithmetic flags as they were before the
// faulting instruction, dead or not. xlat keeps them exact wherever an
// instruction (or a native fault) may read them; where the code after the
// access overwrites them unread, its TLB lookup may clobber them unless it
// runs with -accel tcg,precise-flags=on. The cases marked dead_flags check
// them in exceptions-strict.elf (run with that option, and what QEMU and
// hardware must pass); this build checks the rest of RFLAGS.
#ifdef XLAT_STRICT_DEAD_FLAGS
#define DEAD_FLAGS_UNCHECKED 0
#else
#define DEAD_FLAGS_UNCHECKED (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#endif

static void check(const struct fault_case* c) {
  struct run run;
  struct event ev;
  run_init(&run, c->cpl, c->code);
  run.rflags = FL_START;
  if (c->setup) c->setup(&run);
  xrun(&run, &ev);
  uint64_t at = ADDR(c->at ? c->at : c->code);
  if (!expect_event(&ev, c->vector, c->error, at)) return;
  if (!expect_regs(&ev, &run.r, c->changed | REG_BIT(rsp))) return;
  const uint64_t unchecked = c->dead_flags ? (uint64_t)DEAD_FLAGS_UNCHECKED : 0;
  expect_eq("frame rsp", run.r.rsp + (uint64_t)c->rsp_delta, ev.rsp) && expect_eq("frame cs", run.cs, ev.cs) &&
      expect_eq("frame ss", run.ss, ev.ss) &&
      expect_eq("frame rflags (RF masked)", run.rflags & ~unchecked, ev.rflags & ~(uint64_t)FL_RF & ~unchecked);
}

// ---- snippets ------------------------------------------------------------------
SNIPPET(s_div, "div %rcx\n int $0x81");
SNIPPET(s_div8, "div %cl\n int $0x81");
SNIPPET(s_idiv64, "idiv %rcx\n int $0x81");
SNIPPET(s_idiv32, "idiv %ecx\n int $0x81");
SNIPPET(s_divmem, "divq (%rsi)\n int $0x81");
SNIPPET(s_int3, "int3\n s_int3_next: int $0x81");
SNIPPET(s_int_3, "int $3\n s_int_3_next: int $0x81");
SNIPPET(s_int1, ".byte 0xf1\n s_int1_next: int $0x81");
SNIPPET_LABEL(s_int3_next);
SNIPPET_LABEL(s_int_3_next);
SNIPPET_LABEL(s_int1_next);
SNIPPET(s_ud2, "ud2\n int $0x81");
SNIPPET(s_ud1, ".byte 0x0f, 0xb9, 0xc0\n int $0x81");             // ud1 %eax, %eax
SNIPPET(s_push_es, ".byte 0x06\n int $0x81");                     // push es: invalid in 64-bit mode
SNIPPET(s_aaa, ".byte 0x37\n int $0x81");                         // aaa: invalid in 64-bit mode
SNIPPET(s_into, ".byte 0xce\n int $0x81");                        // into: invalid in 64-bit mode
SNIPPET(s_lock_add_reg, ".byte 0xf0, 0x01, 0xc3\n int $0x81");    // lock add %eax, %ebx: no memory destination
SNIPPET(s_lock_nop, ".byte 0xf0, 0x90\n int $0x81");              // lock nop
SNIPPET(s_lock_mov, ".byte 0xf0, 0x89, 0x06\n int $0x81");        // lock mov %eax, (%rsi): mov is not lockable
SNIPPET(s_mov_cs, ".byte 0x8e, 0xc8\n int $0x81");                // mov %ax, %cs
SNIPPET(s_cx16_reg, ".byte 0x48, 0x0f, 0xc7, 0xc9\n int $0x81");  // cmpxchg16b with a register operand
SNIPPET(s_lea_reg, ".byte 0x8d, 0xc0\n int $0x81");               // lea with a register source
// The snippet itself turns SSE off (rdx -> CR0 or CR4): the kernel's C code
// must never run with SSE unusable.
SNIPPET(s_em_addps, "mov %rdx, %cr0\n s_em_addps_at: addps %xmm1, %xmm0\n int $0x81");
SNIPPET_LABEL(s_em_addps_at);
// CR0.TS (lazy FPU switching), CR0.EM and CR0.MP: r8 is loaded into CR0 at
// CPL 0 just before the instruction. Intel SDM Vol. 3A 2.5 with its table of
// x87 actions for EM, MP and TS (#NM with EM or TS; WAIT/FWAIT only with MP
// and TS) and Table 13-1 (SSE: EM = 1 is #UD whatever TS, else TS is #NM);
// Vol. 2 exception lists of XSAVE and LDMXCSR (#NM if CR0.TS = 1) and Table
// 2-21 (VEX-encoded: #NM if CR0.TS = 1; the CR0.EM #UD is for legacy SSE
// only). fxsave with EM alone is left out: Intel's current manual says #UD,
// AMD's and Intel's older ones #NM.
SNIPPET(s_cr0_fld1, "mov %r8, %cr0\n s_cr0_fld1_at: fld1\n int $0x81\n s_cr0_fld1_end:");
SNIPPET_LABEL(s_cr0_fld1_at);
SNIPPET_LABEL(s_cr0_fld1_end);
SNIPPET(s_cr0_addps, "mov %r8, %cr0\n s_cr0_addps_at: addps %xmm1, %xmm0\n int $0x81\n s_cr0_addps_end:");
SNIPPET_LABEL(s_cr0_addps_at);
SNIPPET_LABEL(s_cr0_addps_end);
SNIPPET(s_cr0_vaddps, "mov %r8, %cr0\n s_cr0_vaddps_at: vaddps %ymm1, %ymm0, %ymm0\n int $0x81\n s_cr0_vaddps_end:");
SNIPPET_LABEL(s_cr0_vaddps_at);
SNIPPET_LABEL(s_cr0_vaddps_end);
SNIPPET(s_cr0_paddb, "mov %r8, %cr0\n s_cr0_paddb_at: paddb %mm1, %mm0\n emms\n int $0x81");
SNIPPET_LABEL(s_cr0_paddb_at);
SNIPPET(s_cr0_fwait, "mov %r8, %cr0\n s_cr0_fwait_at: fwait\n int $0x81\n s_cr0_fwait_end:");
SNIPPET_LABEL(s_cr0_fwait_at);
SNIPPET_LABEL(s_cr0_fwait_end);
SNIPPET(s_cr0_fxsave, "mov %r8, %cr0\n s_cr0_fxsave_at: fxsave64 (%rsi)\n int $0x81");
SNIPPET_LABEL(s_cr0_fxsave_at);
SNIPPET(s_cr0_xsave, "mov %r8, %cr0\n s_cr0_xsave_at: xsave64 (%rsi)\n int $0x81");
SNIPPET_LABEL(s_cr0_xsave_at);
SNIPPET(s_cr0_ldmxcsr, "mov %r8, %cr0\n s_cr0_ldmxcsr_at: ldmxcsr (%rsi)\n int $0x81");
SNIPPET_LABEL(s_cr0_ldmxcsr_at);
// Neither x87 nor SIMD state: crc32 and a fence run with TS set.
SNIPPET(s_cr0_crc32, "mov %r8, %cr0\n crc32b %al, %ebx\n lfence\n int $0x81\n s_cr0_crc32_end:");
SNIPPET_LABEL(s_cr0_crc32_end);
// clts clears TS: the SSE instruction after it runs.
SNIPPET(s_cr0_clts, "mov %r8, %cr0\n clts\n addps %xmm1, %xmm0\n int $0x81\n s_cr0_clts_end:");
SNIPPET_LABEL(s_cr0_clts_end);
SNIPPET(s_nofxsr_addps, "mov %rdx, %cr4\n s_nofxsr_addps_at: addps %xmm1, %xmm0\n int $0x81");
SNIPPET_LABEL(s_nofxsr_addps_at);
SNIPPET(s_syscall, "syscall\n int $0x81");
SNIPPET(s_sysret, "sysretq\n int $0x81");
SNIPPET(s_load, "mov (%rsi), %rax\n int $0x81");
SNIPPET(s_store, "mov %rax, (%rsi)\n int $0x81");
SNIPPET(s_jmp, "jmp *%rsi\n int $0x81");
SNIPPET(s_call, "call *%rsi\n int $0x81");
SNIPPET(s_ret, "push %rsi\n s_ret_at: ret\n int $0x81");
SNIPPET_LABEL(s_ret_at);
SNIPPET(s_movaps, "movaps (%rsi), %xmm0\n int $0x81");
SNIPPET(s_movdqa_st, "movdqa %xmm0, (%rsi)\n int $0x81");
SNIPPET(s_vmovaps, "vmovaps (%rsi), %ymm0\n int $0x81");
SNIPPET(s_cx16, "cmpxchg16b (%rsi)\n int $0x81");
// The same with the flags dead at the access (sub writes all six before
// anything reads them): a translator may test the alignment itself there.
SNIPPET(s_movaps_fd, "movaps (%rsi), %xmm0\n sub %eax, %eax\n int $0x81");
SNIPPET(s_movdqa_st_fd, "movdqa %xmm0, (%rsi)\n sub %eax, %eax\n int $0x81");
SNIPPET(s_vmovaps_fd, "vmovaps (%rsi), %ymm0\n sub %eax, %eax\n int $0x81");
SNIPPET(s_vmovntdq_fd, "vmovntdq %ymm0, (%rsi)\n sub %eax, %eax\n int $0x81");
SNIPPET(s_addps_fd, "addps (%rsi), %xmm0\n sub %eax, %eax\n int $0x81");
SNIPPET(s_cx16_fd, "cmpxchg16b (%rsi)\n sub %eax, %eax\n int $0x81");
SNIPPET(s_fxsave_fd, "fxsave64 (%rsi)\n sub %eax, %eax\n int $0x81");
SNIPPET(s_movaps_fd_ok, "movaps (%rsi), %xmm0\n sub %eax, %eax\n int $0x81\n s_movaps_fd_ok_end:");
SNIPPET_LABEL(s_movaps_fd_ok_end);
SNIPPET(s_load_fd, "mov (%rsi), %rax\n sub %eax, %eax\n int $0x81");
// Pushes a translator may check as one group: the second one runs off the
// bottom of the stack page. The #PF is at it, with one push done.
SNIPPET(s_push3, "push %rax\n s_push3_second: push %rbx\n push %rcx\n int $0x81");
SNIPPET_LABEL(s_push3_second);
// A fault after a jump (which a translator may follow within one block): at the load.
SNIPPET(s_jmp_load, "mov $7, %ecx\n jmp 1f\n ud2\n 1: s_jmp_load_at: mov (%rsi), %rax\n int $0x81");
SNIPPET_LABEL(s_jmp_load_at);
SNIPPET(s_fxsave, "fxsave64 (%rsi)\n int $0x81");
SNIPPET(s_wrmsr, "wrmsr\n int $0x81");
SNIPPET(s_mov_cr4, "mov %rax, %cr4\n int $0x81");
SNIPPET(s_mov_cr0, "mov %rax, %cr0\n int $0x81");
SNIPPET(s_mov_ss, "mov %ax, %ss\n int $0x81");
SNIPPET(s_mov_ds, "mov %ax, %ds\n int $0x81");
SNIPPET(s_mov_es, "mov %ax, %es\n int $0x81");
SNIPPET(s_mov_fs, "mov %ax, %fs\n int $0x81");
SNIPPET(s_mov_gs, "mov %ax, %gs\n int $0x81");
SNIPPET(s_mov_ss_ok, "mov %ax, %ss\n int $0x81\n s_mov_ss_ok_end:");
SNIPPET_LABEL(s_mov_ss_ok_end);
// iretq to CPL 0 from CPL 3: the frame is built from rax (ss), rcx (rsp),
// the current flags, rdx (cs) and rsi (rip).
SNIPPET(s_iret_up, "push %rax\n push %rcx\n pushfq\n push %rdx\n push %rsi\n s_iret_up_at: iretq\n int $0x81");
SNIPPET_LABEL(s_iret_up_at);
SNIPPET(s_load_rbp, "mov 0(%rbp), %rax\n int $0x81");
SNIPPET(s_push, "push %rax\n int $0x81");
SNIPPET(s_load_ss, "mov %ss:(%rsi), %rax\n int $0x81");
SNIPPET(s_load32, "mov (%rsi), %eax\n int $0x81");
SNIPPET(s_load32_end, "mov (%rsi), %eax\n int $0x81\n s_load32_end_at:");
SNIPPET_LABEL(s_load32_end_at);
// x87: an unmasked zero-divide sets FSW.ES; #MF comes at the next waiting
// x87 instruction, with FIP = the instruction that failed.
SNIPPET(s_mf_fwait, "fldcw (%rsi)\n fld1\n fldz\n s_mf_fwait_div: .byte 0xde, 0xf9\n s_mf_fwait_at: fwait\n int $0x81");
SNIPPET_LABEL(s_mf_fwait_div);
SNIPPET_LABEL(s_mf_fwait_at);
SNIPPET(s_mf_next, "fldcw (%rsi)\n fld1\n fldz\n s_mf_next_div: .byte 0xde, 0xf9\n s_mf_next_at: fld1\n int $0x81");
SNIPPET_LABEL(s_mf_next_div);
SNIPPET_LABEL(s_mf_next_at);
SNIPPET(s_mf_fnstsw, "fldcw (%rsi)\n fld1\n fldz\n .byte 0xde, 0xf9\n fnstsw %ax\n s_mf_fnstsw_at: fwait\n int $0x81");
SNIPPET_LABEL(s_mf_fnstsw_at);
SNIPPET(s_mf_masked, "fld1\n fldz\n .byte 0xde, 0xf9\n fwait\n int $0x81\n s_mf_masked_end:");
SNIPPET_LABEL(s_mf_masked_end);
// SSE: an unmasked exception is #XM when CR4.OSXMMEXCPT = 1, #UD when 0;
// the destination is left unchanged.
SNIPPET(s_xm_divss, "ldmxcsr (%rsi)\n movss (%rdi), %xmm0\n pxor %xmm1, %xmm1\n s_xm_divss_at: divss %xmm1, %xmm0\n int $0x81\n s_xm_divss_end:");
SNIPPET_LABEL(s_xm_divss_at);
SNIPPET_LABEL(s_xm_divss_end);
SNIPPET(s_xm_vdivss, "ldmxcsr (%rsi)\n movss (%rdi), %xmm0\n pxor %xmm1, %xmm1\n s_xm_vdivss_at: vdivss %xmm1, %xmm0, %xmm0\n int $0x81");
SNIPPET_LABEL(s_xm_vdivss_at);
// xmm0 = {1, 1, 1, 1} / xmm1 = {1, 0, 0, 0}: lanes 1..3 divide by zero.
SNIPPET(s_xm_divps, "ldmxcsr (%rsi)\n movss (%rdi), %xmm0\n shufps $0, %xmm0, %xmm0\n movss (%rdi), %xmm1\n s_xm_divps_at: divps %xmm1, %xmm0\n int $0x81");
SNIPPET_LABEL(s_xm_divps_at);
SNIPPET(s_xm_sqrt, "ldmxcsr (%rsi)\n movss (%rdi), %xmm0\n s_xm_sqrt_at: sqrtss %xmm0, %xmm0\n int $0x81");
SNIPPET_LABEL(s_xm_sqrt_at);

// ---- setups -------------------------------------------------------------------
static void su_rcx0(struct run* r) { r->r.rcx = 0; }
static void su_div8(struct run* r) { r->r.rax = 0x1000; r->r.rcx = 0x10; }  // 0x1000 / 0x10 = 0x100 > 0xff
static void su_idiv64(struct run* r) { r->r.rax = 1ull << 63; r->r.rdx = ~0ull; r->r.rcx = ~0ull; }
static void su_idiv32(struct run* r) { r->r.rax = 0x80000000u; r->r.rdx = 0xffffffffu; r->r.rcx = 0xffffffffu; }
static void su_divmem(struct run* r) { r->r.rsi = ADDR(&zero64); }
static void su_buf(struct run* r) { r->r.rsi = ADDR(buf); }
static void su_no_sce(struct run* r) { (void)r; wrmsr(MSR_EFER, g_default_efer & ~EFER_SCE); }
static void su_no_osfxsr(struct run* r) { r->r.rdx = g_default_cr4 & ~(CR4_OSFXSR | CR4_OSXMMEXCPT); }
static void su_em(struct run* r) { r->r.rdx = g_default_cr0 | CR0_EM; }
static void su_ts(struct run* r) { r->r.r8 = g_default_cr0 | CR0_MP | CR0_TS; r->r.rsi = ADDR(buf); }
static void su_ts_nomp(struct run* r) { r->r.r8 = (g_default_cr0 | CR0_TS) & ~CR0_MP; }
static void su_em_r8(struct run* r) { r->r.r8 = (g_default_cr0 | CR0_EM) & ~CR0_TS; }
static void su_em_ts(struct run* r) { r->r.r8 = g_default_cr0 | CR0_EM | CR0_TS; }
static void su_rsi_nc(struct run* r) { r->r.rsi = NONCANONICAL; }
static void su_rsi_nc_hi(struct run* r) { r->r.rsi = NONCANONICAL_HI + 0x1000; }
static void su_rsi_buf8(struct run* r) { r->r.rsi = ADDR(buf) + 8; }
static void su_rsi_buf16(struct run* r) { r->r.rsi = ADDR(buf) + 16; }
static void su_rsi_buf16_zf(struct run* r) {
  r->r.rsi = ADDR(buf) + 16;
  r->rflags = FL_FIXED | FL_ZF | FL_PF;  // what sub %eax, %eax leaves; the int frame shows it
}
static void su_rsi_unmapped(struct run* r) { r->r.rsi = fresh_va(); }
// rsp 8 bytes above the bottom of a stack page whose page below is unmapped.
static void su_rsp_page_bottom8(struct run* r) {
  r->r.rsp = new_page(PTE_P | PTE_W | PTE_U, 0) + 8;
  if (r->cs == KCS) all_exceptions_on_ist(IST_TEST);  // the fault must not push onto that stack
}
// 8 bytes before the end of a page whose next page is unmapped: a misaligned
// 16-byte access there is #GP(0), not the #PF of its second half.
static void su_rsi_page_end8(struct run* r) { r->r.rsi = new_page(PTE_P | PTE_W | PTE_U, 0) + 4096 - 8; }
static void su_efer_rsvd(struct run* r) {
  uint64_t v = g_default_efer | (1ull << 63);
  r->r.rcx = MSR_EFER;
  r->r.rax = (uint32_t)v;
  r->r.rdx = v >> 32;
}
static void su_fsbase_nc(struct run* r) { r->r.rcx = MSR_FS_BASE; r->r.rax = 0; r->r.rdx = 0x8000; }
static void su_cr4_rsvd(struct run* r) { r->r.rax = g_default_cr4 | (1ull << 63); }
static void su_cr0_nw(struct run* r) { r->r.rax = (g_default_cr0 | (1ull << 29)) & ~(1ull << 30); }
static void su_cr0_rsvd(struct run* r) { r->r.rax = g_default_cr0 | (1ull << 63); }
static void su_sel_null(struct run* r) { r->r.rax = 0; }
static void su_sel_null3(struct run* r) { r->r.rax = 3; }
static void su_sel_beyond(struct run* r) { r->r.rax = GDT_ENTRIES * 8; }
static void su_sel_zero_desc(struct run* r) { r->r.rax = (GDT_ENTRIES - 1) * 8; }
static void su_sel_tss(struct run* r) { r->r.rax = TSS_SEL; }
static void su_sel_ro(struct run* r) { r->r.rax = KDATA_RO_SEL; }
static void su_sel_uds(struct run* r) { r->r.rax = UDS; }
static void su_sel_kds3(struct run* r) { r->r.rax = KDS | 3; }
static void su_sel_np(struct run* r) { r->r.rax = NP_DATA_SEL; }
static void su_sel_np3(struct run* r) { r->r.rax = NP_DATA_SEL | 3; }
static void su_iret_up(struct run* r) { r->r.rax = KDS; r->r.rcx = run_stack_top(); r->r.rdx = KCS; r->r.rsi = ADDR(s_ud2); }
static void su_rbp_nc(struct run* r) { r->r.rbp = NONCANONICAL; }
static void su_rsp_nc(struct run* r) {
  r->r.rsp = NONCANONICAL + 0x100;
  if (r->cs == KCS) all_exceptions_on_ist(IST_TEST);  // a wrong vector must not use the bad stack
}
static void su_ac(struct run* r) { write_cr0(g_default_cr0 | CR0_AM); r->rflags |= FL_AC; r->r.rsi = ADDR(buf) + 1; }
static void su_ac_push(struct run* r) { su_ac(r); r->r.rsp -= 2; }
static void su_ac_noam(struct run* r) { r->rflags |= FL_AC; r->r.rsi = ADDR(buf) + 1; }
static void su_ac_noac(struct run* r) { write_cr0(g_default_cr0 | CR0_AM); r->r.rsi = ADDR(buf) + 1; }
static void su_mf(struct run* r) { r->r.rsi = ADDR(&fcw_zm_unmasked); }
static void su_xm_zm(struct run* r) { r->r.rsi = ADDR(&mxcsr_zm_unmasked); r->r.rdi = ADDR(&one_f); }
static void su_xm_zm_noexc(struct run* r) { su_xm_zm(r); write_cr4(g_default_cr4 & ~CR4_OSXMMEXCPT); }
static uint32_t mxcsr_default = 0x1f80;
static void su_xm_masked(struct run* r) { r->r.rsi = ADDR(&mxcsr_default); r->r.rdi = ADDR(&one_f); }
static void su_xm_im(struct run* r) { r->r.rsi = ADDR(&mxcsr_im_unmasked); r->r.rdi = ADDR(&minus_one_f); }

#define BOTH(name, code, at, vec, err, setup, changed) \
  {name ".cpl0", code, at, 0, vec, err, setup, changed}, {name ".cpl3", code, at, 3, vec, err, setup, changed}
#define BOTH_DEAD(name, code, at, vec, err, setup, changed)       \
  {name ".cpl0", code, at, 0, vec, err, setup, changed, 0, 1}, \
  {name ".cpl3", code, at, 3, vec, err, setup, changed, 0, 1}

static const struct fault_case kFaults[] = {
    // #DE: a fault; the dividend registers are unchanged.
    BOTH("de.div-by-zero", s_div, 0, V_DE, 0, su_rcx0, 0),
    BOTH("de.div8-quotient-overflow", s_div8, 0, V_DE, 0, su_div8, 0),
    BOTH("de.idiv64-overflow", s_idiv64, 0, V_DE, 0, su_idiv64, 0),
    BOTH("de.idiv32-overflow", s_idiv32, 0, V_DE, 0, su_idiv32, 0),
    BOTH("de.div-memory-zero", s_divmem, 0, V_DE, 0, su_divmem, 0),
    // #BP: a trap; RIP is the instruction after int3 (1 byte) or int $3 (2).
    BOTH("bp.int3", s_int3, s_int3_next, V_BP, 0, 0, 0),
    BOTH("bp.int-3", s_int_3, s_int_3_next, V_BP, 0, 0, 0),
    // #DB from int1 (icebp, F1): a trap, and no gate DPL check (Intel SDM
    // INT n: the DPL check "does not apply to INT1"); gate 1 has DPL 0.
    BOTH("db.int1", s_int1, s_int1_next, V_DB, 0, 0, 0),
    // #UD: a fault at the instruction.
    BOTH("ud.ud2", s_ud2, 0, V_UD, 0, 0, 0),
    BOTH("ud.ud1", s_ud1, 0, V_UD, 0, 0, 0),
    BOTH("ud.push-es-64bit", s_push_es, 0, V_UD, 0, 0, 0),
    BOTH("ud.aaa-64bit", s_aaa, 0, V_UD, 0, 0, 0),
    BOTH("ud.into-64bit", s_into, 0, V_UD, 0, 0, 0),
    BOTH("ud.lock-register-destination", s_lock_add_reg, 0, V_UD, 0, 0, 0),
    BOTH("ud.lock-nop", s_lock_nop, 0, V_UD, 0, 0, 0),
    BOTH("ud.lock-mov", s_lock_mov, 0, V_UD, 0, su_buf, 0),
    BOTH("ud.mov-to-cs", s_mov_cs, 0, V_UD, 0, 0, 0),
    BOTH("ud.cmpxchg16b-register", s_cx16_reg, 0, V_UD, 0, 0, 0),
    BOTH("ud.lea-register-source", s_lea_reg, 0, V_UD, 0, 0, 0),
    // SSE with CR4.OSFXSR = 0, or with CR0.EM = 1: #UD.
    {"ud.sse-without-osfxsr.cpl0", s_nofxsr_addps, s_nofxsr_addps_at, 0, V_UD, 0, su_no_osfxsr, 0},
    {"ud.sse-with-cr0-em.cpl0", s_em_addps, s_em_addps_at, 0, V_UD, 0, su_em, 0},
    // #NM: x87, MMX, SSE, AVX, fxsave, xsave, ldmxcsr with CR0.TS = 1; x87
    // with CR0.EM = 1; fwait only when MP is set too. EM beats TS for SSE
    // (#UD). Instructions that use no x87/SIMD state, and clts, are not
    // affected.
    {"nm.ts-x87.cpl0", s_cr0_fld1, s_cr0_fld1_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-sse.cpl0", s_cr0_addps, s_cr0_addps_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-avx.cpl0", s_cr0_vaddps, s_cr0_vaddps_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-mmx.cpl0", s_cr0_paddb, s_cr0_paddb_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-fwait-with-mp.cpl0", s_cr0_fwait, s_cr0_fwait_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-fwait-without-mp-runs.cpl0", s_cr0_fwait, s_cr0_fwait_end, 0, V_END, 0, su_ts_nomp, 0},
    {"nm.ts-fxsave.cpl0", s_cr0_fxsave, s_cr0_fxsave_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-xsave.cpl0", s_cr0_xsave, s_cr0_xsave_at, 0, V_NM, 0, su_ts, 0},
    {"nm.ts-ldmxcsr.cpl0", s_cr0_ldmxcsr, s_cr0_ldmxcsr_at, 0, V_NM, 0, su_ts, 0},
    {"nm.em-x87.cpl0", s_cr0_fld1, s_cr0_fld1_at, 0, V_NM, 0, su_em_r8, 0},
    {"nm.em-avx-runs.cpl0", s_cr0_vaddps, s_cr0_vaddps_end, 0, V_END, 0, su_em_r8, 0},
    {"nm.em-and-ts-sse-is-ud.cpl0", s_cr0_addps, s_cr0_addps_at, 0, V_UD, 0, su_em_ts, 0},
    {"nm.ts-crc32-runs.cpl0", s_cr0_crc32, s_cr0_crc32_end, 0, V_END, 0, su_ts, REG_BIT(rbx)},
    {"nm.clts-then-sse-runs.cpl0", s_cr0_clts, s_cr0_clts_end, 0, V_END, 0, su_ts, 0},
    // syscall and sysret with EFER.SCE = 0: #UD (checked before sysret's CPL
    // check, so also at CPL 3).
    BOTH("ud.syscall-without-sce", s_syscall, 0, V_UD, 0, su_no_sce, 0),
    BOTH("ud.sysret-without-sce", s_sysret, 0, V_UD, 0, su_no_sce, 0),
    // #GP(0): non-canonical addresses (a DS reference), misaligned SSE/AVX
    // aligned forms, cmpxchg16b and fxsave on a non-16-byte boundary.
    BOTH("gp.noncanonical-load", s_load, 0, V_GP, 0, su_rsi_nc, 0),
    BOTH("gp.noncanonical-store", s_store, 0, V_GP, 0, su_rsi_nc, 0),
    BOTH("gp.noncanonical-high-load", s_load, 0, V_GP, 0, su_rsi_nc_hi, 0),
    // A near branch to a non-canonical target faults on the branch itself,
    // with nothing pushed.
    BOTH("gp.noncanonical-jmp-target", s_jmp, 0, V_GP, 0, su_rsi_nc, 0),
    BOTH("gp.noncanonical-call-target", s_call, 0, V_GP, 0, su_rsi_nc, 0),
    {"gp.noncanonical-ret-target.cpl0", s_ret, s_ret_at, 0, V_GP, 0, su_rsi_nc, 0, -8},
    {"gp.noncanonical-ret-target.cpl3", s_ret, s_ret_at, 3, V_GP, 0, su_rsi_nc, 0, -8},
    BOTH("gp.movaps-misaligned", s_movaps, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH("gp.movdqa-store-misaligned", s_movdqa_st, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH("gp.vmovaps-ymm-misaligned", s_vmovaps, 0, V_GP, 0, su_rsi_buf16, 0),
    BOTH("gp.cmpxchg16b-misaligned", s_cx16, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH("gp.fxsave-misaligned", s_fxsave, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH_DEAD("gp.movaps-misaligned-flags-dead", s_movaps_fd, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH_DEAD("gp.movdqa-store-misaligned-flags-dead", s_movdqa_st_fd, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH_DEAD("gp.vmovaps-ymm-misaligned-flags-dead", s_vmovaps_fd, 0, V_GP, 0, su_rsi_buf16, 0),
    BOTH_DEAD("gp.vmovntdq-ymm-misaligned-flags-dead", s_vmovntdq_fd, 0, V_GP, 0, su_rsi_buf16, 0),
    BOTH_DEAD("gp.addps-misaligned-flags-dead", s_addps_fd, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH_DEAD("gp.cmpxchg16b-misaligned-flags-dead", s_cx16_fd, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH_DEAD("gp.fxsave-misaligned-flags-dead", s_fxsave_fd, 0, V_GP, 0, su_rsi_buf8, 0),
    BOTH_DEAD("gp.movaps-misaligned-before-unmapped-page", s_movaps_fd, 0, V_GP, 0, su_rsi_page_end8, 0),
    // (sub leaves ZF and PF set: the frame of the int shows them.)
    {"gp.movaps-aligned-flags-dead-runs.cpl0", s_movaps_fd_ok, s_movaps_fd_ok_end, 0, V_END, 0, su_rsi_buf16_zf, REG_BIT(rax)},
    {"gp.movaps-aligned-flags-dead-runs.cpl3", s_movaps_fd_ok, s_movaps_fd_ok_end, 3, V_END, 0, su_rsi_buf16_zf, REG_BIT(rax)},
    {"pf.second-of-three-pushes.cpl0", s_push3, s_push3_second, 0, V_PF, 2, su_rsp_page_bottom8, 0, -8},
    {"pf.second-of-three-pushes.cpl3", s_push3, s_push3_second, 3, V_PF, 6, su_rsp_page_bottom8, 0, -8},
    {"pf.load-after-jump.cpl0", s_jmp_load, s_jmp_load_at, 0, V_PF, 0, su_rsi_unmapped, REG_BIT(rcx)},
    {"pf.load-after-jump.cpl3", s_jmp_load, s_jmp_load_at, 3, V_PF, 4, su_rsi_unmapped, REG_BIT(rcx)},
    // A #PF whose flags are dead: the same rule as the alignment checks.
    {"pf.load-not-present-flags-dead.cpl0", s_load_fd, 0, 0, V_PF, 0, su_rsi_unmapped, 0, 0, 1},
    {"pf.load-not-present-flags-dead.cpl3", s_load_fd, 0, 3, V_PF, 4, su_rsi_unmapped, 0, 0, 1},
    // Segment loads (Intel SDM MOV, "Protected Mode Exceptions" and 64-bit
    // mode): SS null at CPL 3 -> #GP(0); selector beyond the GDT limit, a
    // system or zero descriptor, read-only data into SS, RPL != CPL for SS,
    // DPL < CPL for a data segment -> #GP(selector); the privilege checks
    // come before the present check. The error code is the selector with its
    // RPL bits replaced by EXT = 0 and IDT = 0.
    {"gp.mov-ss-null.cpl3", s_mov_ss, 0, 3, V_GP, 0, su_sel_null, 0},
    {"gp.mov-ss-null-rpl3.cpl3", s_mov_ss, 0, 3, V_GP, 0, su_sel_null3, 0},
    BOTH("gp.mov-ds-beyond-gdt-limit", s_mov_ds, 0, V_GP, GDT_ENTRIES * 8, su_sel_beyond, 0),
    BOTH("gp.mov-ds-zero-descriptor", s_mov_ds, 0, V_GP, (GDT_ENTRIES - 1) * 8, su_sel_zero_desc, 0),
    BOTH("gp.mov-ds-tss-descriptor", s_mov_ds, 0, V_GP, TSS_SEL, su_sel_tss, 0),
    {"gp.mov-ss-read-only-data.cpl0", s_mov_ss, 0, 0, V_GP, KDATA_RO_SEL, su_sel_ro, 0},
    {"gp.mov-ss-rpl-not-cpl.cpl0", s_mov_ss, 0, 0, V_GP, UDS & ~3, su_sel_uds, 0},
    {"gp.mov-ds-dpl-below-cpl.cpl3", s_mov_ds, 0, 3, V_GP, KDS, su_sel_kds3, 0},
    {"gp.mov-ds-not-present-privilege-first.cpl3", s_mov_ds, 0, 3, V_GP, NP_DATA_SEL, su_sel_np3, 0},
    // iretq at CPL 3 to a CS with RPL 0: #GP(selector), RSP below the 5 pushes.
    {"gp.iretq-to-cpl0.cpl3", s_iret_up, s_iret_up_at, 3, V_GP, KCS, su_iret_up, 0, -40},
    {"gp.sysret.cpl3", s_sysret, 0, 3, V_GP, 0, 0, 0},
    // #NP(selector): a not-present data segment into DS, ES, FS, GS.
    {"np.mov-ds.cpl0", s_mov_ds, 0, 0, V_NP, NP_DATA_SEL, su_sel_np, 0},
    {"np.mov-es.cpl0", s_mov_es, 0, 0, V_NP, NP_DATA_SEL, su_sel_np, 0},
    {"np.mov-fs.cpl0", s_mov_fs, 0, 0, V_NP, NP_DATA_SEL, su_sel_np, 0},
    {"np.mov-gs.cpl0", s_mov_gs, 0, 0, V_NP, NP_DATA_SEL, su_sel_np, 0},
    // #SS: a non-canonical address in a reference through SS (RSP or RBP
    // base, or an ss: override) is #SS(0), not #GP(0); a not-present segment
    // into SS is #SS(selector).
    BOTH("ss.noncanonical-rbp-base", s_load_rbp, 0, V_SS, 0, su_rbp_nc, 0),
    BOTH("ss.noncanonical-push", s_push, 0, V_SS, 0, su_rsp_nc, 0),
    BOTH("ss.noncanonical-ss-override", s_load_ss, 0, V_SS, 0, su_rsi_nc, 0),
    {"ss.mov-ss-not-present.cpl0", s_mov_ss, 0, 0, V_SS, NP_DATA_SEL, su_sel_np, 0},
    // #AC(0): CPL 3 with CR0.AM = 1 and RFLAGS.AC = 1 only.
    {"ac.misaligned-load.cpl3", s_load32, 0, 3, V_AC, 0, su_ac, 0},
    {"ac.misaligned-push.cpl3", s_push, 0, 3, V_AC, 0, su_ac_push, 0},
    {"ac.not-at-cpl0.cpl0", s_load32_end, s_load32_end_at, 0, V_END, 0, su_ac, REG_BIT(rax)},
    {"ac.not-without-cr0-am.cpl3", s_load32_end, s_load32_end_at, 3, V_END, 0, su_ac_noam, REG_BIT(rax)},
    {"ac.not-without-rflags-ac.cpl3", s_load32_end, s_load32_end_at, 3, V_END, 0, su_ac_noac, REG_BIT(rax)},
    // #MF (CR0.NE = 1): at the next waiting x87 instruction, not at the fdiv.
    BOTH("mf.fdiv-zero-at-fwait", s_mf_fwait, s_mf_fwait_at, V_MF, 0, su_mf, 0),
    BOTH("mf.fdiv-zero-at-next-x87", s_mf_next, s_mf_next_at, V_MF, 0, su_mf, 0),
    BOTH("mf.fnstsw-does-not-wait", s_mf_fnstsw, s_mf_fnstsw_at, V_MF, 0, su_mf, REG_BIT(rax)),
    BOTH("mf.masked-no-exception", s_mf_masked, s_mf_masked_end, V_END, 0, 0, 0),
    // #XM: a fault at the SSE instruction.
    BOTH("xm.divss-zero", s_xm_divss, s_xm_divss_at, V_XM, 0, su_xm_zm, 0),
    BOTH("xm.vdivss-zero", s_xm_vdivss, s_xm_vdivss_at, V_XM, 0, su_xm_zm, 0),
    BOTH("xm.divps-zero-lane", s_xm_divps, s_xm_divps_at, V_XM, 0, su_xm_zm, 0),
    BOTH("xm.sqrtss-negative", s_xm_sqrt, s_xm_sqrt_at, V_XM, 0, su_xm_im, 0),
    BOTH("xm.without-osxmmexcpt-is-ud", s_xm_divss, s_xm_divss_at, V_UD, 0, su_xm_zm_noexc, 0),
    BOTH("xm.masked-no-exception", s_xm_divss, s_xm_divss_end, V_END, 0, su_xm_masked, 0),
    // Last: a processor that wrongly accepts these writes may be left in a
    // state the rest of the program cannot run in.
    {"gp.wrmsr-efer-reserved-bit.cpl0", s_wrmsr, 0, 0, V_GP, 0, su_efer_rsvd, 0},
    {"gp.wrmsr-fs-base-noncanonical.cpl0", s_wrmsr, 0, 0, V_GP, 0, su_fsbase_nc, 0},
    {"gp.mov-cr4-reserved-bit.cpl0", s_mov_cr4, 0, 0, V_GP, 0, su_cr4_rsvd, 0},
    {"gp.mov-cr0-nw-without-cd.cpl0", s_mov_cr0, 0, 0, V_GP, 0, su_cr0_nw, 0},
    {"gp.mov-cr0-reserved-bit.cpl0", s_mov_cr0, 0, 0, V_GP, 0, su_cr0_rsvd, 0},
};

static void fault_case(uint64_t i) { check(&kFaults[i]); }

// ---- cases with more to check than the frame -------------------------------------

static void x87_details(uint64_t cpl) {
  struct run run;
  struct event ev;
  run_init(&run, (int)cpl, s_mf_fwait);
  su_mf(&run);
  xrun(&run, &ev);
  // FSW: ZE (bit 2) and ES (bit 7) set; FIP is the fdivp.
  expect_vector(&ev, V_MF) && expect_eq("fsw & (ES|ZE)", 0x84, ev.fsw & 0x84) &&
      expect_eq("fip", ADDR(s_mf_fwait_div), ev.fip) && expect_eq("fop (fdivp: de f9)", 0x6f9, ev.fop);
}

static void sse_details(uint64_t cpl) {
  struct run run;
  struct event ev;
  run_init(&run, (int)cpl, s_xm_divss);
  su_xm_zm(&run);
  xrun(&run, &ev);
  // MXCSR.ZE (bit 2) set; the destination keeps 1.0f.
  expect_vector(&ev, V_XM) && expect_eq("mxcsr.ze", 4, ev.mxcsr & 4) &&
      expect_eq("xmm0 (unchanged 1.0f)", 0x3f800000, ev.xmm0[0] & 0xffffffff);
}

static void sse_masked_result(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_xm_divss);
  su_xm_masked(&run);
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_eq("xmm0 (+inf)", 0x7f800000, ev.xmm0[0] & 0xffffffff) &&
      expect_eq("mxcsr.ze", 4, ev.mxcsr & 4);
}

// RF in the pushed RFLAGS: 1 for faults, 0 for traps and software interrupts
// (Intel SDM 17.3.1.1).
static void rf_case(const char* code, int cpl, void (*setup)(struct run*), uint64_t vector, uint64_t rf) {
  struct run run;
  struct event ev;
  run_init(&run, cpl, code);
  if (setup) setup(&run);
  xrun(&run, &ev);
  expect_vector(&ev, vector) && expect_eq("pushed RFLAGS.RF", rf, ev.rflags & FL_RF);
}
static void rf_ud(void) { rf_case(s_ud2, 0, 0, V_UD, FL_RF); }
static void rf_gp_user(void) { rf_case(s_load, 3, su_rsi_nc, V_GP, FL_RF); }
static void rf_de(void) { rf_case(s_div, 3, su_rcx0, V_DE, FL_RF); }
static void rf_int3(void) { rf_case(s_int3, 3, 0, V_BP, 0); }
static void rf_int1(void) { rf_case(s_int1, 0, 0, V_DB, 0); }
static void rf_int_n(void) { rf_case(s_int3_next, 3, 0, V_END, 0); }

// A CPL-0 snippet may load SS with a null selector (64-bit mode allows it
// below CPL 3); the next event's frame has SS = 0.
static void mov_ss_null_cpl0(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_mov_ss_ok);
  run.r.rax = 0;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_mov_ss_ok_end)) && expect_eq("frame ss", 0, ev.ss);
}

// Loading a DPL-3 data segment into SS at CPL 3 works; so does the
// user data selector with RPL 3 into DS.
static void mov_ss_user_ok(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_mov_ss_ok);
  run.r.rax = UDATA2_SEL | 3;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_mov_ss_ok_end)) && expect_eq("frame ss", UDATA2_SEL | 3, ev.ss);
}

int main(void) {
  ktest_init();
  for (uint64_t i = 0; i < ARRAY_SIZE(kFaults); i++) run_case_arg(kFaults[i].name, fault_case, i);
  run_case_arg("mf.status-and-fip.cpl0", x87_details, 0);
  run_case_arg("mf.status-and-fip.cpl3", x87_details, 3);
  run_case_arg("xm.mxcsr-and-destination.cpl0", sse_details, 0);
  run_case_arg("xm.mxcsr-and-destination.cpl3", sse_details, 3);
  static const struct kcase more[] = {
      {"xm.masked-result-inf.cpl0", sse_masked_result},
      {"rf.ud2-fault-pushes-rf.cpl0", rf_ud},
      {"rf.gp-fault-pushes-rf.cpl3", rf_gp_user},
      {"rf.de-fault-pushes-rf.cpl3", rf_de},
      {"rf.int3-trap-pushes-no-rf.cpl3", rf_int3},
      {"rf.int1-trap-pushes-no-rf.cpl0", rf_int1},
      {"rf.int-n-pushes-no-rf.cpl3", rf_int_n},
      {"seg.mov-ss-null-allowed.cpl0", mov_ss_null_cpl0},
      {"seg.mov-ss-user-data.cpl3", mov_ss_user_ok},
  };
  for (uint64_t i = 0; i < ARRAY_SIZE(more); i++) run_case(more[i].name, more[i].fn);
  return cases_finish();
}
