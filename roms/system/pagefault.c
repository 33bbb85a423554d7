// pagefault.c — #PF for each combination of access (read, write, fetch),
// privilege (CPL 0, CPL 3) and page rights (not present, supervisor-only,
// read-only with CR0.WP = 0 and 1, NX with EFER.NXE, reserved bits), at the
// leaf and at upper levels; error code and CR2 exact every time, registers
// and memory untouched by the faulting access, and the instruction restarted
// after the handler fixes the entry.
//
// Sources: Intel SDM Vol. 3A 4.6 (access rights: user access needs U = 1 at
// every level; a write needs R/W = 1 at every level, for supervisor writes
// only when CR0.WP = 1; a fetch needs XD = 0 at every level when NXE = 1),
// 4.7 (error code: P = 0 only for a not-present entry; W/R, U/S describe
// the access; RSVD for a reserved bit in a present entry; I/D = 1 for a
// fetch only when NXE = 1 or SMEP = 1), 4.5 (reserved bits: MAXPHYADDR..51,
// PS in a PML4E, bits 20:13 of a 2 MiB PDE, XD when NXE = 0); AMD APM Vol. 2
// 5.6 and 8.4.2.
#include "ktest.h"

enum { RD, WR, FX };
#define DATA_OFF 0x128  // the accessed byte within the test page
#define CODE_OFF 0x120
#define PATTERN 0x5a5a00000000a5a5ull

SNIPPET(s_rd, "mov (%rsi), %rax\n int $0x81");
SNIPPET(s_wr, "mov %rdx, (%rsi)\n int $0x81");
SNIPPET(s_fx, "jmp *%rsi\n int $0x81");

struct pf_case {
  const char* name;
  int cpl, access;
  uint64_t leaf;              // PTE flags (PTE_P included when present)
  void (*tweak)(uint64_t va); // changes upper levels or control registers
  int faults;                 // 0: the access succeeds
  uint64_t error;
};

// Upper-level and control-register tweaks.
static void pde_not_present(uint64_t va) { *pt_entry(g_kpml4, va, 2, 0) &= ~PTE_P; }
static void pml4e_not_present(uint64_t va) { *pt_entry(g_kpml4, va, 4, 0) &= ~PTE_P; }
static void pde_supervisor(uint64_t va) { *pt_entry(g_kpml4, va, 2, 0) &= ~PTE_U; }
static void pdpte_supervisor(uint64_t va) { *pt_entry(g_kpml4, va, 3, 0) &= ~PTE_U; }
static void pde_read_only(uint64_t va) { *pt_entry(g_kpml4, va, 2, 0) &= ~PTE_W; }
static void pml4e_read_only(uint64_t va) { *pt_entry(g_kpml4, va, 4, 0) &= ~PTE_W; }
static void pde_nx(uint64_t va) { *pt_entry(g_kpml4, va, 2, 0) |= PTE_NX; }
static void no_wp(uint64_t va) { (void)va; write_cr0(g_default_cr0 & ~CR0_WP); }
static void pde_read_only_no_wp(uint64_t va) { pde_read_only(va); no_wp(va); }
static void no_nxe(uint64_t va) { (void)va; wrmsr(MSR_EFER, g_default_efer & ~EFER_NXE); }
static void pte_rsvd(uint64_t va) {
  int bit = max_phys_bits();
  *pt_entry(g_kpml4, va, 1, 0) |= 1ull << (bit < 52 ? bit : 51);
}
static void pte_rsvd_no_wp(uint64_t va) { pte_rsvd(va); no_wp(va); }
static void pte_rsvd_bit51(uint64_t va) { *pt_entry(g_kpml4, va, 1, 0) |= 1ull << 51; }
static void pml4e_ps(uint64_t va) { *pt_entry(g_kpml4, va, 4, 0) |= PTE_PS; }
static void pde_rsvd(uint64_t va) {
  int bit = max_phys_bits();
  *pt_entry(g_kpml4, va, 2, 0) |= 1ull << (bit < 52 ? bit : 51);
}
static void nx_without_nxe(uint64_t va) { no_nxe(va); *pt_entry(g_kpml4, va, 1, 0) |= PTE_NX; }

#define P PTE_P
#define W PTE_W
#define U PTE_U
#define NX PTE_NX

