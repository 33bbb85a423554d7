// stack.c — implicit stack accesses: push/pop in every form (immediate,
// register, memory, rsp-relative, 16-bit), call/ret (direct, register,
// memory, RIP-relative), ret imm16, enter/leave with nesting levels, deep
// recursion, return-address games (call/pop, push/ret, a callee that edits
// its return address) and dynamic stack frames.
#include "check.h"

static uint64_t slot[8] ASM_VISIBLE;
static uint64_t rip_slot ASM_VISIBLE = 0x5151515151515151ull;
uint64_t stack_add_one(uint64_t);
static uint64_t (*const fn_table[2])(uint64_t) ASM_VISIBLE = {stack_add_one, stack_add_one};

__asm__(
    ".text\n"
    // ret $16: the callee pops its two stack arguments.
    ".globl stack_ret_imm\n"
    "stack_ret_imm:\n"
    "  movq 8(%rsp), %rax\n"      // the argument pushed last
    "  subq 16(%rsp), %rax\n"     // the argument pushed first
    "  ret $16\n"
    // Returns its argument plus one.
    ".globl stack_add_one\n"
    "stack_add_one:\n"
    "  leaq 1(%rdi), %rax\n"
    "  ret\n"
    // Skips the 2-byte instruction after its call site by editing the
    // return address.
    ".globl stack_skip_next\n"
    "stack_skip_next:\n"
    "  addq $2, (%rsp)\n"
    "  ret\n"
    // Discards its return address and returns to the one below it.
    ".globl stack_return_twice\n"
    "stack_return_twice:\n"
    "  addq $8, %rsp\n"
    "  movq $222, %rax\n"
    "  ret\n");

static void PushPopForms(void) {
  uint64_t a, b, c, d;
  __asm__ volatile(
      "pushq $-5\n\t"               // imm8, sign-extended
      "pushq $0x12345678\n\t"       // imm32
      "pushq $-0x12345678\n\t"
      "popq %0\n\t"
      "popq %1\n\t"
      "addq %0, %1\n\t"
      "popq %2\n\t"
      "xorl %k3, %k3\n\t"
      "pushw $0x7abc\n\t"           // 16-bit pushes: rsp -= 2 each
      "pushw $0x1122\n\t"
      "popw %w3\n\t"
      "shlq $16, %3\n\t"
      "popw %w3\n\t"
      : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d)
      :
      : "memory", "cc");
  REPORT("push-imm", Mix(Mix(Mix(a, b), c), d));

  // Every register through push and pop, crossing the registers over.
  uint64_t r[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  __asm__ volatile(
      "pushq %%rax\n\tpushq %%rbx\n\tpushq %%rcx\n\tpushq %%rdx\n\t"
      "pushq %%rsi\n\tpushq %%rdi\n\tpushq %%r8\n\tpushq %%r9\n\t"
      "popq %%rax\n\tpopq %%rbx\n\tpopq %%rcx\n\tpopq %%rdx\n\t"
      "popq %%rsi\n\tpopq %%rdi\n\tpopq %%r8\n\tpopq %%r9\n\t"
      "pushq %%r10\n\tpushq %%r11\n\tpushq %%r12\n\tpushq %%r13\n\tpushq %%r14\n\tpushq %%r15\n\t"
      "popq %%r15\n\tpopq %%r14\n\tpopq %%r13\n\tpopq %%r12\n\tpopq %%r11\n\tpopq %%r10\n\t"
      "pushw %%ax\n\tpopw %%si\n\t"
      : "+a"(r[0]), "+b"(r[1]), "+c"(r[2]), "+d"(r[3]), "+S"(r[4]), "+D"(r[5]), "+r"(r[6]), "+r"(r[7])
      :
      : "memory", "r10", "r11", "r12", "r13", "r14", "r15");
  REPORT_HASH("push-pop-regs", r, sizeof r);

  // push/pop with memory operands: absolute, RIP-relative, based, indexed.
  for (int i = 0; i < 8; i++) slot[i] = 0x1000 * i + 7;
  uint64_t idx = 3;
  __asm__ volatile(
      "pushq slot+8\n\t"            // absolute disp32
      "pushq rip_slot(%%rip)\n\t"
      "pushq (%0)\n\t"
      "pushq 16(%0,%1,8)\n\t"
      "popq 56(%0)\n\t"             // slot[7] = slot[5]
      "popq slot+48\n\t"            // slot[6] = slot[0]
      "popq rip_slot(%%rip)\n\t"    // rip_slot = old rip_slot
      "popq (%0,%1,8)\n\t"          // slot[3] = slot[1]
      "pushw 2(%0)\n\t"             // 16-bit push from memory
      "popw 4(%0)\n\t"
      :
      : "r"(slot), "r"(idx)
      : "memory");
  REPORT("push-pop-mem", Mix(Fnv1a(slot, sizeof slot), rip_slot));

  // rsp-relative operands: push [rsp+8] reads before rsp moves; pop [rsp+8]
  // computes its address after rsp moved (Intel SDM: POP).
  uint64_t x, y, z, w;
  __asm__ volatile(
      "pushq $10\n\t"
      "pushq $20\n\t"
      "pushq 8(%%rsp)\n\t"          // pushes 10
      "popq %0\n\t"                 // x = 10
      "pushq $30\n\t"               // stack: 30 20 10
      "popq 8(%%rsp)\n\t"           // after the pop rsp points at 20; writes 30 over 10
      "popq %1\n\t"                 // y = 20
      "popq %2\n\t"                 // z = 30
      "movq %%rsp, %3\n\t"
      "pushq %%rsp\n\t"             // pushes the value rsp had before the push
      "subq (%%rsp), %3\n\t"        // w = 0
      "popq %%rsp\n\t"              // pop into rsp itself: back where it was
      : "=&r"(x), "=&r"(y), "=&r"(z), "=&r"(w)
      :
      : "memory", "cc");
  REPORT("push-pop-rsp-relative", Mix(Mix(Mix(x, y), z), w));
}

