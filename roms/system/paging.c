// paging.c — what the page walker and the TLB must get right beyond error
// codes: accessed and dirty bits, when changes to page tables become
// visible (INVLPG, CR3 writes, CR4.PGE), global pages, page tables written
// through aliases and through a recursive mapping, and switching between
// address spaces that map the same virtual address differently.
//
// Sources: Intel SDM Vol. 3A 4.8 (A: set in every paging-structure entry
// used by a translation; D: set in the entry that maps the page on a write),
// 4.10.2-4.10.4 (TLBs and paging-structure caches; INVLPG invalidates the
// page and the paging-structure caches; a CR3 write invalidates all
// non-global entries; toggling CR4.PGE invalidates all, global included; a
// global translation *may* survive a CR3 write: keeping it is allowed, not
// required, so the cases accept both); AMD APM Vol. 2 5.4, 5.5.
//
// What is guaranteed is tested; what is only permitted (a stale entry still
// being used) is never required.
#include "ktest.h"

#define OFF 0x238

SNIPPET(s_rd, "mov (%rsi), %rax\n int $0x81");
SNIPPET(s_wr, "mov %rdx, (%rsi)\n int $0x81");
SNIPPET(s_call, "call *%rsi\n int $0x81");
SNIPPET(s_push, "push %rax\n int $0x81");
SNIPPET(s_lock_add, "lock addq $1, (%rsi)\n int $0x81");
SNIPPET(s_int80, "int $0x80\n int $0x81");
SNIPPET(s_int81, "int $0x81");

static inline uint64_t rd(uint64_t va) { return *(volatile uint64_t*)(uintptr_t)va; }
static inline void wr(uint64_t va, uint64_t v) { *(volatile uint64_t*)(uintptr_t)va = v; }
static inline uint64_t* entry(uint64_t va, int level) { return pt_entry(g_kpml4, va, level, 0); }
static inline uint64_t phys_rd(uint64_t pa) { return *(volatile uint64_t*)(uintptr_t)pa; }

// A page in its own PML4 slot, every entry of its walk with A = D = 0.
static uint64_t fresh_page(uint64_t flags, uint64_t* pa) {
  uint64_t va = fresh_region() + 0x80000000ull + 0x3000;
  uint64_t frame = alloc_frame();
  map_page(g_kpml4, va, frame, flags);
  if (pa) *pa = frame;
  write_cr3(read_cr3());
  return va;
}

static int expect_ad(uint64_t va, uint64_t leaf_want) {
  return expect_eq("PTE A|D", leaf_want, *entry(va, 1) & (PTE_A | PTE_D)) &&
         expect_eq("PDE A", PTE_A, *entry(va, 2) & PTE_A) && expect_eq("PDPTE A", PTE_A, *entry(va, 3) & PTE_A) &&
         expect_eq("PML4E A", PTE_A, *entry(va, 4) & PTE_A);
}

static void run_access(int cpl, const char* snippet, uint64_t rsi, struct event* ev) {
  struct run run;
  run_init(&run, cpl, snippet);
  run.r.rsi = rsi;
  xrun(&run, ev);
}

// ---- accessed and dirty ---------------------------------------------------------------