static const struct pf_case kCases[] = {
    // Not present (P = 0 in the PTE).
    {"np.read.cpl0", 0, RD, W | U, 0, 1, 0},
    {"np.write.cpl0", 0, WR, W | U, 0, 1, PF_W},
    {"np.fetch.cpl0", 0, FX, W | U, 0, 1, PF_I},
    {"np.read.cpl3", 3, RD, W | U, 0, 1, PF_U},
    {"np.write.cpl3", 3, WR, W | U, 0, 1, PF_U | PF_W},
    {"np.fetch.cpl3", 3, FX, W | U, 0, 1, PF_U | PF_I},
    {"np.fetch-without-nxe-no-id-bit.cpl0", 0, FX, W | U, no_nxe, 1, 0},
    {"np.fetch-without-nxe-no-id-bit.cpl3", 3, FX, W | U, no_nxe, 1, PF_U},
    // P = 0 in an upper level.
    {"np-pde.read.cpl0", 0, RD, P | W | U, pde_not_present, 1, 0},
    {"np-pde.write.cpl3", 3, WR, P | W | U, pde_not_present, 1, PF_U | PF_W},
    {"np-pml4e.fetch.cpl0", 0, FX, P | W | U, pml4e_not_present, 1, PF_I},
    // P = 0 makes every other bit ignored: a "reserved" bit is not RSVD.
    {"np.reserved-bit-ignored.cpl0", 0, RD, W | U, pte_rsvd_bit51, 1, 0},
    // User access to a supervisor page (P = 1, U = 0).
    {"super.read.cpl3", 3, RD, P | W, 0, 1, PF_P | PF_U},
    {"super.write.cpl3", 3, WR, P | W, 0, 1, PF_P | PF_U | PF_W},
    {"super.fetch.cpl3", 3, FX, P | W, 0, 1, PF_P | PF_U | PF_I},
    {"super.read.cpl0-allowed", 0, RD, P | W, 0, 0, 0},
    {"super.write.cpl0-allowed", 0, WR, P | W, 0, 0, 0},
    {"super.fetch.cpl0-allowed", 0, FX, P | W, 0, 0, 0},
    // U = 0 in an upper level wins over U = 1 in the PTE.
    {"super-pde.read.cpl3", 3, RD, P | W | U, pde_supervisor, 1, PF_P | PF_U},
    {"super-pdpte.write.cpl3", 3, WR, P | W | U, pdpte_supervisor, 1, PF_P | PF_U | PF_W},
    // Read-only pages.
    {"ro.write.cpl3", 3, WR, P | U, 0, 1, PF_P | PF_U | PF_W},
    {"ro.read.cpl3-allowed", 3, RD, P | U, 0, 0, 0},
    {"ro.write.cpl0-wp1", 0, WR, P | U, 0, 1, PF_P | PF_W},
    {"ro.write.cpl0-wp0-allowed", 0, WR, P | U, no_wp, 0, 0},
    {"ro.write.cpl3-wp0-still-faults", 3, WR, P | U, no_wp, 1, PF_P | PF_U | PF_W},
    {"ro-super.write.cpl0-wp1", 0, WR, P, 0, 1, PF_P | PF_W},
    {"ro-super.write.cpl0-wp0-allowed", 0, WR, P, no_wp, 0, 0},
    {"ro-pde.write.cpl3", 3, WR, P | W | U, pde_read_only, 1, PF_P | PF_U | PF_W},
    {"ro-pde.write.cpl0-wp1", 0, WR, P | W | U, pde_read_only, 1, PF_P | PF_W},
    {"ro-pml4e.write.cpl0-wp1", 0, WR, P | W | U, pml4e_read_only, 1, PF_P | PF_W},
    {"ro-pde.write.cpl0-wp0-allowed", 0, WR, P | W | U, pde_read_only_no_wp, 0, 0},
    // NX (EFER.NXE = 1).
    {"nx.fetch.cpl0", 0, FX, P | W | U | NX, 0, 1, PF_P | PF_I},
    {"nx.fetch.cpl3", 3, FX, P | W | U | NX, 0, 1, PF_P | PF_U | PF_I},
    {"nx.read.cpl3-allowed", 3, RD, P | W | U | NX, 0, 0, 0},
    {"nx.write.cpl0-allowed", 0, WR, P | W | U | NX, 0, 0, 0},
    {"nx-pde.fetch.cpl0", 0, FX, P | W | U, pde_nx, 1, PF_P | PF_I},
    // Reserved bits: RSVD = 1 and P = 1; the access kind as usual.
    {"rsvd.read.cpl0", 0, RD, P | W | U, pte_rsvd, 1, PF_P | PF_RSVD},
    {"rsvd.write.cpl0", 0, WR, P | W | U, pte_rsvd, 1, PF_P | PF_RSVD | PF_W},
    {"rsvd.read.cpl3", 3, RD, P | W | U, pte_rsvd, 1, PF_P | PF_RSVD | PF_U},
    {"rsvd.fetch.cpl0", 0, FX, P | W | U, pte_rsvd, 1, PF_P | PF_RSVD | PF_I},
    // A reserved bit means no translation at all: no protection check runs.
    {"rsvd.beats-read-only.cpl3", 3, WR, P | U, pte_rsvd, 1, PF_P | PF_RSVD | PF_U | PF_W},
    {"rsvd.read-only-wp0.cpl0", 0, WR, P | U, pte_rsvd_no_wp, 1, PF_P | PF_RSVD | PF_W},
    {"rsvd-pde.read.cpl0", 0, RD, P | W | U, pde_rsvd, 1, PF_P | PF_RSVD},
    {"rsvd-pml4e-ps.read.cpl0", 0, RD, P | W | U, pml4e_ps, 1, PF_P | PF_RSVD},
    // XD set while EFER.NXE = 0 is a reserved bit (and I/D stays 0).
    {"rsvd.nx-without-nxe.read.cpl0", 0, RD, P | W | U, nx_without_nxe, 1, PF_P | PF_RSVD},
    {"rsvd.nx-without-nxe.fetch.cpl3", 3, FX, P | W | U, nx_without_nxe, 1, PF_P | PF_RSVD | PF_U},
};

