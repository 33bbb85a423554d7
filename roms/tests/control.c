// control.c — control flow: function-pointer tables, a big switch compiled
// to a jump table, computed goto, indirect jmp/call through registers and
// memory, every jcc condition, loop/loope/loopne/jrcxz/jecxz, mutual and
// tail recursion, __builtin_setjmp/longjmp, `rep ret`, and a jump into the
// middle of an instruction (the same bytes decoded two ways).
#include "check.h"

typedef uint64_t (*Op)(uint64_t, uint64_t);
#define DEFINE_OP(name, expr) \
  static NOINLINE uint64_t name(uint64_t a, uint64_t b) { return expr; }
DEFINE_OP(OpAdd, a + b)
DEFINE_OP(OpSub, a - b)
DEFINE_OP(OpMul, a * b)
DEFINE_OP(OpXor, a ^ b)
DEFINE_OP(OpRol, (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)))
DEFINE_OP(OpDiv, a / (b | 1))
DEFINE_OP(OpMin, a < b ? a : b)
DEFINE_OP(OpMix, Mix(a, b))
static Op const kOps[8] ASM_VISIBLE = {OpAdd, OpSub, OpMul, OpXor, OpRol, OpDiv, OpMin, OpMix};

static void FunctionPointers(void) {
  uint64_t acc = 1;
  Rng r = {42};
  for (int i = 0; i < 20000; i++) {
    uint64_t x = RngNext(&r);
    acc = kOps[x & 7](acc, x >> 3);
  }
  REPORT("function-pointer-table", acc);
}

static NOINLINE uint64_t BigSwitch(unsigned k, uint64_t v) {
  switch (k) {
    case 0: return v + 1;
    case 1: return v * 3;
    case 2: return v ^ 0x55;
    case 3: return v >> 1;
    case 4: return v << 2;
    case 5: return v - 7;
    case 6: return ~v;
    case 7: return v * v;
    case 8: return v + 0x1000;
    case 9: return v | 0x100;
    case 10: return v & 0xffff;
    case 11: return v / 3;
    case 12: return v % 1000;
    case 13: return v + (v >> 7);
    case 14: return v ^ (v << 13);
    case 15: return v * 0x9e3779b97f4a7c15ull;
    case 16: return v + 16;
    case 17: return v - 17;
    case 18: return v ^ 18;
    case 19: return v * 19;
    case 20: return v >> 20;
    case 21: return v + 2121;
    case 22: return v * 22 + 1;
    case 23: return v ^ (v >> 23);
    case 24: return v - (v >> 24);
    case 25: return v | 25;
    case 26: return v & ~26ull;
    case 27: return v * 27;
    case 28: return v + 28 * 28;
    case 29: return v ^ 0x2929292929ull;
    case 30: return v - 30;
    case 31: return v * 31 + 31;
    case 32: return v + (v << 3);
    case 33: return v ^ 333;
    case 34: return v >> 3;
    case 35: return v * 35;
    case 36: return v + 36;
    case 37: return (v << 37) | (v >> 27);
    case 38: return v ^ 0x38;
    case 39: return v - 39;
    default: return v + k;
  }
}

static void Switches(void) {
  uint64_t v = 12345;
  Rng r = {7};
  for (int i = 0; i < 20000; i++) v = BigSwitch((unsigned)(RngNext(&r) % 45), v);
  REPORT("switch-jump-table", v);
}

// A tiny threaded interpreter: computed goto through a table of label addresses.
static NOINLINE uint64_t ComputedGoto(const uint8_t* code, uint64_t x) {
  static void* const kLabels[] = {&&op_inc, &&op_dbl, &&op_xor, &&op_jnz, &&op_end};
  uint64_t counter = 50;
  const uint8_t* pc = code;
#define NEXT goto* kLabels[*pc++]
  NEXT;
op_inc:
  x += 1;
  NEXT;
op_dbl:
  x *= 2;
  NEXT;
op_xor:
  x ^= x >> 5;
  NEXT;
op_jnz:
  if (--counter) pc = code;
  NEXT;
op_end:
  return x;
#undef NEXT
}