static void ad_untouched(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  expect_eq("PTE A|D before any access", 0, *entry(va, 1) & (PTE_A | PTE_D)) &&
      expect_eq("PML4E A before any access", 0, *entry(va, 4) & PTE_A);
}
static void ad_read(uint64_t cpl) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  struct event ev;
  run_access((int)cpl, s_rd, va + OFF, &ev);
  expect_vector(&ev, V_END) && expect_ad(va, PTE_A);
}
static void ad_write(uint64_t cpl) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  struct event ev;
  run_access((int)cpl, s_wr, va + OFF, &ev);
  expect_vector(&ev, V_END) && expect_ad(va, PTE_A | PTE_D);
}
static void ad_fetch(uint64_t cpl) {
  uint64_t pa;
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, &pa);
  *(volatile uint8_t*)(uintptr_t)(pa + OFF) = 0xc3;  // ret
  struct event ev;
  run_access((int)cpl, s_call, va + OFF, &ev);
  expect_vector(&ev, V_END) && expect_ad(va, PTE_A);
}
static void ad_locked_rmw(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  struct event ev;
  run_access(3, s_lock_add, va + OFF, &ev);
  expect_vector(&ev, V_END) && expect_ad(va, PTE_A | PTE_D);
}
static void ad_push(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  struct run run;
  struct event ev;
  run_init(&run, 3, s_push);
  run.r.rsp = va + 0x800;
  xrun(&run, &ev);
  expect_vector(&ev, V_END) && expect_ad(va, PTE_A | PTE_D);
}
static void ad_read_only_read(void) {
  uint64_t va = fresh_page(PTE_P | PTE_U, 0);
  struct event ev;
  run_access(3, s_rd, va + OFF, &ev);
  expect_vector(&ev, V_END) && expect_ad(va, PTE_A);
}
// A write that faults (read-only page at CPL 3) does not write, so it sets
// no D. (Whether A gets set on a protection fault is not specified.)
static void ad_faulting_write(void) {
  uint64_t va = fresh_page(PTE_P | PTE_U, 0);
  struct event ev;
  run_access(3, s_wr, va + OFF, &ev);
  expect_vector(&ev, V_PF) && expect_eq("PTE D", 0, *entry(va, 1) & PTE_D);
}
// A not-present entry belongs to software (an OS keeps swap information in
// it): the processor never writes it, so a fault on it leaves it bit for bit.
static void ad_not_present_untouched(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  const uint64_t swap_entry = 0x7ff0000123456ffeull;  // P = 0, every other bit used
  *entry(va, 1) = swap_entry;
  invlpg(va);
  struct event ev;
  run_access(3, s_wr, va + OFF, &ev);
  expect_event(&ev, V_PF, PF_W | PF_U, ADDR(s_wr)) && expect_eq("PTE", swap_entry, *entry(va, 1));
}
// A write split over two pages sets D in both PTEs.
static void ad_split_write(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  map_page(g_kpml4, va + PAGE_SIZE, alloc_frame(), PTE_P | PTE_W | PTE_U);
  invlpg(va + PAGE_SIZE);
  struct event ev;
  run_access(0, s_wr, va + PAGE_SIZE - 4, &ev);
  expect_vector(&ev, V_END) && expect_eq("first PTE A|D", PTE_A | PTE_D, *entry(va, 1) & (PTE_A | PTE_D)) &&
      expect_eq("second PTE A|D", PTE_A | PTE_D, *entry(va + PAGE_SIZE, 1) & (PTE_A | PTE_D));
}
// Software clears A and D and invalidates: the next accesses set them again.
static void ad_set_again_after_invlpg(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W | PTE_U, 0);
  wr(va + OFF, 1);
  *entry(va, 1) &= ~(PTE_A | PTE_D);
  invlpg(va);
  (void)rd(va + OFF);
  if (!expect_eq("after read: A|D", PTE_A, *entry(va, 1) & (PTE_A | PTE_D))) return;
  *entry(va, 1) &= ~(PTE_A | PTE_D);
  invlpg(va);
  wr(va + OFF, 2);
  expect_eq("after write: A|D", PTE_A | PTE_D, *entry(va, 1) & (PTE_A | PTE_D));
}
// A 2 MiB page: A and D in the PDE (the entry that maps the page).
static void ad_large_page(void) {
  uint64_t va = fresh_region() + (4ull << 21);
  *pt_entry(g_kpml4, va, 2, 1) = LARGE_BASE | PTE_P | PTE_W | PTE_U | PTE_PS;
  write_cr3(read_cr3());
  (void)rd(va + 0x1238);
  if (!expect_eq("PDE A|D after read", PTE_A, *entry(va, 2) & (PTE_A | PTE_D))) return;
  wr(va + 0x1fff00, 3);
  expect_eq("PDE A|D after write", PTE_A | PTE_D, *entry(va, 2) & (PTE_A | PTE_D)) &&
      expect_eq("value in the frame", 3, phys_rd(LARGE_BASE + 0x1fff00));
}
// Implicit supervisor accesses set A and D too: the frame pushed on RSP0
// (write) and the IDT gate read through a fresh mapping (read).
static void ad_delivery_frame(void) {
  uint64_t va = fresh_page(PTE_P | PTE_W, 0);
  g_tss.rsp[0] = va + PAGE_SIZE;
  struct event ev;
  run_access(3, s_int80, 0, &ev);
  expect_vector(&ev, V_SYSCALL80) && expect_ad(va, PTE_A | PTE_D);
}
static void ad_idt_read(void) {
  uint64_t pa;
  uint64_t va = fresh_page(PTE_P | PTE_W, &pa);
  memcpy((void*)(uintptr_t)pa, g_idt, sizeof g_idt);
  write_cr3(read_cr3());  // the memcpy went through the identity map; the new page is untouched
  load_idtr(va, sizeof g_idt - 1);
  struct event ev;
  run_access(3, s_int81, 0, &ev);
  expect_vector(&ev, V_END) && expect_eq("IDT PTE A", PTE_A, *entry(va, 1) & PTE_A) &&
      expect_eq("IDT PTE D (only read)", 0, *entry(va, 1) & PTE_D);
}

// ---- changes to page tables ------------------------------------------------------------

// Two frames with known contents.
static uint64_t frame_with(uint64_t value) {
  uint64_t pa = alloc_frame();
  *(uint64_t*)(uintptr_t)(pa + OFF) = value;
  return pa;
}

// One block stores twice into a page through one access group (one check
// for both stores); in between, a read walks through that very page as a
// page table for the first time, which write-protects it. The second store
// changes the entry the read used: it must be seen like any store to a page
// table, so that the CR3 write after it drops the old translation.
SNIPPET(s_group_store_to_new_table, "mov %r9, 8(%rbx)\n mov (%rsi), %rax\n mov %rdx, (%rbx)\n int $0x81");
static void group_store_to_new_table(void) {
  const uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  const uint64_t va = fresh_region() + 0x5000;
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  uint64_t* pte = entry(va, 1);
  write_cr3(read_cr3());
  struct run run;
  struct event ev;
  run_init(&run, 0, s_group_store_to_new_table);
  run.r.rbx = (uint64_t)(uintptr_t)pte;  // the page table is identity-mapped
  run.r.r9 = pte[1];                     // (the first store changes nothing)
  run.r.rsi = va + OFF;
  run.r.rdx = b | PTE_P | PTE_W;
  xrun(&run, &ev);
  if (!expect_vector(&ev, V_END) || !expect_eq("read through the old entry", 0xaaaa, ev.r.rax)) return;
  write_cr3(read_cr3());
  expect_eq("read after the CR3 write", 0xbbbb, rd(va + OFF));
}