// Runs one access to a fresh page (in its own PML4 slot, so upper-level
// tweaks touch nothing else) and checks the event, CR2, the registers, the
// frame and the page contents.
static void pf_case(uint64_t i) {
  const struct pf_case* c = &kCases[i];
  uint64_t va = fresh_region() + 0x40000000ull + 0x5000;  // PML4E, PDPTE, PDE, PTE all of its own
  uint64_t pa = alloc_frame();
  uint64_t* data = (uint64_t*)(uintptr_t)(pa + DATA_OFF);
  *data = PATTERN;
  uint8_t* code = (uint8_t*)(uintptr_t)(pa + CODE_OFF);
  code[0] = 0xcd;  // int $0x81
  code[1] = 0x81;
  map_page(g_kpml4, va, pa, c->leaf);
  if (c->tweak) c->tweak(va);
  invlpg(va);

  struct run run;
  struct event ev;
  const char* snippet = c->access == RD ? s_rd : c->access == WR ? s_wr : s_fx;
  run_init(&run, c->cpl, snippet);
  run.rflags = FL_FIXED | FL_CF | FL_OF;
  uint64_t target = va + (c->access == FX ? CODE_OFF : DATA_OFF);
  run.r.rsi = target;
  run.r.rdx = 0x1122334455667788ull;
  xrun(&run, &ev);

  if (!c->faults) {
    // No fault: the read got the data, the write stored it, the fetch ran
    // the int $0x81 on the page.
    if (c->access == FX) {
      expect_event(&ev, V_END, 0, target + 2);
    } else {
      expect_event(&ev, V_END, 0, ADDR(snippet) + 3 + 2);
      if (c->access == RD) expect_eq("value read", PATTERN, ev.r.rax);
      else expect_eq("value written", 0x1122334455667788ull, *data);
    }
    return;
  }
  // The fault: at the instruction (a fetch faults at the target), CR2 =
  // the address, registers and frame as before the access, memory unchanged.
  uint64_t rip = c->access == FX ? target : ADDR(snippet);
  expect_event(&ev, V_PF, c->error, rip) && expect_eq("cr2", target, ev.cr2) && expect_regs(&ev, &run.r, 0) &&
      expect_eq("frame rsp", run.r.rsp, ev.rsp) && expect_eq("frame cs", run.cs, ev.cs) &&
      expect_eq("frame rflags", run.rflags, ev.rflags & ~(uint64_t)FL_RF) && expect_eq("memory unchanged", PATTERN, *data);
}

// ---- restart, stacks, string instructions, split accesses --------------------------

// The handler makes the page writable and returns: the store is executed
// again and completes; exactly one #PF.
static uint64_t fix_va;
static int fix_hook(struct frame* f, const struct event* ev) {
  (void)f;
  if (ev->vector != V_PF || ev->cr2 != fix_va + DATA_OFF) return HOOK_DECLINE;
  *pt_entry(g_kpml4, fix_va, 1, 0) |= PTE_W;
  invlpg(fix_va);
  return HOOK_RESUME;
}
SNIPPET(s_wr_end, "mov %rdx, (%rsi)\n int $0x81\n s_wr_end_at:");
SNIPPET_LABEL(s_wr_end_at);
static void restart_after_fix(uint64_t cpl) {
  uint64_t pa;
  fix_va = new_page(PTE_P | PTE_U, &pa);
  g_hook = fix_hook;
  struct run run;
  struct event ev;
  run_init(&run, (int)cpl, s_wr_end);
  run.r.rsi = fix_va + DATA_OFF;
  run.r.rdx = 0xfeedf00d;
  xrun(&run, &ev);
  expect_event(&ev, V_END, 0, ADDR(s_wr_end_at)) && expect_eq("events", 2, g_nlog) &&
      expect_eq("#PF error", PF_P | PF_W | (cpl == 3 ? PF_U : 0), g_log[0].error) &&
      expect_eq("value", 0xfeedf00d, *(uint64_t*)(uintptr_t)(pa + DATA_OFF)) && expect_regs(&ev, &run.r, 0);
}
static void restart_cpl0(void) { restart_after_fix(0); }
static void restart_cpl3(void) { restart_after_fix(3); }