static void ComputedGotos(void) {
  static const uint8_t prog[] = {0, 1, 2, 0, 2, 1, 3, 4};
  REPORT("computed-goto", ComputedGoto(prog, 3));
}

// jmp through a register, through memory (absolute, RIP-relative, indexed),
// and call through registers (r11 among them: the one an indirect branch
// uses for its lookup).
__asm__(
    ".section .rodata\n"
    ".balign 8\n"
    "control_jump_table:\n"
    "  .quad control_target0, control_target1, control_target2, control_target3\n"
    ".text\n"
    // rdi selects a target; each adds its own constant to rax then returns.
    ".globl control_dispatch\n"
    "control_dispatch:\n"
    "  movq %rdi, %rax\n"
    "  andl $7, %edi\n"
    "  cmpl $1, %edi\n"
    "  je 1f\n"
    "  cmpl $2, %edi\n"
    "  je 2f\n"
    "  cmpl $3, %edi\n"
    "  je 3f\n"
    "  cmpl $4, %edi\n"
    "  je 4f\n"
    "  cmpl $5, %edi\n"
    "  je 5f\n"
    "  cmpl $6, %edi\n"
    "  je 6f\n"
    "  cmpl $7, %edi\n"
    "  je 7f\n"
    "  jmp *control_jump_table(,%rdi,8)\n"       // indexed absolute
    "3: movq control_jump_table+24, %r11\n"
    "  jmp *%r11\n"
    "4: movq control_jump_table+8, %r9\n"
    "  jmp *%r9\n"
    "5: movq control_jump_table+16, %r11\n"
    "  call *%r11\n"
    "  addq $5, %rax\n"
    "  ret\n"
    "6: movq control_jump_table, %r8\n"
    "  call *%r8\n"
    "  addq $6, %rax\n"
    "  ret\n"
    "7: movq control_jump_table+24, %rdx\n"
    "  jmp *%rdx\n"
    "1: jmp *control_jump_table+8(%rip)\n"      // RIP-relative
    "2: movq control_jump_table+16, %rcx\n"
    "  .byte 0x3e\n"                            // notrack prefix (CET): ignored
    "  jmp *%rcx\n"                             // register
    "control_target0: addq $1000, %rax\n  rep ret\n"   // `rep ret`: old AMD idiom
    "control_target1: addq $2000, %rax\n  ret\n"
    "control_target2: addq $3000, %rax\n  ret\n"
    "control_target3: addq $4000, %rax\n  ret\n");
uint64_t control_dispatch(uint64_t);

static void IndirectJumps(void) {
  uint64_t h = 0;
  for (uint64_t i = 0; i < 64; i++) h = Mix(h, control_dispatch(i * 5));
  REPORT("indirect-jmp-forms", h);
}