static void invlpg_new_frame(void) {
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  map_page(g_kpml4, va, b, PTE_P | PTE_W);
  invlpg(va);
  expect_eq("after invlpg", 0xbbbb, rd(va + OFF));
}
static void cr3_reload_new_frame(void) {
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  map_page(g_kpml4, va, b, PTE_P | PTE_W);
  write_cr3(read_cr3());
  expect_eq("after mov cr3", 0xbbbb, rd(va + OFF));
}
// The same, seen from CPL 3 (the user access goes through the same TLB).
static void invlpg_new_frame_user(void) {
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W | PTE_U);
  struct event ev;
  run_access(3, s_rd, va + OFF, &ev);
  if (!expect_vector(&ev, V_END) || !expect_eq("old mapping", 0xaaaa, ev.r.rax)) return;
  map_page(g_kpml4, va, b, PTE_P | PTE_W | PTE_U);
  invlpg(va);
  run_access(3, s_rd, va + OFF, &ev);
  expect_vector(&ev, V_END) && expect_eq("after invlpg", 0xbbbb, ev.r.rax);
}
static void invlpg_unmap(void) {
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, frame_with(0xaaaa), PTE_P | PTE_W);
  (void)rd(va + OFF);
  *entry(va, 1) &= ~PTE_P;
  invlpg(va);
  struct event ev;
  run_access(0, s_rd, va + OFF, &ev);
  expect_event(&ev, V_PF, 0, ADDR(s_rd)) && expect_eq("cr2", va + OFF, ev.cr2);
}
static void invlpg_write_protect(void) {
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, frame_with(0xaaaa), PTE_P | PTE_W | PTE_U);
  struct event ev;
  run_access(3, s_wr, va + OFF, &ev);
  if (!expect_vector(&ev, V_END)) return;
  *entry(va, 1) &= ~PTE_W;
  invlpg(va);
  run_access(3, s_wr, va + OFF, &ev);
  expect_event(&ev, V_PF, PF_P | PF_W | PF_U, ADDR(s_wr));
}
// The PTE rewritten through a second virtual mapping of the page table page.
static void alias_of_page_table(void) {
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  uint64_t pt_pa = *entry(va, 2) & PTE_ADDR;
  uint64_t alias = fresh_va();
  map_page(g_kpml4, alias, pt_pa, PTE_P | PTE_W);
  uint64_t index = (va >> 12) & 511;
  wr(alias + index * 8, b | PTE_P | PTE_W);
  invlpg(va);
  expect_eq("after the alias write and invlpg", 0xbbbb, rd(va + OFF)) &&
      expect_eq("PTE seen directly", b | PTE_P | PTE_W, *entry(va, 1) & ~(PTE_A | PTE_D));
}
// The page directory entry changed to another page table: invlpg also drops
// the cached upper-level entries.
static void pde_switch(void) {
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_region() + 0x200000ull * 7 + 0x4000;
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  uint64_t new_pt = alloc_frame();
  ((uint64_t*)(uintptr_t)new_pt)[(va >> 12) & 511] = b | PTE_P | PTE_W;
  *entry(va, 2) = new_pt | PTE_P | PTE_W | PTE_U;
  invlpg(va);
  expect_eq("through the new page table", 0xbbbb, rd(va + OFF));
}
// A 2 MiB page replaced by a page table: invlpg of one address inside it
// drops the whole large-page translation.
static void large_page_split(void) {
  uint64_t va = fresh_region() + (6ull << 21);
  *pt_entry(g_kpml4, va, 2, 1) = LARGE_BASE | PTE_P | PTE_W | PTE_PS;
  write_cr3(read_cr3());
  wr(va + 0x5000 + OFF, 0x1a1a);
  if (!expect_eq("large page", 0x1a1a, phys_rd(LARGE_BASE + 0x5000 + OFF))) return;
  uint64_t pt = alloc_frame();
  uint64_t b = frame_with(0xbbbb);
  for (int i = 0; i < 512; i++) ((uint64_t*)(uintptr_t)pt)[i] = b | PTE_P | PTE_W;
  *entry(va, 2) = pt | PTE_P | PTE_W | PTE_U;
  invlpg(va);
  expect_eq("another 4 KiB page of the split range", 0xbbbb, rd(va + 0x5000 + OFF));
}
// A recursive mapping (PML4[510] -> PML4): the PTE of va is at a fixed
// virtual address and is changed through it.
static void recursive_mapping(void) {
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  g_kpml4[510] = ADDR(g_kpml4) | PTE_P | PTE_W;
  const uint64_t base = 0xffffff0000000000ull;  // sign-extended slot 510
  uint64_t pte_va = base + ((va & 0xffffffffffffull) >> 12) * 8;
  if (!expect_eq("PTE read through the recursive mapping", a | PTE_P | PTE_W, rd(pte_va) & ~(PTE_A | PTE_D))) return;
  wr(pte_va, b | PTE_P | PTE_W);
  invlpg(va);
  expect_eq("after the write through the recursive mapping", 0xbbbb, rd(va + OFF));
}

// ---- global pages -------------------------------------------------------------------------

// With CR4.PGE = 1 and PTE.G = 1, after the PTE changes and CR3 is written,
// the old translation may still be used (permitted, not required): either
// value is right. INVLPG must drop it.
static void global_invlpg(void) {
  write_cr4(g_default_cr4 | CR4_PGE);
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W | PTE_G);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  map_page(g_kpml4, va, b, PTE_P | PTE_W | PTE_G);
  write_cr3(read_cr3());
  uint64_t v = rd(va + OFF);
  if (!expect_true("after mov cr3: the old or the new frame", v == 0xaaaa || v == 0xbbbb)) return;
  invlpg(va);
  expect_eq("after invlpg", 0xbbbb, rd(va + OFF));
}
// Clearing CR4.PGE flushes global translations too.
static void global_pge_toggle(void) {
  write_cr4(g_default_cr4 | CR4_PGE);
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W | PTE_G);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  map_page(g_kpml4, va, b, PTE_P | PTE_W | PTE_G);
  write_cr4(g_default_cr4 & ~CR4_PGE);
  write_cr4(g_default_cr4 | CR4_PGE);
  expect_eq("after toggling CR4.PGE", 0xbbbb, rd(va + OFF));
}
// Non-global translations are dropped by a CR3 write even with PGE = 1.
static void nonglobal_cr3_with_pge(void) {
  write_cr4(g_default_cr4 | CR4_PGE);
  uint64_t a = frame_with(0xaaaa), b = frame_with(0xbbbb);
  uint64_t va = fresh_va();
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  if (!expect_eq("old mapping", 0xaaaa, rd(va + OFF))) return;
  map_page(g_kpml4, va, b, PTE_P | PTE_W);
  write_cr3(read_cr3());
  expect_eq("after mov cr3", 0xbbbb, rd(va + OFF));
}
// A global page stays usable across CR3 switches between address spaces
// that both map it (the ordinary kernel-mapping use).
static void global_shared_across_spaces(void) {
  write_cr4(g_default_cr4 | CR4_PGE);
  uint64_t* as2 = new_address_space();
  uint64_t g = frame_with(0x6161);
  uint64_t va = fresh_region() + 0x1000;
  map_page(g_kpml4, va, g, PTE_P | PTE_W | PTE_G);
  map_page(as2, va, g, PTE_P | PTE_W | PTE_G);
  uint64_t k = read_cr3();
  int ok = 1;
  for (int i = 0; i < 50 && ok; i++) {
    write_cr3(i & 1 ? k : ADDR(as2));
    wr(va + OFF, 0x6161 + (uint64_t)i);
    ok = expect_eq("value", 0x6161 + (uint64_t)i, rd(va + OFF));
  }
  write_cr3(k);
}