// A user push onto an unmapped stack page: #PF(W|U), CR2 = RSP - 8, the
// frame's RSP is the old one.
SNIPPET(s_push, "push %rax\n int $0x81");
static void push_unmapped_stack(void) {
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, 0);  // the page below va is unmapped
  struct run run;
  struct event ev;
  run_init(&run, 3, s_push);
  run.r.rsp = va;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, PF_W | PF_U, ADDR(s_push)) && expect_eq("cr2", va - 8, ev.cr2) &&
      expect_eq("frame rsp", va, ev.rsp) && expect_regs(&ev, &run.r, 0);
}

// rep movsb into an unmapped page: the fault comes at the first byte of that
// page, with RSI, RDI, RCX describing the iterations done (the instruction
// can be restarted); the bytes before the boundary were copied.
SNIPPET(s_rep_movsb, "rep movsb\n int $0x81");
static uint8_t src_bytes[64];
static void rep_movsb_fault(void) {
  uint64_t pa;
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, &pa);  // va + 4096 is unmapped
  for (int i = 0; i < 64; i++) src_bytes[i] = (uint8_t)(i + 1);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_rep_movsb);
  run.r.rsi = ADDR(src_bytes);
  run.r.rdi = va + PAGE_SIZE - 8;
  run.r.rcx = 16;
  xrun(&run, &ev);
  const uint8_t* dst = (const uint8_t*)(uintptr_t)(pa + PAGE_SIZE - 8);
  expect_event(&ev, V_PF, PF_W | PF_U, ADDR(s_rep_movsb)) && expect_eq("cr2", va + PAGE_SIZE, ev.cr2) &&
      expect_eq("rcx (left)", 8, ev.r.rcx) && expect_eq("rdi", va + PAGE_SIZE, ev.r.rdi) &&
      expect_eq("rsi", ADDR(src_bytes) + 8, ev.r.rsi) && expect_eq("first byte copied", 1, dst[0]) &&
      expect_eq("last byte before the boundary", 8, dst[7]);
}

