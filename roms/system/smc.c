// smc.c — self-modifying code: a store into code that is about to run, or
// that ran before, is seen by the next execution of it.
//
// Intel SDM Vol. 3A 11.6 ("Self-Modifying Code"): a write to a code location
// invalidates the cached code, the check is by physical address, and a write
// that hits an instruction already prefetched invalidates the prefetch
// queue, so the modified instruction is the one that executes, even when it
// is the next instruction. AMD APM Vol. 2 7.6.1 likewise. (Other processors
// modifying code need serialization; that is not tested here.)
//
// Every case copies its code into a fresh page first, so a case always starts
// from the unmodified bytes.
#include "ktest.h"

// mov $imm32, %eax; ret
#define FN_MOV_EAX(v) 0xb8, (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), (uint8_t)((v) >> 24), 0xc3

static uint64_t code_page(const void* bytes, size_t n, uint64_t* pa_out) {
  uint64_t pa;
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, &pa);
  memcpy((void*)(uintptr_t)pa, bytes, n);
  if (pa_out) *pa_out = pa;
  return va;
}
// Copies a snippet (from its label to its end label) into a fresh page.
static uint64_t copy_snippet(const char* start, const char* end) { return code_page(start, (size_t)(end - start), 0); }
static uint64_t call(uint64_t va) { return ((uint64_t (*)(void))(uintptr_t)va)(); }

static void run_copy(int cpl, uint64_t va, struct event* ev) {
  struct run run;
  run_init(&run, cpl, (const void*)(uintptr_t)va);
  run.r.rax = 0;
  xrun(&run, ev);
}

// ---- the next instruction, in the same block -------------------------------------------

// Store into the immediate of the next instruction.
SNIPPET(s_next_imm, "movb $0x42, 1f+1(%rip)\n 1: mov $0x11, %eax\n int $0x81\n s_next_imm_end:");
SNIPPET_LABEL(s_next_imm_end);
// Store a new opcode over the next two bytes (nop; nop -> inc %eax).
SNIPPET(s_next_op, "movw $0xc0ff, 1f(%rip)\n 1: nop\n nop\n int $0x81\n s_next_op_end:");
SNIPPET_LABEL(s_next_op_end);
// Patch the displacement of the jump that comes next: it goes to 3f, not 2f.
SNIPPET(s_next_jmp,
        "movb $(3f - 2f), 1f+1(%rip)\n 1: jmp 2f\n 2: mov $1, %eax\n int $0x81\n 3: mov $2, %eax\n int $0x81\n"
        " s_next_jmp_end:");
SNIPPET_LABEL(s_next_jmp_end);
// A loop that changes its own add immediate each time: eax = 0 + 1 + ... + 9.
SNIPPET(s_loop_imm,
        "mov $10, %ebx\n 1: add $0, %eax\n incb 1b+2(%rip)\n dec %ebx\n jnz 1b\n int $0x81\n s_loop_imm_end:");
SNIPPET_LABEL(s_loop_imm_end);
// The store is a vector store (16 bytes over the next instruction and more).
SNIPPET(s_next_vec,
        "movdqu 2f(%rip), %xmm0\n movdqu %xmm0, 1f(%rip)\n 1: mov $0x11, %eax\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n"
        " nop\n nop\n nop\n nop\n int $0x81\n"
        " 2: mov $0x77, %eax\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n s_next_vec_end:");
SNIPPET_LABEL(s_next_vec_end);
// The store is a rep stosb over the next instruction's immediate.
SNIPPET(s_next_stos,
        "lea 1f+1(%rip), %rdi\n mov $0x5a, %al\n mov $4, %ecx\n rep stosb\n 1: mov $0x11, %eax\n int $0x81\n"
        " s_next_stos_end:");
SNIPPET_LABEL(s_next_stos_end);
// The store is an xchg (locked read-modify-write) with the immediate.
SNIPPET(s_next_xchg, "mov $0x33, %edx\n xchg %dl, 1f+1(%rip)\n 1: mov $0x11, %eax\n int $0x81\n s_next_xchg_end:");
SNIPPET_LABEL(s_next_xchg_end);