// Every condition code, taken as a branch (not setcc).
#define JCC(cc)                                                                                             \
  do {                                                                                                     \
    uint64_t t;                                                                                            \
    __asm__ volatile("cmpq %2, %1\n\tmovl $0, %k0\n\tj" #cc " 1f\n\tmovl $1, %k0\n1:" : "=&r"(t) : "r"(a), "r"(b) : "cc"); \
    bits = bits << 1 | t;                                                                                  \
  } while (0)

static void ConditionCodes(void) {
  static const uint64_t vals[] = {0, 1, 2, 0x7f, 0x80, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 12345};
  uint64_t h = 0;
  for (unsigned i = 0; i < 9; i++) {
    for (unsigned j = 0; j < 9; j++) {
      uint64_t a = vals[i], b = vals[j], bits = 0;
      JCC(o); JCC(no); JCC(b); JCC(ae); JCC(e); JCC(ne); JCC(be); JCC(a);
      JCC(s); JCC(ns); JCC(p); JCC(np); JCC(l); JCC(ge); JCC(le); JCC(g);
      h = Mix(h, bits);
    }
  }
  REPORT("jcc-all-conditions", h);
}

static const uint8_t arr[16] ASM_VISIBLE = {0, 0, 0, 0, 0, 3, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};

static void Loops(void) {
  uint64_t h = 0;
  uint64_t n = 37, acc = 0;
  __asm__ volatile("1: addq %0, %1\n\tloop 1b" : "+c"(n), "+r"(acc) : : "cc");
  h = Mix(h, acc);
  // loope stops at the first non-zero element, loopne at the first zero one.
  uint64_t c = 16, i = 0;
  __asm__ volatile("1: cmpb $0, arr(%1)\n\tleaq 1(%1), %1\n\tloope 1b" : "+c"(c), "+r"(i) : : "cc", "memory");
  h = Mix(Mix(h, c), i);
  c = 8;
  i = 8;
  __asm__ volatile("1: cmpb $0, arr(%1)\n\tleaq 1(%1), %1\n\tloopne 1b" : "+c"(c), "+r"(i) : : "cc", "memory");
  h = Mix(Mix(h, c), i);
  // jrcxz / jecxz: jecxz tests only ecx.
  uint64_t r1, r2;
  __asm__ volatile("movl $1, %k0\n\tjrcxz 1f\n\tmovl $2, %k0\n1:" : "=&r"(r1) : "c"(0x100000000ull));
  __asm__ volatile("movl $1, %k0\n\tjecxz 1f\n\tmovl $2, %k0\n1:" : "=&r"(r2) : "c"(0x100000000ull));
  h = Mix(Mix(h, r1), r2);
  // loop with a 32-bit counter (address-size prefix: ecx).
  uint64_t c32 = 0xffffffff00000005ull, cnt = 0;
  __asm__ volatile("1: incq %1\n\taddr32 loop 1b" : "+c"(c32), "+r"(cnt) : : "cc");
  h = Mix(Mix(h, c32), cnt);
  REPORT("loop-jrcxz", h);
}

// A loop whose usual path jumps ahead to an out-of-line latch (compare and
// branch back), the rare path falling through to work of its own first: a
// translator may follow the jump and leave at the fall-through instead.
// The rare path reads the compare's flags; the latch's branch back is once
// a jb rel8 and once a jne rel32 (a long loop body).
static void OutOfLineLatches(void) {
  uint8_t bytes[300];
  for (int i = 0; i < 300; i++) bytes[i] = (uint8_t)(i * 37 % 251) | ((i % 7 == 0) ? 0xe8 : 0);
  uint64_t h = 0, i = 0, acc = 0, t = 0;
  __asm__ volatile(
      "1: movzbl (%[b],%[i]), %k[t]\n\t"
      "andl $0xfe, %k[t]\n\t"
      "cmpb $0xe8, %b[t]\n\t"
      "jne 3f\n\t"
      "setz %b[t]\n\t"      // rare: ZF from the compare
      "addq %[t], %[acc]\n\t"
      "rolq $9, %[acc]\n\t"
      "jmp 3f\n\t"
      ".p2align 4\n"
      "3: incq %[i]\n\t"
      "cmpq $300, %[i]\n\t"
      "jb 1b\n\t"
      : [i] "+r"(i), [acc] "+r"(acc), [t] "=&r"(t)
      : [b] "r"(bytes)
      : "cc", "memory");
  h = Mix(Mix(h, acc), i);
  i = 0;
  acc = 5;
  __asm__ volatile(
      "1: movzbl (%[b],%[i]), %k[t]\n\t"
      "testb $1, %b[t]\n\t"
      "jz 3f\n\t"
      "adcq %[t], %[acc]\n\t"  // rare-ish: CF from test (0)
      "xorq $0x55, %[acc]\n\t"
      "jmp 3f\n\t"
      ".fill 130, 1, 0x90\n"      // (nops: the branch back needs a rel32)
      "3: addq $1, %[i]\n\t"
      "cmpq $299, %[i]\n\t"
      ".byte 0x0f, 0x85\n\t"      // jne rel32 1b
      ".long 1b - (. + 4)\n\t"
      : [i] "+r"(i), [acc] "+r"(acc), [t] "=&r"(t)
      : [b] "r"(bytes)
      : "cc", "memory");
  h = Mix(Mix(h, acc), i);
  REPORT("out-of-line-latches", h);
}

static NOINLINE int IsEven(unsigned n);
static NOINLINE int IsOdd(unsigned n) { return n == 0 ? 0 : IsEven(n - 1); }
static NOINLINE int IsEven(unsigned n) { return n == 0 ? 1 : IsOdd(n - 1); }

static NOINLINE uint64_t Collatz(uint64_t n, uint64_t steps) {  // tail call: a jump
  if (n == 1) return steps;
  return Collatz(n & 1 ? 3 * n + 1 : n / 2, steps + 1);
}

static void Recursion(void) {
  REPORT_INT("mutual-recursion", IsEven(5001) * 10 + IsOdd(7777));
  uint64_t total = 0;
  for (uint64_t n = 1; n < 3000; n++) total += Collatz(n, 0);
  REPORT_INT("tail-calls", total);
}

static void* jmpbuf[5];
static int unwinds;

static NOINLINE void Thrower(int depth) {
  volatile char pad[64];
  pad[0] = (char)depth;
  if (depth == 0) __builtin_longjmp(jmpbuf, 1);
  Thrower(depth - 1);
  unwinds += pad[0];  // never reached
}

static NOINLINE int Catcher(int depth) {
  if (__builtin_setjmp(jmpbuf) == 0) {
    Thrower(depth);
    return -1;
  }
  return depth;
}

static void SetjmpLongjmp(void) {
  int sum = 0;
  for (int d = 0; d < 40; d += 3) sum += Catcher(d);
  REPORT_INT("setjmp-longjmp", sum * 1000 + unwinds);
}

// Entering the same bytes at two offsets: the 5-byte mov at `1:` hides
// `add $5, %rax` (48 83 c0 05) in its immediate.
static void OverlappingInstructions(void) {
  uint64_t a, b;
  __asm__ volatile(
      "xorl %%eax, %%eax\n\t"
      "leaq 1f+1(%%rip), %%rcx\n\t"
      "jmp 2f\n"
      "1: .byte 0xb8, 0x48, 0x83, 0xc0, 0x05\n\t"  // mov $0x05c08348, %eax
      "jmp 3f\n"
      "2: movl $7, %%eax\n\t"
      "jmp *%%rcx\n"                             // executes add $5, %rax; jmp 3f
      "3:\n\t"
      : "=a"(a)
      :
      : "rcx", "cc");
  __asm__ volatile(
      "xorl %%eax, %%eax\n\t"
      "jmp 1f\n"
      "1: .byte 0xb8, 0x48, 0x83, 0xc0, 0x05\n\t"
      : "=a"(b)
      :
      : "cc");
  REPORT("overlapping-instructions", a << 32 | b);
}

// Many tiny blocks: a chain of forward and backward branches.
static NOINLINE uint64_t BranchMaze(uint64_t x) {
  for (int i = 0; i < 1000; i++) {
    if (x & 1) x = x * 3 + 1;
    else if (x & 2) x ^= 0x5555;
    else if (x & 4) x += 12345;
    else if (x & 8) x = (x >> 3) | 1;
    else x = x * 7 + 3;
    if ((x & 0xff) == 0x42) break;
  }
  return x;
}

static void Branches(void) {
  uint64_t h = 0;
  for (uint64_t i = 0; i < 200; i++) h = Mix(h, BranchMaze(i));
  REPORT("branch-maze", h);
}

// Guards before a block's first memory access: compares and conditional
// branches that leave early, then accesses. A translator may put off saving
// its scratch registers until the first access; whichever way each run
// leaves, every register must come out as the guest left it. The asm names
// few registers, so that most are free to be such scratch, and checks all
// of them afterwards.
static void EarlyExits(void) {
  static uint64_t cell[4] = {11, 22, 33, 44};
  uint64_t h = 0;
  for (uint64_t i = 0; i < 40; i++) {
    uint64_t r[16];
    uint64_t* base = cell;
    __asm__ volatile(
        "sub $128, %%rsp\n\t"  // past the red zone
        "push %%rbp\n\t"
        "push %%rbx\n\t"
        "push %%r12\n\t"
        "push %%r13\n\t"
        "push %%r14\n\t"
        "push %%r15\n\t"
        "push %%rdi\n\t"  // r[]
        "mov %[i], %%rax\n\t"
        "lea 4f(%%rip), %%rdx\n\t"
        "push %%rdx\n\t"
        "lea 1f(%%rip), %%rdx\n\t"
        "push %%rdx\n\t"
        "mov $0x1111, %%rcx\n\t"
        "mov $0x2222, %%rdx\n\t"
        "mov $0x3333, %%rbx\n\t"
        "mov $0x4444, %%rbp\n\t"
        "mov $0x5555, %%r8\n\t"
        "mov $0x6666, %%r9\n\t"
        "mov $0x7777, %%r10\n\t"
        "mov $0x8888, %%r11\n\t"
        "mov $0x9999, %%r12\n\t"
        "mov $0xaaaa, %%r13\n\t"
        "mov $0xbbbb, %%r14\n\t"
        "mov $0xcccc, %%r15\n\t"
        "ret\n"  // to 1: a block of its own, naming only rax, rsi and rsp
        "1: test $1, %%al\n\t"
        "jnz 3f\n\t"
        "cmp $30, %%rax\n\t"
        "ja 3f\n\t"
        "add (%%rsi), %%rax\n\t"
        "mov %%rax, 8(%%rsi)\n\t"
        "add 16(%%rsi), %%rax\n"
        "3: ret\n"  // to 4
        "4: pop %%rdi\n\t"
        "mov %%rax, 0(%%rdi)\n\t"
        "mov %%rcx, 8(%%rdi)\n\t"
        "mov %%rdx, 16(%%rdi)\n\t"
        "mov %%rbx, 24(%%rdi)\n\t"
        "mov %%rbp, 32(%%rdi)\n\t"
        "mov %%rsi, 40(%%rdi)\n\t"
        "mov %%r8, 48(%%rdi)\n\t"
        "mov %%r9, 56(%%rdi)\n\t"
        "mov %%r10, 64(%%rdi)\n\t"
        "mov %%r11, 72(%%rdi)\n\t"
        "mov %%r12, 80(%%rdi)\n\t"
        "mov %%r13, 88(%%rdi)\n\t"
        "mov %%r14, 96(%%rdi)\n\t"
        "mov %%r15, 104(%%rdi)\n\t"
        "pop %%r15\n\t"
        "pop %%r14\n\t"
        "pop %%r13\n\t"
        "pop %%r12\n\t"
        "pop %%rbx\n\t"
        "pop %%rbp\n\t"
        "add $128, %%rsp"
        : "+S"(base)
        : "D"(r), [i] "r"(i)
        : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "cc", "memory");
    for (int k = 0; k < 14; k++) h = Mix(h, k == 5 ? r[k] - (uint64_t)(uintptr_t)cell : r[k]);
  }
  h = Mix(h, cell[1]);
  REPORT("early-exits", h);
}

int main(void) {
  EarlyExits();
  FunctionPointers();
  Switches();
  ComputedGotos();
  IndirectJumps();
  ConditionCodes();
  Loops();
  OutOfLineLatches();
  Recursion();
  SetjmpLongjmp();
  OverlappingInstructions();
  Branches();
  return 0;
}