// A loop reading a table through an index the loop bounds (and $0x3f: up to
// 64 qwords) where only the first 32 fit before an unmapped page. While the
// indices stay below 32 nothing faults, whatever range the bound allows;
// index 32 is a #PF at the read, with the registers of that iteration. Each
// case runs its own copy of the loop: a translator that declines its check
// once translates that copy without it from then on.
#define LOOP_READ_BODY "1: mov %rcx, %rax\n and $0x3f, %rax\n add (%rsi,%rax,8), %rdx\n inc %rcx\n cmp %rdi, %rcx\n jne 1b\n int $0x81"
SNIPPET(s_loop_read, LOOP_READ_BODY);
SNIPPET(s_loop_read_past, LOOP_READ_BODY);
// Runs the loop over indices first..last-1 of a fresh table; returns its base.
static uint64_t run_loop_read(const char* loop, uint64_t first, uint64_t last, struct event* ev) {
  uint64_t pa;
  const uint64_t va = new_page(PTE_P | PTE_W | PTE_U, &pa);  // va + 4096 is unmapped
  uint64_t* t = (uint64_t*)(uintptr_t)(pa + PAGE_SIZE - 256);
  for (int i = 0; i < 32; i++) t[i] = 1ull << i;
  struct run run;
  run_init(&run, 0, loop);
  run.r.rsi = va + PAGE_SIZE - 256;
  run.r.rcx = first;
  run.r.rdi = last;
  run.r.rdx = 0;
  xrun(&run, ev);
  return run.r.rsi;
}
static void loop_read_in_bounds(void) {
  struct event ev;
  run_loop_read(s_loop_read, 1, 32, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum of entries 1..31", 0xfffffffeull, ev.r.rdx);
}
static void loop_read_past_page(void) {
  struct event ev;
  const uint64_t table = run_loop_read(s_loop_read_past, 28, 40, &ev);
  expect_event(&ev, V_PF, 0, ADDR(s_loop_read_past) + 7) && expect_eq("cr2", table + 256, ev.cr2) &&
      expect_eq("rcx", 32, ev.r.rcx) && expect_eq("rax", 32, ev.r.rax) &&
      expect_eq("rdx (entries 28..31)", 0xf0000000ull, ev.r.rdx);
}

// A loop whose accesses through one unchanging base (an access group the
// translator may check once before the loop) reach an unmapped page with
// the second of them. Run once, it leaves before that access: nothing
// faults. Run twice, the second access faults precisely in the first
// iteration. (Each case has its own copy of the loop, as above.)
#define LOOP_GROUP_BODY "1: add (%rbx), %rdx\n dec %rcx\n jz 2f\n add 8(%rbx), %rdx\n cmp %rcx, %rdi\n jne 1b\n 2: int $0x81"
SNIPPET(s_loop_group_once, LOOP_GROUP_BODY);
SNIPPET(s_loop_group_twice, LOOP_GROUP_BODY);
static void loop_group_run(const char* loop, uint64_t iterations, struct event* ev, uint64_t* unmapped) {
  uint64_t pa;
  const uint64_t va = new_page(PTE_P | PTE_W | PTE_U, &pa);  // va + 4096 is unmapped
  *(uint64_t*)(uintptr_t)(pa + PAGE_SIZE - 8) = 40;
  struct run run;
  run_init(&run, 0, loop);
  run.r.rbx = va + PAGE_SIZE - 8;
  run.r.rcx = iterations;
  run.r.rdx = 2;
  run.r.rdi = ~0ull;
  *unmapped = va + PAGE_SIZE;
  xrun(&run, ev);
}
static void loop_group_leaves_before_unmapped(void) {
  struct event ev;
  uint64_t unmapped;
  loop_group_run(s_loop_group_once, 1, &ev, &unmapped);
  expect_vector(&ev, V_END) && expect_eq("rdx (2 + 40)", 42, ev.r.rdx) && expect_eq("rcx", 0, ev.r.rcx);
}
static void loop_group_member_faults(void) {
  struct event ev;
  uint64_t unmapped;
  loop_group_run(s_loop_group_twice, 2, &ev, &unmapped);
  expect_event(&ev, V_PF, 0, ADDR(s_loop_group_twice) + 8) && expect_eq("cr2", unmapped, ev.cr2) &&
      expect_eq("rdx (2 + 40)", 42, ev.r.rdx) && expect_eq("rcx", 1, ev.r.rcx);
}

// A forward jcc that the translator continues past (a side exit): when it
// is not taken, a fault further on is precise, with the fall-through's
// registers; when it is taken, nothing after it runs.
SNIPPET(s_side_exit, "add (%rbx), %rdx\n cmp $0, %rdi\n jne 1f\n add $5, %rdx\n mov (%rsi), %rax\n 1: int $0x81");
static void side_exit_run(const char* snippet, uint64_t taken, struct event* ev, uint64_t* unmapped) {
  uint64_t pa;
  const uint64_t va = new_page(PTE_P | PTE_W | PTE_U, &pa);  // va + 4096 is unmapped
  *(uint64_t*)(uintptr_t)pa = 100;
  struct run run;
  run_init(&run, 0, snippet);
  run.r.rbx = va;
  run.r.rsi = *unmapped = va + PAGE_SIZE;
  run.r.rdi = taken;
  run.r.rdx = 1;
  run.r.rax = 7;
  xrun(&run, ev);
}
// Not taken: the fault at `fault_off` is precise. Taken: the int at
// `end_off` ends the run with nothing after the branch done.
static void side_exit_not_taken(const char* snippet, uint64_t fault_off) {
  struct event ev;
  uint64_t unmapped;
  side_exit_run(snippet, 0, &ev, &unmapped);
  expect_event(&ev, V_PF, 0, ADDR(snippet) + fault_off) && expect_eq("cr2", unmapped, ev.cr2) &&
      expect_eq("rdx (1 + 100 + 5)", 106, ev.r.rdx) && expect_eq("rax", 7, ev.r.rax);
}
static void side_exit_taken_to(const char* snippet, uint64_t end_off) {
  struct event ev;
  uint64_t unmapped;
  side_exit_run(snippet, 1, &ev, &unmapped);
  expect_event(&ev, V_END, 0, ADDR(snippet) + end_off) && expect_eq("rdx (1 + 100)", 101, ev.r.rdx) &&
      expect_eq("rax", 7, ev.r.rax) && expect_eq("rsi", unmapped, ev.r.rsi);
}
static void side_exit_fault(void) { side_exit_not_taken(s_side_exit, 13); }
static void side_exit_taken(void) { side_exit_taken_to(s_side_exit, 18); }

// The same with the branch backward, to code before it that does not run
// back into it (the translator goes on past such a jcc too).
SNIPPET(s_back_side_exit,
        "jmp 2f\n 1: int $0x81\n ud2\n 2: add (%rbx), %rdx\n cmp $0, %rdi\n jne 1b\n add $5, %rdx\n mov (%rsi), %rax\n"
        " int $0x81");
static void back_side_exit_fault(void) { side_exit_not_taken(s_back_side_exit, 19); }
static void back_side_exit_taken(void) { side_exit_taken_to(s_back_side_exit, 4); }

// A jmp through an unmapped pointer after an add or a cmp, whose flags the
// block saves as which instruction made them (cpu/lazy_flags.h): the #PF's
// frame has the flags that instruction made, rebuilt by the VMM. After an
// xor of a register with itself the block stores the flags themselves.
SNIPPET(s_add_then_jmp_mem, "add $1, %rcx\n jmp *(%rsi)");
SNIPPET(s_cmp_then_jmp_mem, "cmp %rdx, %rdi\n jmp *(%rsi)");
SNIPPET(s_xor_then_jmp_mem, "xor %ecx, %ecx\n jmp *(%rsi)");
static void flags_before_jmp_fault(const char* snippet, uint64_t jmp_off, uint64_t want_flags) {
  uint64_t pa;
  const uint64_t va = new_page(PTE_P | PTE_W, &pa);  // va + 4096 is unmapped
  struct run run;
  struct event ev;
  run_init(&run, 0, snippet);
  run.rflags = FL_FIXED;
  run.r.rcx = 0x7fffffffffffffffull;  // + 1: OF SF AF PF
  run.r.rdi = 1;
  run.r.rdx = 2;  // 1 - 2: CF SF AF PF
  run.r.rsi = va + PAGE_SIZE;
  xrun(&run, &ev);
  // (AF is undefined after xor: not compared.)
  const uint64_t ignored = FL_RF | (snippet == s_xor_then_jmp_mem ? FL_AF : 0);
  expect_event(&ev, V_PF, 0, ADDR(snippet) + jmp_off) && expect_eq("cr2", va + PAGE_SIZE, ev.cr2) &&
      expect_eq("frame rflags", FL_FIXED | want_flags, ev.rflags & ~ignored);
}
static void add_then_jmp_fault(void) {
  flags_before_jmp_fault(s_add_then_jmp_mem, 4, FL_OF | FL_SF | FL_AF | FL_PF);
}
static void cmp_then_jmp_fault(void) {
  flags_before_jmp_fault(s_cmp_then_jmp_mem, 3, FL_CF | FL_SF | FL_AF | FL_PF);
}
static void xor_then_jmp_fault(void) { flags_before_jmp_fault(s_xor_then_jmp_mem, 2, FL_ZF | FL_PF); }

// Faults inside a trace (cpu/vcpu_traces.cpp): a loop of two handlers that
// jmp to each other through registers. The one at 2 is translated first,
// so its counter runs out first (with -accel tcg,traces=1, within a few
// iterations): the trace starts there, and the handler at 1, with the
// load, follows its guard. The load faults on iteration 51: RIP, CR2 and
// the registers are the guest's. Where nothing reads the flags before they
// are written again (the first two), they are not compared (exact only
// with -accel tcg,precise-flags=on, which makes no traces); the second
// changes rcx, the operand of the add whose flags the block stored as
// which instruction made them, before the load. In the third, an add after
// the guard writes the flags and an adc after the load reads them: the
// frame has the add's, from the host's flags (not the ones saved before the
// guard). (Aligned: one page holds each loop.)
#define TRACE_LOOP(name, handler1, handler2)                                          \
  __asm__(".pushsection .text.snippets,\"ax\",@progbits\n\t.balign 256\n" #name ":\n\t" \
          "lea 1f(%rip), %r9\n\t"                                                      \
          "lea 2f(%rip), %rdx\n\t"                                                     \
          "jmp *%rdx\n"                                                                \
          "1: " handler1 "\n\t"                                                        \
          "jmp *%rdx\n"                                                                \
          "2: " handler2 "\n\t"                                                        \
          "jmp *%r9\n"                                                                 \
          "3: int $0x81\n\t"                                                           \
          ".popsection\n");                                                            \
  SNIPPET_LABEL(name);                                                                \
  SNIPPET_LABEL(name##_load)
TRACE_LOOP(s_trace_guard_pf, "s_trace_guard_pf_load: mov (%rsi), %rax\n\tlea 8(%rsi), %rsi\n\tadd $1, %rcx",
           "sub $1, %r8\n\tjz 3f");
TRACE_LOOP(s_trace_guard_lea_pf,
           "lea 1(%rcx), %rcx\n s_trace_guard_lea_pf_load: mov (%rsi), %rax\n\tlea 8(%rsi), %rsi\n\t"
           "sub $1, %r8\n\tjz 3f",
           "add $1, %rcx");
TRACE_LOOP(s_trace_guard_live_pf,
           "add $1, %rcx\n s_trace_guard_live_pf_load: mov (%rsi), %rax\n\tlea 8(%rsi), %rsi\n\tadc $0, %r10",
           "sub $1, %r8\n\tjz 3f");
#undef TRACE_LOOP
// `rcx_at_fault`: after the 50 iterations before; `r8_at_fault` too.
static void trace_guard_fault_in(const char* snippet, const char* load, uint64_t rcx_at_fault, uint64_t r8_at_fault,
                                 int flags_live) {
  uint64_t pa;
  const uint64_t va = new_page(PTE_P | PTE_W, &pa);  // va + 4096 is unmapped
  struct run run;
  struct event ev;
  run_init(&run, 0, snippet);
  run.rflags = FL_FIXED;
  run.r.rsi = va + PAGE_SIZE - 50 * 8;  // 50 loads, then the 51st faults
  run.r.r8 = 1000;
  run.r.rcx = 0x7fffffffffffffffull - 50;
  xrun(&run, &ev);
  struct regs want = run.r;
  want.rsi = va + PAGE_SIZE;
  want.r8 = r8_at_fault;
  want.rcx = rcx_at_fault;
  want.rax = 0;                       // (the page is new: zeros)
  want.r9 = ADDR(snippet) + 14 + 2;   // (two 7-byte leas and a 2-byte jmp before 1)
  want.rdx = ev.r.rdx;                // (2: compared through the loop running at all)
  expect_event(&ev, V_PF, 0, ADDR(load)) && expect_eq("cr2", va + PAGE_SIZE, ev.cr2) && expect_regs(&ev, &want, 0) &&
      (!flags_live || expect_eq("frame rflags", FL_FIXED | FL_OF | FL_SF | FL_AF | FL_PF, ev.rflags & ~FL_RF));
}
// (Iteration 51: the handler at 2, then the one at 1, faulting.)
static void trace_guard_fault(void) {
  trace_guard_fault_in(s_trace_guard_pf, s_trace_guard_pf_load, 0x7fffffffffffffffull, 1000 - 51, 0);
}
static void trace_guard_lea_fault(void) {
  // (rcx: + 1 in each handler, 51 times each.)
  trace_guard_fault_in(s_trace_guard_lea_pf, s_trace_guard_lea_pf_load, 0x7fffffffffffffffull - 50 + 102, 1000 - 50, 0);
}
static void trace_guard_live_fault(void) {
  // The 51st add: 0x7fffffffffffffff + 1 (OF SF AF PF).
  trace_guard_fault_in(s_trace_guard_live_pf, s_trace_guard_live_pf_load, 0x8000000000000000ull, 1000 - 51, 1);
}

// An instruction that starts on a mapped page and ends on an unmapped one:
// the fetch faults with RIP = the instruction's start and CR2 = the first
// byte of the unmapped page.
static void fetch_split_instruction(void) {
  uint64_t pa;
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, &pa);
  uint8_t* p = (uint8_t*)(uintptr_t)(pa + PAGE_SIZE - 4);
  p[0] = 0x48;  // movabs $imm64, %rax: 48 b8 + 8 bytes, 6 of them on the next page
  p[1] = 0xb8;
  p[2] = 0x11;
  p[3] = 0x22;
  struct run run;
  struct event ev;
  run_init(&run, 3, s_fx);
  run.r.rsi = va + PAGE_SIZE - 4;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, PF_U | PF_I, va + PAGE_SIZE - 4) && expect_eq("cr2", va + PAGE_SIZE, ev.cr2) &&
      expect_regs(&ev, &run.r, 0);
}