static void next_case(const char* start, const char* end, int cpl, uint64_t want) {
  uint64_t va = copy_snippet(start, end);
  struct event ev;
  run_copy(cpl, va, &ev);
  if (!expect_vector(&ev, V_END) || !expect_eq("eax", want, ev.r.rax & 0xffffffff)) return;
  // Once more: the modified code as it now is in memory.
  if (start == s_loop_imm) return;
  run_copy(cpl, va, &ev);
  expect_vector(&ev, V_END) && expect_eq("eax on the second run", want, ev.r.rax & 0xffffffff);
}
static void next_imm0(void) { next_case(s_next_imm, s_next_imm_end, 0, 0x42); }
static void next_imm3(void) { next_case(s_next_imm, s_next_imm_end, 3, 0x42); }
static void next_op0(void) { next_case(s_next_op, s_next_op_end, 0, 1); }
static void next_op3(void) { next_case(s_next_op, s_next_op_end, 3, 1); }
static void next_jmp0(void) { next_case(s_next_jmp, s_next_jmp_end, 0, 2); }
static void next_jmp3(void) { next_case(s_next_jmp, s_next_jmp_end, 3, 2); }
static void loop_imm0(void) { next_case(s_loop_imm, s_loop_imm_end, 0, 45); }
static void loop_imm3(void) { next_case(s_loop_imm, s_loop_imm_end, 3, 45); }
static void next_vec0(void) { next_case(s_next_vec, s_next_vec_end, 0, 0x77); }
static void next_stos3(void) { next_case(s_next_stos, s_next_stos_end, 3, 0x5a5a5a5a); }
static void next_xchg0(void) { next_case(s_next_xchg, s_next_xchg_end, 0, 0x33); }

// ---- another block: patch a function, call it again ----------------------------------------