// ---- address spaces --------------------------------------------------------------------

// Two address spaces map one virtual page to different frames; switching CR3
// back and forth, each sees and writes its own.
static void two_spaces(void) {
  uint64_t* as2 = new_address_space();
  uint64_t a = frame_with(0), b = frame_with(0);
  uint64_t va = fresh_region() + 0x7000;
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  map_page(as2, va, b, PTE_P | PTE_W);
  uint64_t k = read_cr3();
  int ok = 1;
  for (uint64_t i = 1; i <= 1000 && ok; i++) {
    write_cr3(k);
    ok = expect_eq("space 1 sees its counter", i - 1, rd(va + OFF));
    wr(va + OFF, i);
    write_cr3(ADDR(as2));
    ok = ok && expect_eq("space 2 sees its counter", (i - 1) * 3, rd(va + OFF));
    wr(va + OFF, i * 3);
  }
  write_cr3(k);
  ok && expect_eq("frame a", 1000, phys_rd(a + OFF)) && expect_eq("frame b", 3000, phys_rd(b + OFF));
}
// The same from user mode: the syscall handler switches CR3 and the user
// loop reads the same address after each sysret.
static uint64_t* user_as2;
static uint64_t user_as1;
static int switch_hook(struct frame* f, const struct event* ev) {
  (void)f;
  if (ev->vector != V_SYSCALL) return HOOK_DECLINE;
  write_cr3(read_cr3() == user_as1 ? ADDR(user_as2) : user_as1);
  return HOOK_SYSRET;
}
// rsi = the address; 200 iterations add the value read after each switch.
SNIPPET(s_user_switch, "xor %r8d, %r8d\n mov $200, %ebx\n 1: syscall\n add (%rsi), %r8\n dec %ebx\n jnz 1b\n int $0x81");
static void user_space_switch(void) {
  user_as2 = new_address_space();
  user_as1 = read_cr3();
  uint64_t va = fresh_region() + 0x2000;
  map_page(g_kpml4, va, frame_with(1), PTE_P | PTE_U);
  map_page(user_as2, va, frame_with(1000), PTE_P | PTE_U);
  g_hook = switch_hook;
  struct event ev;
  run_access(3, s_user_switch, va + OFF, &ev);
  write_cr3(user_as1);
  // 100 reads in each space: 100 * 1000 + 100 * 1.
  expect_vector(&ev, V_END) && expect_eq("sum", 100100, ev.r.r8);
}
// Same virtual code address, different code in each space: the CPU runs
// what the current CR3 maps.
static void code_per_space(void) {
  uint64_t* as2 = new_address_space();
  uint64_t va = fresh_region() + 0x9000;
  uint64_t c1 = alloc_frame(), c2 = alloc_frame();
  // mov $imm32, %eax; ret
  uint8_t code1[] = {0xb8, 0x11, 0x00, 0x00, 0x00, 0xc3}, code2[] = {0xb8, 0x22, 0x00, 0x00, 0x00, 0xc3};
  memcpy((void*)(uintptr_t)c1, code1, sizeof code1);
  memcpy((void*)(uintptr_t)c2, code2, sizeof code2);
  map_page(g_kpml4, va, c1, PTE_P | PTE_U);
  map_page(as2, va, c2, PTE_P | PTE_U);
  uint64_t k = read_cr3();
  int ok = 1;
  for (int i = 0; i < 100 && ok; i++) {
    write_cr3(i & 1 ? ADDR(as2) : k);
    uint64_t r = ((uint64_t (*)(void))(uintptr_t)va)();
    ok = expect_eq("code of the current space", i & 1 ? 0x22 : 0x11, r & 0xffffffff);
  }
  write_cr3(k);
}

// Two spaces running the same code (the same frames at the same address,
// as two processes of one program do), which crosses onto its second page by
// a direct jmp: switching between them, what one learned about that code
// holds in the other. Then one space maps different code at the second page
// (a PTE write and INVLPG while it is current): from then on each space runs
// its own second page, however often CR3 switches between them.
static void shared_code_then_remapped(void) {
  uint64_t* as2 = new_address_space();
  const uint64_t va = fresh_region() + 0x9000;
  const uint64_t p1 = alloc_frame(), p2 = alloc_frame(), p2b = alloc_frame();
  uint8_t* c1 = (uint8_t*)(uintptr_t)p1;
  c1[0xffb] = 0xe9;  // jmp rel32 (0): to va + 0x1000, the next page
  c1[0xffc] = c1[0xffd] = c1[0xffe] = c1[0xfff] = 0;
  uint8_t code2[] = {0xb8, 0x11, 0x00, 0x00, 0x00, 0xc3}, code2b[] = {0xb8, 0x22, 0x00, 0x00, 0x00, 0xc3};
  memcpy((void*)(uintptr_t)p2, code2, sizeof code2);    // mov $0x11, %eax; ret
  memcpy((void*)(uintptr_t)p2b, code2b, sizeof code2b);  // mov $0x22, %eax; ret
  map_page(g_kpml4, va, p1, PTE_P | PTE_U);
  map_page(g_kpml4, va + PAGE_SIZE, p2, PTE_P | PTE_U);
  map_page(as2, va, p1, PTE_P | PTE_U);
  map_page(as2, va + PAGE_SIZE, p2, PTE_P | PTE_U);
  uint64_t (*entry)(void) = (uint64_t (*)(void))(uintptr_t)(va + 0xffb);
  const uint64_t k = read_cr3();
  int ok = 1;
  for (int i = 0; i < 40 && ok; i++) {
    write_cr3(i & 1 ? ADDR(as2) : k);
    ok = expect_eq("shared code", 0x11, entry() & 0xffffffff);
  }
  if (ok) {
    write_cr3(ADDR(as2));
    *pt_entry(as2, va + PAGE_SIZE, 1, 0) = p2b | PTE_P | PTE_U;
    invlpg(va + PAGE_SIZE);
    ok = expect_eq("second page remapped in the current space", 0x22, entry() & 0xffffffff);
  }
  for (int i = 0; i < 40 && ok; i++) {
    write_cr3(i & 1 ? ADDR(as2) : k);
    ok = expect_eq("each space's own second page", i & 1 ? 0x22 : 0x11, entry() & 0xffffffff);
  }
  write_cr3(k);
}