// A data access split across the boundary: CR2 is in the unmapped page (the
// bytes of the access that lie there), the register is unchanged.
static void data_split_access(void) {
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, 0);
  struct run run;
  struct event ev;
  run_init(&run, 0, s_rd);
  run.r.rsi = va + PAGE_SIZE - 4;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, 0, ADDR(s_rd)) &&
      expect_true("cr2 in the unmapped part of the access", ev.cr2 >= va + PAGE_SIZE && ev.cr2 < va + PAGE_SIZE + 4) &&
      expect_eq("rax unchanged", run.r.rax, ev.r.rax);
}

// CR2 is written only by a #PF: a #GP leaves the previous value.
static void cr2_kept_by_gp(void) {
  write_cr2(0x123456789ull);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_rd);
  run.r.rsi = NONCANONICAL;
  xrun(&run, &ev);
  expect_vector(&ev, V_GP) && expect_eq("cr2", 0x123456789ull, ev.cr2);
}

// 2 MiB pages: a write to a read-only large page faults like a 4 KiB one.
static void large_page_read_only(void) {
  uint64_t va = fresh_region() + (2ull << 21);
  *pt_entry(g_kpml4, va, 2, 1) = LARGE_BASE | PTE_P | PTE_U | PTE_PS;
  invlpg(va);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_wr);
  run.r.rsi = va + 0x12345 * 8;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, PF_P | PF_W | PF_U, ADDR(s_wr)) && expect_eq("cr2", va + 0x12345 * 8, ev.cr2);
}
// ... and bits 20:13 of a 2 MiB PDE are reserved.
static void large_page_reserved(void) {
  uint64_t va = fresh_region() + (2ull << 21);
  *pt_entry(g_kpml4, va, 2, 1) = LARGE_BASE | (1ull << 13) | PTE_P | PTE_W | PTE_U | PTE_PS;
  invlpg(va);
  struct run run;
  struct event ev;
  run_init(&run, 0, s_rd);
  run.r.rsi = va + 0x808;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, PF_P | PF_RSVD, ADDR(s_rd)) && expect_eq("cr2", va + 0x808, ev.cr2);
}