static void patch_and_call(void) {
  const uint8_t fn[] = {FN_MOV_EAX(1)};
  uint64_t va = code_page(fn, sizeof fn, 0);
  int ok = expect_eq("first call", 1, call(va) & 0xffffffff);
  for (uint32_t i = 2; i <= 200 && ok; i++) {
    *(volatile uint32_t*)(uintptr_t)(va + 1) = i;
    ok = expect_eq("after patching", i, call(va) & 0xffffffff);
  }
}
// The function body replaced by a different instruction sequence.
static void replace_body(void) {
  const uint8_t fn1[] = {FN_MOV_EAX(7)};
  const uint8_t fn2[] = {0x31, 0xc0, 0xff, 0xc0, 0xff, 0xc0, 0xc3};  // xor %eax,%eax; inc %eax; inc %eax; ret
  uint64_t va = code_page(fn1, sizeof fn1, 0);
  if (!expect_eq("first body", 7, call(va) & 0xffffffff)) return;
  memcpy((void*)(uintptr_t)va, fn2, sizeof fn2);
  expect_eq("second body", 2, call(va) & 0xffffffff);
}
// Patched from CPL 3, called at CPL 3.
static uint64_t user_patch(uint64_t va) {
  uint64_t sum = 0;
  for (uint32_t i = 1; i <= 50; i++) {
    *(volatile uint32_t*)(uintptr_t)(va + 1) = i;
    sum += call(va) & 0xffffffff;
  }
  return sum;
}
static void patch_from_user(void) {
  const uint8_t fn[] = {FN_MOV_EAX(0)};
  uint64_t va = code_page(fn, sizeof fn, 0);
  struct event ev;
  xrun_fn(3, user_patch, va, 0, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum of 1..50", 1275, ev.r.rax);
}
// A function whose body jumps to its tail further on the page (a translator
// may run both as one block): patching the tail, or the jump, is seen.
static void patch_jump_target(void) {
  uint8_t fn[300];
  memset(fn, 0xcc, sizeof fn);
  const uint8_t head[] = {0xb8, 1, 0, 0, 0,        // mov $1, %eax
                          0xe9, 0xf6, 0, 0, 0};    // jmp +246: to offset 256
  const uint8_t tail[] = {0x83, 0xc0, 0x10, 0xc3};  // add $0x10, %eax; ret
  const uint8_t back[] = {0xb8, 5, 0, 0, 0, 0xc3};  // (at 128) mov $5, %eax; ret
  memcpy(fn, head, sizeof head);
  memcpy(fn + 128, back, sizeof back);
  memcpy(fn + 256, tail, sizeof tail);
  uint64_t va = code_page(fn, sizeof fn, 0);
  int ok = expect_eq("first call", 0x11, call(va) & 0xffffffff);
  for (uint32_t i = 2; i <= 40 && ok; i++) {
    *(volatile uint8_t*)(uintptr_t)(va + 258) = (uint8_t)i;  // the tail's immediate
    ok = expect_eq("after patching the tail", 1 + i, call(va) & 0xffffffff);
  }
  // Now the jump itself: to offset 128.
  *(volatile uint32_t*)(uintptr_t)(va + 6) = 128 - 10;
  ok && expect_eq("after patching the jump", 5, call(va) & 0xffffffff);
}
// Functions whose block ends with a jump to code on another page: a
// translator may look ahead there to learn which flags stay live after the
// jump, and remember what it found. The code there first kills the flags;
// patched, it reads the carry that each function's compare set before a
// store. A function translated before the patch (translated again after
// it) and one translated only after it must both keep the carry.
static uint64_t jump_to(uint64_t at_pa, uint64_t from_va_end, uint64_t target) {
  const int32_t rel = (int32_t)(target - from_va_end);
  memcpy((void*)(uintptr_t)at_pa, &rel, 4);
  return target;
}
static void successor_reads_flags(void) {
  const uint8_t kills[] = {0x31, 0xc0, 0x83, 0xc0, 0x05, 0xc3};        // xor %eax,%eax; add $5,%eax; ret
  const uint8_t reads[] = {0x0f, 0x92, 0xc0, 0x0f, 0xb6, 0xc0, 0xc3};  // setc %al; movzbl %al,%eax; ret
  const uint8_t fn[] = {0xb9, 1, 0, 0, 0,              // mov $1, %ecx
                        0x83, 0xf9, 0x02,              // cmp $2, %ecx: CF = 1
                        0x48, 0x8d, 0x54, 0x24, 0xf8,  // lea -8(%rsp), %rdx
                        0x48, 0x89, 0x0a,              // mov %rcx, (%rdx)
                        0xe9, 0, 0, 0, 0};             // jmp (the other page)
  uint64_t pa1, pa2;
  const uint64_t succ = code_page(kills, sizeof kills, 0);
  const uint64_t f1 = code_page(fn, sizeof fn, &pa1);
  const uint64_t f2 = code_page(fn, sizeof fn, &pa2);
  jump_to(pa1 + sizeof fn - 4, f1 + sizeof fn, succ);
  jump_to(pa2 + sizeof fn - 4, f2 + sizeof fn, succ);
  int ok = 1;
  for (int i = 0; i < 3 && ok; i++) ok = expect_eq("before the patch", 5, call(f1) & 0xffffffff);
  memcpy((void*)(uintptr_t)succ, reads, sizeof reads);
  ok = ok && expect_eq("translated before the patch: carry", 1, call(f1) & 0xffffffff);
  ok && expect_eq("translated after the patch: carry", 1, call(f2) & 0xffffffff);
}

// A store to data on the same page as code that runs does not change what
// the code does.
static void data_on_code_page(void) {
  const uint8_t fn[] = {FN_MOV_EAX(9)};
  uint64_t va = code_page(fn, sizeof fn, 0);
  int ok = 1;
  for (int i = 0; i < 100 && ok; i++) {
    *(volatile uint64_t*)(uintptr_t)(va + 0x800) = (uint64_t)i;
    ok = expect_eq("result", 9, call(va) & 0xffffffff);
  }
}

// ---- other virtual addresses of the same frame -------------------------------------------

// Code at va, written through a data alias (another virtual page, same
// frame): the check is by physical address.
static void write_through_alias(void) {
  const uint8_t fn[] = {FN_MOV_EAX(1)};
  uint64_t pa;
  uint64_t va = code_page(fn, sizeof fn, &pa);
  uint64_t alias = fresh_va();
  map_page(g_kpml4, alias, pa, PTE_P | PTE_W | PTE_NX);
  int ok = expect_eq("first call", 1, call(va) & 0xffffffff);
  for (uint32_t i = 2; i <= 50 && ok; i++) {
    *(volatile uint32_t*)(uintptr_t)(alias + 1) = i;
    ok = expect_eq("after the alias write", i, call(va) & 0xffffffff);
  }
}
// The same from CPL 3: the alias is a user page, the code is called by the
// user function too.
static uint64_t alias_user_fn(uint64_t arg) {
  uint64_t va = arg & 0xffffffffffffull, alias = va + PAGE_SIZE * 2;  // see alias_user
  uint64_t sum = 0;
  for (uint32_t i = 1; i <= 20; i++) {
    *(volatile uint32_t*)(uintptr_t)(alias + 1) = i * 3;
    sum += call(va) & 0xffffffff;
  }
  return sum;
}
static void alias_user(void) {
  const uint8_t fn[] = {FN_MOV_EAX(0)};
  uint64_t pa;
  uint64_t va = code_page(fn, sizeof fn, &pa);
  map_page(g_kpml4, va + PAGE_SIZE * 2, pa, PTE_P | PTE_W | PTE_U | PTE_NX);  // fresh_va leaves gaps
  struct event ev;
  xrun_fn(3, alias_user_fn, va, 0, &ev);
  expect_vector(&ev, V_END) && expect_eq("sum of 3 * (1..20)", 630, ev.r.rax);
}
// Two executable mappings of one frame: run through one, patch, run through
// the other, then the first again.
static void two_exec_aliases(void) {
  const uint8_t fn[] = {FN_MOV_EAX(5)};
  uint64_t pa;
  uint64_t va1 = code_page(fn, sizeof fn, &pa);
  uint64_t va2 = fresh_va();
  map_page(g_kpml4, va2, pa, PTE_P | PTE_W);
  if (!expect_eq("via va1", 5, call(va1) & 0xffffffff) || !expect_eq("via va2", 5, call(va2) & 0xffffffff)) return;
  *(volatile uint32_t*)(uintptr_t)(va2 + 1) = 6;
  expect_eq("via va1 after the patch", 6, call(va1) & 0xffffffff) &&
      expect_eq("via va2 after the patch", 6, call(va2) & 0xffffffff);
}
// The code page's PTE pointed at another frame (with other code) + invlpg:
// the new frame's code runs.
static void remap_code_page(void) {
  const uint8_t fn1[] = {FN_MOV_EAX(1)}, fn2[] = {FN_MOV_EAX(2)};
  uint64_t va = code_page(fn1, sizeof fn1, 0);
  uint64_t pa2;
  (void)code_page(fn2, sizeof fn2, &pa2);
  int ok = 1;
  for (int i = 0; i < 20 && ok; i++) {
    ok = expect_eq("before the remap", 1, call(va) & 0xffffffff);
    uint64_t old = *pt_entry(g_kpml4, va, 1, 0);
    map_page(g_kpml4, va, pa2, PTE_P | PTE_W | PTE_U);
    invlpg(va);
    ok = ok && expect_eq("after the remap", 2, call(va) & 0xffffffff);
    *pt_entry(g_kpml4, va, 1, 0) = old;
    invlpg(va);
  }
}

// ---- code written by string instructions ---------------------------------------------------

// rep movsb copies a function into a page, it runs; another rep movsb
// replaces it; the new one runs.
static void copy_by_rep_movsb(void) {
  const uint8_t fn1[] = {FN_MOV_EAX(0x1234)}, fn2[] = {0x48, 0xc7, 0xc0, 0x78, 0x56, 0x00, 0x00, 0xc3};  // mov $0x5678, %rax; ret
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, 0);
  int ok = 1;
  for (int i = 0; i < 20 && ok; i++) {
    const uint8_t* src = i & 1 ? fn2 : fn1;
    size_t n = i & 1 ? sizeof fn2 : sizeof fn1;
    void* d = (void*)(uintptr_t)(va + 16);
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    ok = expect_eq("result", i & 1 ? 0x5678 : 0x1234, call(va + 16) & 0xffffffff);
  }
}
// rep stosb writes a run of one-byte instructions (inc %eax is 2 bytes:
// use "nop" 0x90) ending in a ret written by a plain store.
static void code_by_rep_stosb(void) {
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, 0);
  *(volatile uint8_t*)(uintptr_t)va = 0xc3;
  if (!expect_eq("ret only", 0, call(va) & 0)) return;
  void* d = (void*)(uintptr_t)va;
  size_t n = 300;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0x90) : "memory");
  const uint8_t tail[] = {FN_MOV_EAX(0x300)};
  memcpy((void*)(uintptr_t)(va + 300), tail, sizeof tail);
  expect_eq("nops then mov; ret", 0x300, call(va) & 0xffffffff);
}
// Code copied with rep movsq from CPL 3 and run at CPL 3.
static uint64_t user_copy(uint64_t va) {
  static const uint64_t src[2] = {0xc300000abcb8ull, 0};  // mov $0xabc, %eax; ret
  const uint64_t* s = src;
  void* d = (void*)(uintptr_t)va;
  size_t n = 2;
  __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return call(va);
}
static void user_rep_movsq(void) {
  uint64_t va = new_page(PTE_P | PTE_W | PTE_U, 0);
  const uint8_t fn[] = {FN_MOV_EAX(1)};
  memcpy((void*)(uintptr_t)va, fn, sizeof fn);
  if (!expect_eq("before", 1, call(va) & 0xffffffff)) return;
  struct event ev;
  xrun_fn(3, user_copy, va, 0, &ev);
  expect_vector(&ev, V_END) && expect_eq("after the user copy", 0xabc, ev.r.rax & 0xffffffff);
}