// ---- changes to an address space while another one is current ------------------------
// A CR3 write leaves no non-global translation of the old address space
// behind (SDM 4.10.4.1), so whatever was changed in a space's page tables
// while it was not current must be seen as soon as CR3 names it again -- even
// by an emulator that keeps what it learned about recent address spaces.

// as2 maps va to a frame holding 0xaaaa, and it has been used once.
static uint64_t* warm_space(uint64_t va, uint64_t flags, uint64_t* k) {
  uint64_t* as2 = new_address_space();
  map_page(as2, va, frame_with(0xaaaa), flags);
  *k = read_cr3();
  write_cr3(ADDR(as2));
  uint64_t v = rd(va + OFF);
  write_cr3(*k);
  return expect_eq("first use of the space", 0xaaaa, v) ? as2 : 0;
}
static void inactive_pte_new_frame(void) {
  uint64_t va = fresh_region() + 0x5000, k;
  uint64_t* as2 = warm_space(va, PTE_P | PTE_W, &k);
  if (!as2) return;
  *pt_entry(as2, va, 1, 0) = frame_with(0xbbbb) | PTE_P | PTE_W;
  write_cr3(ADDR(as2));
  uint64_t v = rd(va + OFF);
  write_cr3(k);
  expect_eq("the new frame", 0xbbbb, v);
}
static void inactive_pte_unmapped(void) {
  uint64_t va = fresh_region() + 0x5000, k;
  uint64_t* as2 = warm_space(va, PTE_P | PTE_W, &k);
  if (!as2) return;
  *pt_entry(as2, va, 1, 0) &= ~PTE_P;
  write_cr3(ADDR(as2));
  struct event ev;
  run_access(0, s_rd, va + OFF, &ev);
  write_cr3(k);
  expect_event(&ev, V_PF, 0, ADDR(s_rd)) && expect_eq("cr2", va + OFF, ev.cr2);
}
static void inactive_pte_write_protected(void) {
  uint64_t va = fresh_region() + 0x5000, k;
  uint64_t* as2 = warm_space(va, PTE_P | PTE_W | PTE_U, &k);
  if (!as2) return;
  // Dirty it first, so a writable translation was made.
  write_cr3(ADDR(as2));
  struct event ev;
  run_access(3, s_wr, va + OFF, &ev);
  write_cr3(k);
  if (!expect_vector(&ev, V_END)) return;
  *pt_entry(as2, va, 1, 0) &= ~PTE_W;
  write_cr3(ADDR(as2));
  run_access(3, s_wr, va + OFF, &ev);
  write_cr3(k);
  expect_event(&ev, V_PF, PF_P | PF_W | PF_U, ADDR(s_wr));
}
// The page directory entry of the inactive space now names another table.
static void inactive_pde_new_table(void) {
  uint64_t va = fresh_region() + 0x200000ull * 3 + 0x5000, k;
  uint64_t* as2 = warm_space(va, PTE_P | PTE_W, &k);
  if (!as2) return;
  uint64_t pt = alloc_frame();
  ((uint64_t*)(uintptr_t)pt)[(va >> 12) & 511] = frame_with(0xbbbb) | PTE_P | PTE_W;
  *pt_entry(as2, va, 2, 0) = pt | PTE_P | PTE_W | PTE_U;
  write_cr3(ADDR(as2));
  uint64_t v = rd(va + OFF);
  write_cr3(k);
  expect_eq("through the new table", 0xbbbb, v);
}
// The top-level entry of the inactive space is cleared by rep stosq (the
// whole PML4 slot of the region gone) and then set again to new tables.
static void inactive_pml4e_rewritten_by_string_store(void) {
  uint64_t va = fresh_region() + 0x5000, k;
  uint64_t* as2 = warm_space(va, PTE_P | PTE_W, &k);
  if (!as2) return;
  uint64_t* slot = pt_entry(as2, va, 4, 0);
  uint64_t zero = 0, n = 1;
  __asm__ volatile("rep stosq" : "+D"(slot), "+c"(n) : "a"(zero) : "memory");
  write_cr3(ADDR(as2));
  struct event ev;
  run_access(0, s_rd, va + OFF, &ev);
  write_cr3(k);
  if (!expect_event(&ev, V_PF, 0, ADDR(s_rd))) return;
  map_page(as2, va, frame_with(0xcccc), PTE_P | PTE_W);
  write_cr3(ADDR(as2));
  uint64_t v = rd(va + OFF);
  write_cr3(k);
  expect_eq("through the rebuilt tables", 0xcccc, v);
}
// A page table of the inactive space rewritten wholesale: every entry
// changed, more stores than any emulator would trap one by one.
static void inactive_table_rewritten(void) {
  uint64_t va = fresh_region() + 0x5000, k;
  uint64_t* as2 = warm_space(va, PTE_P | PTE_W, &k);
  if (!as2) return;
  uint64_t* pt = pt_entry(as2, va & ~0x1fffffull, 1, 0);
  uint64_t b = frame_with(0xbbbb);
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 512; i++) pt[i] = b | PTE_P | PTE_W;
  write_cr3(ADDR(as2));
  uint64_t v = rd(va + OFF), v2 = rd(va + 0x10000 + OFF);
  write_cr3(k);
  expect_eq("the rewritten entry", 0xbbbb, v) && expect_eq("another rewritten entry", 0xbbbb, v2);
}
// Code: the inactive space's code page is remapped to other code.
static void inactive_code_remapped(void) {
  uint64_t* as2 = new_address_space();
  uint64_t va = fresh_region() + 0x9000;
  uint64_t c1 = alloc_frame(), c2 = alloc_frame();
  uint8_t code1[] = {0xb8, 0x11, 0x00, 0x00, 0x00, 0xc3}, code2[] = {0xb8, 0x22, 0x00, 0x00, 0x00, 0xc3};
  memcpy((void*)(uintptr_t)c1, code1, sizeof code1);
  memcpy((void*)(uintptr_t)c2, code2, sizeof code2);
  map_page(as2, va, c1, PTE_P);
  uint64_t k = read_cr3();
  int ok = 1;
  for (int i = 0; i < 4 && ok; i++) {
    write_cr3(ADDR(as2));
    uint64_t r = ((uint64_t (*)(void))(uintptr_t)va)();
    write_cr3(k);
    ok = expect_eq("code before the remap", 0x11, r & 0xffffffff);
  }
  if (!ok) return;
  *pt_entry(as2, va, 1, 0) = c2 | PTE_P;
  write_cr3(ADDR(as2));
  uint64_t r = ((uint64_t (*)(void))(uintptr_t)va)();
  write_cr3(k);
  expect_eq("code after the remap", 0x22, r & 0xffffffff);
}
// More address spaces than any cache keeps, used round-robin: each sees its own.
static void many_spaces(void) {
  enum { kSpaces = 24 };
  uint64_t* as[kSpaces];
  uint64_t va = fresh_region() + 0x3000;
  for (int s = 0; s < kSpaces; s++) {
    as[s] = new_address_space();
    map_page(as[s], va, frame_with(0x1000 + (uint64_t)s), PTE_P | PTE_W);
  }
  uint64_t k = read_cr3();
  int ok = 1;
  for (int round = 0; round < 5 && ok; round++)
    for (int s = 0; s < kSpaces && ok; s++) {
      write_cr3(ADDR(as[s]));
      uint64_t v = rd(va + OFF);
      write_cr3(k);
      ok = expect_eq("the space's own frame", (round >= 3 ? 0x2000 : 0x1000) + (uint64_t)s, v);
      // In round 2 each space is remapped right after its turn, while inactive.
      if (round == 2) *pt_entry(as[s], va, 1, 0) = frame_with(0x2000 + (uint64_t)s) | PTE_P | PTE_W;
    }
  write_cr3(k);
}
// A CR3 reload of the current space after a PTE change without INVLPG.
static void reload_after_pte_change_many(void) {
  uint64_t va = fresh_va();
  int ok = 1;
  for (uint64_t i = 0; i < 64 && ok; i++) {
    map_page(g_kpml4, va, frame_with(0x500 + i), PTE_P | PTE_W);
    write_cr3(read_cr3());
    ok = expect_eq("after each change and reload", 0x500 + i, rd(va + OFF));
  }
}