static void CallsAndReturns(void) {
  uint64_t h = 0, v;
  __asm__ volatile(
      "pushq $1000\n\t"
      "pushq $58\n\t"
      "call stack_ret_imm\n\t"  // rax = 58 - 1000, args popped by the callee
      : "=a"(v)
      :
      : "memory", "cc");
  h = Mix(h, v);
  uint64_t arg = 41;
  __asm__ volatile("call *%2" : "=a"(v), "+D"(arg) : "r"(stack_add_one) : "memory", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11");
  h = Mix(h, v);
  __asm__ volatile("call *fn_table+8\n\t"           // absolute memory operand
                   "movq %%rax, %%rdi\n\t"
                   "call *fn_table(%%rip)\n\t"       // RIP-relative
                   "movq %%rax, %%rdi\n\t"
                   "call *(%2,%3,8)\n\t"             // based and indexed
                   : "=&a"(v), "+D"(arg)
                   : "r"(fn_table), "r"(1ul)
                   : "memory", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11");
  h = Mix(h, v);
  // The callee bumps its return address past "xorl %eax, %eax" (2 bytes).
  __asm__ volatile(
      "movl $77, %%eax\n\t"
      "call stack_skip_next\n\t"
      "xorl %%eax, %%eax\n\t"
      : "=a"(v)
      :
      : "memory", "cc");
  h = Mix(h, v);
  // call/pop: the classic "where am I" (a call that never returns).
  uint64_t here, there;
  __asm__ volatile(
      "call 1f\n"
      "1: popq %0\n\t"
      "leaq 1b(%%rip), %1\n\t"
      "subq %1, %0\n\t"
      : "=r"(here), "=r"(there)
      :
      : "memory", "cc");
  h = Mix(h, here);
  // push/ret: a return used as a jump.
  __asm__ volatile(
      "leaq 2f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "movl $5, %%eax\n\t"
      "ret\n\t"
      "movl $6, %%eax\n"
      "2: addl $100, %%eax\n\t"
      : "=a"(v)
      :
      : "memory", "cc");
  h = Mix(h, v);
  // A callee that returns two frames up: its caller's return address is
  // pushed by hand.
  __asm__ volatile(
      "leaq 3f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "call stack_return_twice\n\t"
      "movl $333, %%eax\n"        // skipped
      "3:\n\t"
      : "=a"(v)
      :
      : "memory", "cc");
  h = Mix(h, v);
  REPORT("call-ret-forms", h);
}

// enter with nesting levels copies the enclosing frame pointers.
static void EnterLeave(void) {
  uint64_t out[6];
  __asm__ volatile(
      "pushq %%rbp\n\t"
      "movq $0x1111, %%rbp\n\t"     // a fake outer frame pointer...
      "pushq %%rbp\n\t"             // ...that enter's nested copy reads through rbp
      "movq %%rsp, %%rbp\n\t"
      "enter $32, $0\n\t"
      "movq %%rbp, %%rax\n\t"
      "subq %%rsp, %%rax\n\t"
      "movq %%rax, 0(%0)\n\t"       // 32
      "enter $16, $1\n\t"
      "movq %%rbp, %%rax\n\t"
      "subq %%rsp, %%rax\n\t"
      "movq %%rax, 8(%0)\n\t"       // 16 + 8
      "enter $8, $3\n\t"            // copies two outer frame pointers, pushes rbp
      "movq %%rbp, %%rax\n\t"
      "subq %%rsp, %%rax\n\t"
      "movq %%rax, 16(%0)\n\t"      // 8 + 3 * 8
      "movq -8(%%rbp), %%rax\n\t"
      "subq %%rbp, %%rax\n\t"
      "movq %%rax, 24(%0)\n\t"      // first copied frame pointer, relative
      "movq -24(%%rbp), %%rax\n\t"
      "subq %%rbp, %%rax\n\t"
      "movq %%rax, 32(%0)\n\t"      // the new frame pointer itself, relative
      "leave\n\t"
      "leave\n\t"
      "leave\n\t"
      "movq %%rsp, %%rax\n\t"
      "subq %%rbp, %%rax\n\t"
      "movq %%rax, 40(%0)\n\t"      // back at the fake frame: 0
      "popq %%rbp\n\t"
      "popq %%rbp\n\t"
      :
      : "r"(out)
      : "rax", "memory", "cc");
  REPORT_HASH("enter-leave", out, sizeof out);
  guest_printf("enter-leave-values: %ld %ld %ld %ld %ld %ld\n", (long)out[0], (long)out[1], (long)out[2],
               (long)out[3], (long)out[4], (long)out[5]);
}

static NOINLINE uint64_t Ackermann(uint64_t m, uint64_t n) {
  if (m == 0) return n + 1;
  if (n == 0) return Ackermann(m - 1, 1);
  return Ackermann(m - 1, Ackermann(m, n - 1));
}

static NOINLINE uint64_t DeepSum(uint64_t depth, uint64_t acc) {
  volatile uint64_t frame[2] = {depth, acc};  // a real frame, not a loop
  if (depth == 0) return acc;
  uint64_t r = DeepSum(depth - 1, acc + frame[0] * 3);
  return r ^ frame[1];
}

static NOINLINE uint64_t Tak(int x, int y, int z) {
  return y < x ? Tak(Tak(x - 1, y, z), Tak(y - 1, z, x), Tak(z - 1, x, y)) : (uint64_t)z;
}

static void Recursion(void) {
  REPORT_INT("ackermann-2-300", Ackermann(2, 300));
  REPORT_INT("ackermann-3-6", Ackermann(3, 6));
  REPORT("deep-recursion-12000", DeepSum(12000, 1));
  REPORT_INT("tak-18-12-6", Tak(18, 12, 6));
}

// Variable-size frames: the compiler realigns rsp and addresses through rbp.
static NOINLINE uint64_t DynamicFrame(int n) {
  volatile uint8_t* p = __builtin_alloca(n);
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(i * 7);
  uint64_t s = 0;
  for (int i = 0; i < n; i++) s = s * 31 + p[i];
  return s;
}

// Stack traffic a translator may cover with one check while rsp moves by
// known amounts: a prologue and epilogue with a frame between, 16-bit pushes
// and pops, lea and add/sub on rsp, rsp-relative loads and stores among them.
static void StackRuns(void) {
  uint64_t h = 0;
  for (uint64_t i = 0; i < 64; i++) {
    uint64_t a = 0x1111 * i, b = ~i, c = i << 40, d = 0, e = 0, f = 0;
    __asm__ volatile(
        "push %[a]\n\t"
        "push %[b]\n\t"
        "push %[c]\n\t"
        "pushq $-5\n\t"
        "sub $40, %%rsp\n\t"
        "mov %[a], 8(%%rsp)\n\t"
        "addq 40(%%rsp), %[a]\n\t"      // + (-5)
        "lea -16(%%rsp), %%rsp\n\t"
        "pushw $0x1234\n\t"
        "pushw %w[b]\n\t"
        "movzwl 2(%%rsp), %k[d]\n\t"     // 0x1234
        "popw %w[e]\n\t"
        "popw %w[f]\n\t"
        "mov 24(%%rsp), %[c]\n\t"       // the a stored at 8(rsp) before the lea
        "add $56, %%rsp\n\t"
        "pop %[d]\n\t"                  // + the -5 pushed; overrides d
        "pop %[e]\n\t"
        "pop %[f]\n\t"
        "pop %[b]\n\t"
        : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [d] "+r"(d), [e] "+r"(e), [f] "+r"(f)
        :
        : "memory", "cc");
    h = Mix(Mix(Mix(Mix(Mix(Mix(h, a), b), c), d), e), f);
  }
  REPORT("stack-runs", h);
}

static void DynamicFrames(void) {
  uint64_t h = 0;
  for (int n = 1; n < 3000; n += 211) h = Mix(h, DynamicFrame(n));
  REPORT("alloca-frames", h);
}

int main(void) {
  PushPopForms();
  CallsAndReturns();
  EnterLeave();
  Recursion();
  DynamicFrames();
  StackRuns();
  return 0;
}