static const struct kcase cases[] = {
    {"smc.next-insn-immediate.cpl0", next_imm0},
    {"smc.next-insn-immediate.cpl3", next_imm3},
    {"smc.next-insn-opcode.cpl0", next_op0},
    {"smc.next-insn-opcode.cpl3", next_op3},
    {"smc.next-jump-displacement.cpl0", next_jmp0},
    {"smc.next-jump-displacement.cpl3", next_jmp3},
    {"smc.loop-patches-itself.cpl0", loop_imm0},
    {"smc.loop-patches-itself.cpl3", loop_imm3},
    {"smc.next-insn-vector-store.cpl0", next_vec0},
    {"smc.next-insn-rep-stosb.cpl3", next_stos3},
    {"smc.next-insn-xchg.cpl0", next_xchg0},
    {"smc.patch-function-200-times", patch_and_call},
    {"smc.replace-function-body", replace_body},
    {"smc.patch-jump-target", patch_jump_target},
    {"smc.patch-and-call.cpl3", patch_from_user},
    {"smc.successor-starts-reading-flags", successor_reads_flags},
    {"smc.data-store-on-code-page", data_on_code_page},
    {"smc.write-through-data-alias", write_through_alias},
    {"smc.write-through-data-alias.cpl3", alias_user},
    {"smc.two-executable-aliases", two_exec_aliases},
    {"smc.remap-code-page", remap_code_page},
    {"smc.code-copied-by-rep-movsb", copy_by_rep_movsb},
    {"smc.code-written-by-rep-stosb", code_by_rep_stosb},
    {"smc.code-copied-by-rep-movsq.cpl3", user_rep_movsq},
};

int main(void) {
  ktest_init();
  return run_cases(cases, ARRAY_SIZE(cases));
}