static void ad_read0(void) { ad_read(0); }
static void ad_read3(void) { ad_read(3); }
static void ad_write0(void) { ad_write(0); }
static void ad_write3(void) { ad_write(3); }
static void ad_fetch0(void) { ad_fetch(0); }
static void ad_fetch3(void) { ad_fetch(3); }

// Loops whose accesses move with a counter (a translator may check them a
// page at a time): two virtual pages backed by frames that are not adjacent,
// with a third frame between them that nothing maps. Whatever such a loop
// reads or writes on the second virtual page must be the second mapped frame,
// and it must fault at the exact iteration that reaches a page it may not
// access, with the earlier iterations done.
#define STRIDE_A 0x11
#define STRIDE_B 0xee  // the unmapped frame between the two
#define STRIDE_C 0x22
static void fill_frame(uint64_t pa, uint8_t v) {
  for (int i = 0; i < 4096; i++) ((volatile uint8_t*)(uintptr_t)pa)[i] = v;
}
static uint64_t stride_pages(uint64_t second_flags, uint64_t* pa_a, uint64_t* pa_b, uint64_t* pa_c) {
  const uint64_t a = alloc_frame(), b = alloc_frame(), c = alloc_frame();
  fill_frame(a, STRIDE_A);
  fill_frame(b, STRIDE_B);
  fill_frame(c, STRIDE_C);
  const uint64_t va = fresh_region() + 0x10000;
  map_page(g_kpml4, va, a, PTE_P | PTE_W | PTE_U);
  if (second_flags) map_page(g_kpml4, va + 0x1000, c, second_flags);
  write_cr3(read_cr3());
  if (pa_a) *pa_a = a;
  if (pa_b) *pa_b = b;
  if (pa_c) *pa_c = c;
  return va;
}
static uint64_t repeat8(uint8_t v) { return v * 0x0101010101010101ull; }
// The sum of the little-endian words at offsets [start, start + n) of
// pages that hold STRIDE_A below `boundary` and STRIDE_C from there.
static uint64_t stride_word_sum(uint64_t start, uint64_t n, uint64_t boundary) {
  uint64_t sum = 0;
  for (uint64_t p = start; p < start + n; p++) {
    const uint64_t lo = p < boundary ? STRIDE_A : STRIDE_C, hi = p + 1 < boundary ? STRIDE_A : STRIDE_C;
    sum += lo | hi << 8;
  }
  return sum;
}
static void stride_run(const void* snippet, int cpl, uint64_t rax, uint64_t rdx, uint64_t rsi, struct event* ev) {
  struct run run;
  run_init(&run, cpl, snippet);
  run.r.rax = rax;
  run.r.rcx = 0;
  run.r.rdx = rdx;
  run.r.rsi = rsi;
  xrun(&run, ev);
}