// An indirect jmp or call through a table or a pointer whose address the
// instruction itself holds (absolute with an index the code bounds just
// before, RIP-relative), on an unmapped page (256 MiB lies outside the
// identity map): #PF at the branch, CR2 = the entry read, no register
// changed and nothing pushed.
SNIPPET(s_jmp_table, "movzbl %al, %eax\n jmp *0x10000000(,%rax,8)\n int $0x81");
SNIPPET(s_call_pointer, "call *0x10000000(%rip)\n int $0x81");
static void jump_table_unmapped(void) {
  struct run run;
  struct event ev;
  run_init(&run, 3, s_jmp_table);
  run.r.rax = 5;
  xrun(&run, &ev);
  expect_event(&ev, V_PF, PF_U, ADDR(s_jmp_table) + 3) && expect_eq("cr2", 0x10000000 + 5 * 8, ev.cr2) &&
      expect_regs(&ev, &run.r, 0);
}
static void call_pointer_unmapped(void) {
  struct run run;
  struct event ev;
  run_init(&run, 0, s_call_pointer);
  xrun(&run, &ev);
  // (call *disp32(%rip) is 6 bytes: ff 15 disp32.)
  expect_event(&ev, V_PF, 0, ADDR(s_call_pointer)) &&
      expect_eq("cr2", ADDR(s_call_pointer) + 6 + 0x10000000, ev.cr2) && expect_regs(&ev, &run.r, 0);
}