SNIPPET(s_stride_up, "1: add (%rsi,%rcx,8), %rax\n add $1, %rcx\n cmp %rdx, %rcx\n jne 1b\n int $0x81");
SNIPPET(s_stride_down, "1: add (%rsi), %rax\n sub $8, %rsi\n dec %rdx\n jnz 1b\n int $0x81");
SNIPPET(s_stride_words, "1: movzwl (%rsi), %ebx\n add %rbx, %rax\n add $1, %rsi\n dec %rdx\n jnz 1b\n int $0x81");
// (Its own copy: a window declined in one case stays declined for that code.)
SNIPPET(s_stride_words_adjacent,
        "1: movzwl (%rsi), %ebx\n add %rbx, %rax\n add $1, %rsi\n dec %rdx\n jnz 1b\n int $0x81");
SNIPPET(s_stride_derived, "1: lea 1(%rsi), %rdi\n movzbl (%rsi), %ebx\n movzbl (%rdi), %ecx\n shl $8, %ecx\n"
                          " or %ecx, %ebx\n add %rbx, %rax\n mov %rdi, %rsi\n dec %rdx\n jnz 1b\n int $0x81");
SNIPPET(s_stride_store, "1: mov %rax, (%rsi,%rcx,8)\n add $1, %rcx\n cmp %rdx, %rcx\n jne 1b\n int $0x81");