int main(void) {
  ktest_init();
  for (uint64_t i = 0; i < ARRAY_SIZE(kCases); i++) {
    char name[80];
    guest_snprintf(name, sizeof name, "pf.%s", kCases[i].name);
    run_case_arg(name, pf_case, i);
  }
  static const struct kcase more[] = {
      {"pf.restart-after-fix.cpl0", restart_cpl0},
      {"pf.restart-after-fix.cpl3", restart_cpl3},
      {"pf.push-to-unmapped-stack.cpl3", push_unmapped_stack},
      {"pf.rep-movsb-into-unmapped-page.cpl3", rep_movsb_fault},
      {"pf.loop-read-bound-reaches-unmapped-page.cpl0", loop_read_in_bounds},
      {"pf.loop-read-past-page.cpl0", loop_read_past_page},
      {"pf.loop-group-leaves-before-unmapped-page.cpl0", loop_group_leaves_before_unmapped},
      {"pf.loop-group-member-faults.cpl0", loop_group_member_faults},
      {"pf.after-side-exit-not-taken.cpl0", side_exit_fault},
      {"pf.side-exit-taken.cpl0", side_exit_taken},
      {"pf.after-backward-side-exit-not-taken.cpl0", back_side_exit_fault},
      {"pf.backward-side-exit-taken.cpl0", back_side_exit_taken},
      {"pf.jmp-through-unmapped-after-add.cpl0", add_then_jmp_fault},
      {"pf.jmp-through-unmapped-after-cmp.cpl0", cmp_then_jmp_fault},
      {"pf.jmp-through-unmapped-after-xor-self.cpl0", xor_then_jmp_fault},
      {"pf.after-trace-guard.cpl0", trace_guard_fault},
      {"pf.after-trace-guard-operand-changed.cpl0", trace_guard_lea_fault},
      {"pf.after-trace-guard-flags-live.cpl0", trace_guard_live_fault},
      {"pf.fetch-of-split-instruction.cpl3", fetch_split_instruction},
      {"pf.split-data-access.cpl0", data_split_access},
      {"pf.cr2-kept-by-gp.cpl3", cr2_kept_by_gp},
      {"pf.large-page-read-only.cpl3", large_page_read_only},
      {"pf.large-page-reserved-bits.cpl0", large_page_reserved},
      {"pf.jump-table-on-unmapped-page.cpl3", jump_table_unmapped},
      {"pf.call-through-unmapped-pointer.cpl0", call_pointer_unmapped},
  };
  for (uint64_t i = 0; i < ARRAY_SIZE(more); i++) run_case(more[i].name, more[i].fn);
  return cases_finish();
}