static void stride_discontiguous_up(void) {
  const uint64_t va = stride_pages(PTE_P | PTE_W | PTE_U, 0, 0, 0);
  struct event ev;
  stride_run(s_stride_up, 0, 0, 512, va + 0x800, &ev);
  expect_vector(&ev, V_END) &&
      expect_eq("sum", 256 * repeat8(STRIDE_A) + 256 * repeat8(STRIDE_C), ev.r.rax);
}
static void stride_discontiguous_down(void) {
  const uint64_t va = stride_pages(PTE_P | PTE_W | PTE_U, 0, 0, 0);
  struct event ev;
  stride_run(s_stride_down, 0, 0, 512, va + 0x17f8, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum", 256 * repeat8(STRIDE_A) + 256 * repeat8(STRIDE_C), ev.r.rax) &&
      expect_eq("rsi", va + 0x7f8, ev.r.rsi);
}
static void stride_discontiguous_words(void) {
  const uint64_t va = stride_pages(PTE_P | PTE_W | PTE_U, 0, 0, 0);
  struct event ev;
  stride_run(s_stride_words, 0, 0, 4000, va + 0x800, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum", stride_word_sum(0x800, 4000, 0x1000), ev.r.rax);
}
// The same through a second register one ahead of the counter, which
// becomes the counter at the end of each iteration.
static void stride_discontiguous_derived(void) {
  const uint64_t va = stride_pages(PTE_P | PTE_W | PTE_U, 0, 0, 0);
  struct event ev;
  stride_run(s_stride_derived, 0, 0, 4000, va + 0x800, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum", stride_word_sum(0x800, 4000, 0x1000), ev.r.rax);
}
// Words across three virtual pages: the first two backed by adjacent frames
// (a window straddling them may be let across, for its own iteration), the
// third by a frame that is not the next one.
static void stride_across_adjacent_then_not(void) {
  const uint64_t a = alloc_frame(), b = alloc_frame(), skipped = alloc_frame(), c = alloc_frame();
  if (!expect_eq("adjacent frames", a + 0x1000, b)) return;
  fill_frame(a, STRIDE_A);
  fill_frame(b, STRIDE_A);
  fill_frame(skipped, STRIDE_B);
  fill_frame(c, STRIDE_C);
  const uint64_t va = fresh_region() + 0x10000;
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  map_page(g_kpml4, va + 0x1000, b, PTE_P | PTE_W);
  map_page(g_kpml4, va + 0x2000, c, PTE_P | PTE_W);
  write_cr3(read_cr3());
  struct event ev;
  stride_run(s_stride_words_adjacent, 0, 0, 0x1200, va + 0xf00, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum", stride_word_sum(0xf00, 0x1200, 0x2000), ev.r.rax);
}
// A loop's table read through a byte index, the table straddling two
// virtual pages on adjacent frames: its one check before the loop may be
// let across (and then made inline, the two entries paired). Remapping the
// second page to another frame with INVLPG must end that: the next run
// reads the new frame.
SNIPPET(s_pair_table, "1: movzbl (%rdi), %eax\n add $1, %rdi\n add (%rsi,%rax,8), %rdx\n dec %r8\n jnz 1b\n int $0x81");
static void stride_pair_dropped_by_invlpg(void) {
  const uint64_t a = alloc_frame(), b = alloc_frame(), c = alloc_frame(), idx = alloc_frame();
  if (!expect_eq("adjacent frames", a + 0x1000, b)) return;
  fill_frame(a, STRIDE_A);
  fill_frame(b, STRIDE_B);
  fill_frame(c, STRIDE_C);
  fill_frame(idx, 0xff);  // every read at table + 255 * 8: on the second page
  const uint64_t va = fresh_region() + 0x10000;
  map_page(g_kpml4, va, a, PTE_P | PTE_W);
  map_page(g_kpml4, va + 0x1000, b, PTE_P | PTE_W);
  write_cr3(read_cr3());
  struct run run;
  struct event ev;
  for (int pass = 0; pass < 3; ++pass) {
    if (pass == 2) {
      *entry(va + 0x1000, 1) = c | PTE_P | PTE_W;
      invlpg(va + 0x1000);
    }
    run_init(&run, 0, s_pair_table);
    run.r.rdi = idx;
    run.r.rsi = va + 0x900;
    run.r.rdx = 0;
    run.r.r8 = 100;
    xrun(&run, &ev);
    const uint64_t want = 100 * repeat8(pass == 2 ? STRIDE_C : STRIDE_B);
    if (!expect_vector(&ev, V_END) || !expect_eq(pass == 2 ? "sum after the remap" : "sum", want, ev.r.rdx)) return;
  }
}
// An absolute table read through a byte index, the table within one page:
// its page is known at translation time. After INVLPG of that page the
// read misses the TLB, and the address it reports must be the element's,
// not the table's.
static uint64_t abs_table[256] __attribute__((aligned(4096)));
SNIPPET(s_abs_table, "movzbl %bl, %eax\n mov abs_table(,%rax,8), %rax\n xor %ecx, %ecx\n int $0x81");
static void absolute_table_after_invlpg(void) {
  for (int i = 0; i < 256; i++) abs_table[i] = 0x1000 + 3 * i;
  struct run run;
  struct event ev;
  for (int pass = 0; pass < 2; ++pass) {
    invlpg((uint64_t)(uintptr_t)abs_table);
    run_init(&run, 0, s_abs_table);
    run.r.rbx = 200 + pass;
    xrun(&run, &ev);
    if (!expect_vector(&ev, V_END) || !expect_eq("element", 0x1000 + 3 * (200 + pass), ev.r.rax)) return;
  }
}
static void stride_into_unmapped(void) {
  const uint64_t va = stride_pages(0, 0, 0, 0);
  struct event ev;
  stride_run(s_stride_up, 0, 0, 64, va + 0xf00, &ev);
  expect_event(&ev, V_PF, 0, ADDR(s_stride_up)) && expect_eq("cr2", va + 0x1000, ev.cr2) &&
      expect_eq("iterations done", 32, ev.r.rcx) && expect_eq("sum so far", 32 * repeat8(STRIDE_A), ev.r.rax);
}
static void stride_store_into_read_only(void) {
  uint64_t a, b, c;
  const uint64_t va = stride_pages(PTE_P | PTE_U, &a, &b, &c);
  struct event ev;
  stride_run(s_stride_store, 3, 0x5a5a5a5a5a5a5a5aull, 64, va + 0xf00, &ev);
  if (!expect_event(&ev, V_PF, PF_P | PF_W | PF_U, ADDR(s_stride_store)) || !expect_eq("cr2", va + 0x1000, ev.cr2) ||
      !expect_eq("iterations done", 32, ev.r.rcx))
    return;
  expect_eq("last store before the fault", 0x5a5a5a5a5a5a5a5aull, phys_rd(a + 0xff8)) &&
      expect_eq("the frame after it, unmapped", repeat8(STRIDE_B), phys_rd(b)) &&
      expect_eq("the read-only frame", repeat8(STRIDE_C), phys_rd(c));
}

static const struct kcase cases[] = {
    {"ad.fresh-entries-clear", ad_untouched},
    {"ad.read-sets-a.cpl0", ad_read0},
    {"ad.read-sets-a.cpl3", ad_read3},
    {"ad.write-sets-a-d.cpl0", ad_write0},
    {"ad.write-sets-a-d.cpl3", ad_write3},
    {"ad.fetch-sets-a.cpl0", ad_fetch0},
    {"ad.fetch-sets-a.cpl3", ad_fetch3},
    {"ad.locked-rmw-sets-d.cpl3", ad_locked_rmw},
    {"ad.push-sets-d.cpl3", ad_push},
    {"ad.read-only-read-sets-a.cpl3", ad_read_only_read},
    {"ad.faulting-write-sets-no-d.cpl3", ad_faulting_write},
    {"ad.not-present-pte-untouched.cpl3", ad_not_present_untouched},
    {"ad.split-write-sets-d-in-both", ad_split_write},
    {"ad.set-again-after-clear-and-invlpg", ad_set_again_after_invlpg},
    {"ad.large-page-pde", ad_large_page},
    {"ad.delivery-frame-write-sets-d", ad_delivery_frame},
    {"ad.idt-read-sets-a", ad_idt_read},
    {"tlb.group-store-to-table-walked-in-between", group_store_to_new_table},
    {"tlb.invlpg-new-frame", invlpg_new_frame},
    {"tlb.cr3-reload-new-frame", cr3_reload_new_frame},
    {"tlb.invlpg-new-frame.cpl3", invlpg_new_frame_user},
    {"tlb.invlpg-after-unmap", invlpg_unmap},
    {"tlb.invlpg-after-write-protect", invlpg_write_protect},
    {"tlb.pte-written-through-alias", alias_of_page_table},
    {"tlb.pde-switched-to-new-table", pde_switch},
    {"tlb.large-page-split", large_page_split},
    {"tlb.recursive-mapping", recursive_mapping},
    {"global.invlpg-drops-global", global_invlpg},
    {"global.pge-toggle-drops-global", global_pge_toggle},
    {"global.cr3-drops-nonglobal", nonglobal_cr3_with_pge},
    {"global.shared-across-spaces", global_shared_across_spaces},
    {"spaces.two-cr3-1000-switches", two_spaces},
    {"stride.discontiguous-up", stride_discontiguous_up},
    {"stride.discontiguous-down", stride_discontiguous_down},
    {"stride.discontiguous-words", stride_discontiguous_words},
    {"stride.discontiguous-derived", stride_discontiguous_derived},
    {"stride.adjacent-then-not", stride_across_adjacent_then_not},
    {"stride.pair-dropped-by-invlpg", stride_pair_dropped_by_invlpg},
    {"tlb.absolute-table-after-invlpg", absolute_table_after_invlpg},
    {"stride.into-unmapped", stride_into_unmapped},
    {"stride.store-into-read-only", stride_store_into_read_only},
    {"spaces.switch-in-syscall.cpl3", user_space_switch},
    {"spaces.code-per-space", code_per_space},
    {"spaces.shared-code-then-remapped-in-one", shared_code_then_remapped},
    {"spaces.inactive-pte-new-frame", inactive_pte_new_frame},
    {"spaces.inactive-pte-unmapped", inactive_pte_unmapped},
    {"spaces.inactive-pte-write-protected.cpl3", inactive_pte_write_protected},
    {"spaces.inactive-pde-new-table", inactive_pde_new_table},
    {"spaces.inactive-pml4e-cleared-by-rep-stos", inactive_pml4e_rewritten_by_string_store},
    {"spaces.inactive-table-rewritten", inactive_table_rewritten},
    {"spaces.inactive-code-remapped", inactive_code_remapped},
    {"spaces.24-spaces-round-robin", many_spaces},
    {"spaces.reload-after-each-pte-change", reload_after_pte_change_many},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
