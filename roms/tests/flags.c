// flags.c — arithmetic flags that stay live across memory accesses, calls,
// returns, indirect jumps, string moves and page-straddling accesses (all of
// which the translator rewrites and must not clobber flags in), multi-word
// adc/sbb chains over arrays, and pushf/popf/lahf/sahf round trips.
#include "check.h"

#define LIMBS 64
static uint64_t num_a[LIMBS], num_b[LIMBS], num_sum[LIMBS], num_diff[LIMBS];
static uint8_t two_pages[8192] ALIGNED(4096);

// sum = a + b over 64 limbs: the carry lives in CF across the loads, the
// store, and the loop control (lea and dec do not touch CF).
static uint64_t BignumAdd(uint64_t* sum, const uint64_t* a, const uint64_t* b, uint64_t n) {
  uint64_t carry;
  __asm__ volatile(
      "xorl %k[carry], %k[carry]\n\t"   // CF = 0
      "1:\n\t"
      "movq (%[a]), %%rax\n\t"
      "adcq (%[b]), %%rax\n\t"
      "movq %%rax, (%[s])\n\t"
      "leaq 8(%[a]), %[a]\n\t"
      "leaq 8(%[b]), %[b]\n\t"
      "leaq 8(%[s]), %[s]\n\t"
      "decq %[n]\n\t"
      "jnz 1b\n\t"
      "setc %b[carry]\n\t"
      : [carry] "=&r"(carry), [a] "+r"(a), [b] "+r"(b), [s] "+r"(sum), [n] "+r"(n)
      :
      : "rax", "cc", "memory");
  return carry;
}

// diff = a - b with sbb, the limbs addressed through an index register and
// the loop closed by `loop` (which does not touch flags).
static uint64_t BignumSub(uint64_t* diff, const uint64_t* a, const uint64_t* b, uint64_t n) {
  uint64_t borrow, i = 0;
  __asm__ volatile(
      "clc\n\t"
      "1:\n\t"
      "movq (%[a],%[i],8), %%rax\n\t"
      "sbbq (%[b],%[i],8), %%rax\n\t"
      "movq %%rax, (%[d],%[i],8)\n\t"
      "leaq 1(%[i]), %[i]\n\t"
      "loop 1b\n\t"
      "sbbq %[borrow], %[borrow]\n\t"
      : [borrow] "=&r"(borrow), [i] "+r"(i), "+c"(n)
      : [a] "r"(a), [b] "r"(b), [d] "r"(diff)
      : "rax", "cc", "memory");
  return borrow;
}

static void Bignums(void) {
  Rng r = {2024};
  uint64_t h = 0;
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < LIMBS; i++) {
      num_a[i] = RngNext(&r);
      num_b[i] = round & 1 ? ~num_a[i] + (i == 0) : RngNext(&r);  // odd rounds: long carry ripples
    }
    uint64_t c = BignumAdd(num_sum, num_a, num_b, LIMBS);
    uint64_t bw = BignumSub(num_diff, num_sum, num_b, LIMBS);
    int back = memcmp(num_diff, num_a, sizeof num_a) == 0;  // (a + b) - b == a
    h = Mix(Mix(Mix(Mix(h, Fnv1a(num_sum, sizeof num_sum)), c), bw), back);
  }
  REPORT("bignum-adc-sbb", h);
}

static uint64_t cell ASM_VISIBLE = 5;

// Flags set before, read after, an instruction the translator rewrites.
static NOINLINE uint64_t FlagsAcrossRewrites(uint64_t x, uint64_t y) {
  uint64_t out = 0, tmp;
  void* si = two_pages + 100;
  void* di = two_pages + 200;
  __asm__ volatile(
      // across a load and a store
      "cmpq %[y], %[x]\n\t"
      "movq cell(%%rip), %[t]\n\t"
      "movq %[t], cell+0(%%rip)\n\t"
      "movq %[x], (%[p])\n\t"
      "setb %b[t]\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "orq %[t], %[o]\n\t"
      // across push/pop
      "cmpq %[x], %[y]\n\t"
      "pushq %[x]\n\t"
      "popq %[t]\n\t"
      "setl %b[t]\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "shlq $1, %[t]\n\t"
      "orq %[t], %[o]\n\t"
      // across a call and a return (the callee leaves flags alone)
      "testq %[x], %[y]\n\t"
      "call flags_nop\n\t"
      "setz %b[t]\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "shlq $2, %[t]\n\t"
      "orq %[t], %[o]\n\t"
      // across an indirect jump
      "addq %[y], %[x]\n\t"
      "leaq 1f(%%rip), %[t]\n\t"
      "jmp *%[t]\n"
      "1:\n\t"
      "setc %b[t]\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "shlq $3, %[t]\n\t"
      "orq %[t], %[o]\n\t"
      // across a string move and a straddling load
      "subq %[y], %[x]\n\t"
      "movsq\n\t"
      "movq 4092(%[p]), %[t]\n\t"
      "seto %b[t]\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "shlq $4, %[t]\n\t"
      "orq %[t], %[o]\n\t"
      // across a locked op that writes no flags (xchg) and an SSE load
      "cmpq $0, %[x]\n\t"
      "xchgq %[t], (%[p])\n\t"
      "movdqu 16(%[p]), %%xmm0\n\t"
      "sets %b[t]\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "shlq $5, %[t]\n\t"
      "orq %[t], %[o]\n\t"
      // adc whose carry comes from before a memory RMW that keeps flags (not)
      "stc\n\t"
      "notq 8(%[p])\n\t"
      "adcq $0, %[o]\n\t"
      : [o] "+r"(out), [t] "=&r"(tmp), [x] "+r"(x), "+S"(si), "+D"(di)
      : [y] "r"(y), [p] "r"(two_pages)
      : "cc", "memory", "xmm0", "r11");
  return out;
}
__asm__(".text\nflags_nop:\n  movq $0x1234, %r11\n  ret\n");

static void Across(void) {
  static const uint64_t vals[] = {0, 1, 5, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 1000};
  uint64_t h = 0;
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < 7; j++) h = Mix(h, FlagsAcrossRewrites(vals[i], vals[j]));
  REPORT("flags-across-rewrites", h);
}

// pushf/popf: every combination of the six arithmetic flags survives a round trip.
static void PushfPopf(void) {
  uint64_t h = 0;
  for (uint64_t bits = 0; bits < 64; bits++) {
    uint64_t want = (bits & 1 ? 0x001 : 0) | (bits & 2 ? 0x004 : 0) | (bits & 4 ? 0x010 : 0) |
                    (bits & 8 ? 0x040 : 0) | (bits & 16 ? 0x080 : 0) | (bits & 32 ? 0x800 : 0);
    uint64_t got, ah;
    __asm__ volatile(
        "pushfq\n\t"
        "andq $~0x8d5, (%%rsp)\n\t"
        "orq %[want], (%%rsp)\n\t"
        "popfq\n\t"
        "lahf\n\t"
        "movzbl %%ah, %k[ah]\n\t"
        "pushfq\n\t"
        "popq %[got]\n\t"
        : [got] "=&r"(got), [ah] "=&r"(ah)
        : [want] "r"(want)
        : "rax", "cc", "memory");
    h = Mix(Mix(h, got & FLAGS_MASK), ah & 0xd5);
  }
  REPORT("pushf-popf-roundtrip", h);

  // sahf sets SF ZF AF PF CF from ah; cmc/stc/clc; DF through std/cld.
  h = 0;
  for (uint64_t ah = 0; ah < 256; ah += 7) {
    uint64_t f1, f2, f3;
    __asm__ volatile(
        "movq %[ah], %%rax\n\t"
        "shlq $8, %%rax\n\t"
        "sahf\n\t"
        "pushfq\n\tpopq %[f1]\n\t"
        "cmc\n\t"
        "std\n\t"
        "pushfq\n\tpopq %[f2]\n\t"
        "cld\n\t"
        "stc\n\t"
        "pushfq\n\tpopq %[f3]\n\t"
        : [f1] "=&r"(f1), [f2] "=&r"(f2), [f3] "=&r"(f3)
        : [ah] "r"(ah)
        : "rax", "cc");
    h = Mix(Mix(Mix(h, f1 & FLAGS_MASK_DF), f2 & FLAGS_MASK_DF), f3 & FLAGS_MASK_DF);
  }
  REPORT("sahf-cmc-std", h);

  // pushf/popf through memory the program addresses itself (pushfw too).
  uint64_t saved[2] = {0, 0}, scratch;
  __asm__ volatile(
      "xorl %k0, %k0\n\t"           // known flags first
      "stc\n\t"
      "pushfq\n\t"
      "popq (%1)\n\t"
      "clc\n\t"
      "pushq (%1)\n\t"
      "popfq\n\t"
      "pushfw\n\t"
      "popw 8(%1)\n\t"
      : "=&r"(scratch)
      : "r"(saved)
      : "cc", "memory");
  REPORT("pushf-popf-memory", Mix(saved[0] & FLAGS_MASK_DF, saved[1] & FLAGS_MASK_DF));
}

// Flags of multiply, shifts and inc/dec (inc/dec keep CF).
static void ArithmeticFlags(void) {
  static const uint64_t vals[] = {0, 1, 3, 0x7f, 0x80, 0xffff, 0x7fffffffffffffffull, 0x8000000000000000ull,
                                  ~0ull, 0xdeadbeefcafebabeull};
  uint64_t h = 0;
  for (int i = 0; i < 10; i++) {
    for (int j = 0; j < 10; j++) {
      uint64_t a = vals[i], b = vals[j], f[6], r;
      __asm__ volatile(
          "movq %[a], %%rax\n\t"
          "imulq %[b], %%rax\n\t" "pushfq\n\t" "popq 0(%[f])\n\t"
          "movq %[a], %%rax\n\t"
          "mulb %b[b]\n\t" "pushfq\n\t" "popq 8(%[f])\n\t"
          "movq %[a], %%rax\n\t"
          "stc\n\t" "incq %%rax\n\t" "pushfq\n\t" "popq 16(%[f])\n\t"
          "clc\n\t" "decw %%ax\n\t" "pushfq\n\t" "popq 24(%[f])\n\t"
          "movq %[b], %%rcx\n\t"
          "shlq %%cl, %%rax\n\t" "pushfq\n\t" "popq 32(%[f])\n\t"
          "negq %%rax\n\t" "sbbq %[b], %%rax\n\t" "pushfq\n\t" "popq 40(%[f])\n\t"
          "movq %%rax, %[r]\n\t"
          : [r] "=&r"(r)
          : [a] "r"(a), [b] "q"(b), [f] "r"(f)
          : "rax", "rcx", "rdx", "cc", "memory");
      for (int k = 0; k < 6; k++) f[k] &= FLAGS_MASK;
      h = Mix(Mix(h, Fnv1a(f, sizeof f)), r);
    }
  }
  REPORT("arith-flags", h);
}

// Forward conditional branches that a block continues past (side exits:
// the taken path leaves, the fall-through stays in the block). In each of
// the first three, the taken path reads a flag that only it keeps live
// (CF after dec+jz, OF after sahf+jc, AF after cmc+jc) across a memory
// access before the branch, whose TLB check must therefore keep it; the
// fall-through kills that flag first. Six branches in a row then pass the
// translator's limit on side exits per block.
static uint64_t SideExitFlags(uint64_t x, uint64_t y, uint64_t* cell) {
  uint64_t out = 0, t;
  __asm__ volatile(
      "addq %[y], %[x]\n\t"           // CF
      "movq 8(%[c]), %[t]\n\t"        // an access with only the taken path's CF live
      "decq %[t]\n\t"                 // ZF for jz; CF kept
      "movq %[t], 16(%[c])\n\t"
      "jz 1f\n\t"
      "clc\n\t"
      "adcq $1, %[o]\n\t"
      "jmp 2f\n"
      "1:\n\t"
      "adcq $2, %[o]\n"                // CF from the add
      "2:\n\t"
      "shlq $3, %[o]\n\t"
      "cmpq %[y], %[x]\n\t"           // OF
      "movq (%[c]), %%rax\n\t"        // an access with only the taken path's OF live
      "sahf\n\t"                      // SF ZF AF PF CF from memory; OF kept
      "jc 3f\n\t"
      "cmpq %%rax, %[x]\n\t"
      "seto %b[t]\n\t"
      "jmp 4f\n"
      "3:\n\t"
      "seto %b[t]\n\t"                // OF from the first cmp
      "addq $16, %[o]\n"
      "4:\n\t"
      "movzbl %b[t], %k[t]\n\t"
      "orq %[t], %[o]\n\t"
      "movq %[x], %[t]\n\t"
      "subq %[y], %[t]\n\t"           // AF
      "movq 8(%[c]), %%r11\n\t"       // an access with only the taken path's AF live
      "movq %%r11, 48(%[c])\n\t"
      "cmc\n\t"                       // CF only
      "jc 5f\n\t"
      "cmpq $7, %%r11\n\t"
      "lahf\n\t"
      "jmp 6f\n"
      "5:\n\t"
      "lahf\n\t"                      // AF from the sub
      "notq %%rax\n"
      "6:\n\t"
      "shrq $8, %%rax\n\t"
      "andq $0xd5, %%rax\n\t"
      "xorq %%rax, %[o]\n\t"
      // six forward branches in a row, each a side exit to the same place
      "testq $1, %[x]\n\t" "jnz 7f\n\t" "addq $1, %[o]\n\t"
      "testq $2, %[x]\n\t" "jnz 7f\n\t" "addq $2, %[o]\n\t"
      "testq $4, %[x]\n\t" "jnz 7f\n\t" "addq $4, %[o]\n\t"
      "testq $8, %[x]\n\t" "jnz 7f\n\t" "addq $8, %[o]\n\t"
      "testq $16, %[x]\n\t" "jnz 7f\n\t" "addq $16, %[o]\n\t"
      "testq $32, %[x]\n\t" "jnz 7f\n\t" "addq $32, %[o]\n\t"
      "addq $64, %[o]\n"
      "7:\n\t"
      : [o] "+r"(out), [t] "=&r"(t), [x] "+r"(x)
      : [y] "r"(y), [c] "r"(cell)
      : "cc", "memory", "rax", "r11");
  return out;
}

// Each of the side-exit functions over a grid of operands, with memory
// cells that make the first branch go both ways.
static void SideExitCases(const char* name, uint64_t (*fn)(uint64_t, uint64_t, uint64_t*)) {
  static const uint64_t vals[] = {0, 1, 5, 0x7f, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0x0f0f0f0f0f,
                                  0xfffffffffffffff0ull, 42};
  static uint64_t cells[8];
  uint64_t h = 0;
  for (int i = 0; i < 10; i++)
    for (int j = 0; j < 10; j++) {
      for (int k = 0; k < 8; k++) cells[k] = vals[(i + k) % 10] ^ (uint64_t)k;
      h = Mix(h, fn(vals[i], vals[j], cells));
      h = Mix(h, Fnv1a(cells, sizeof cells));
    }
  REPORT(name, h);
}

// Backward conditional branches to code that does not run back into them
// (a shared tail the compiler placed before the branch) are side exits as
// forward ones are. The first tail reads CF from before its jz, across an
// access; the second, reached by jnc, reads OF. A loop's latch (its target
// runs back into it) in between still ends its block: its body counts down
// and sums, and the two tails leave through different returns.
static NOINLINE uint64_t BackwardSideExitFlags(uint64_t x, uint64_t y, uint64_t* cell) {
  uint64_t out = 0, t, n;
  __asm__ volatile(
      "jmp 10f\n"
      "1:\n\t"
      "adcq $2, %[o]\n\t"            // CF from the add before the jz
      "jmp 9f\n"
      "2:\n\t"
      "seto %b[t]\n\t"              // OF from the sub before the jnc
      "movzbl %b[t], %k[t]\n\t"
      "leaq 64(%[o],%[t],8), %[o]\n\t"
      "jmp 9f\n"
      "10:\n\t"
      "addq %[y], %[x]\n\t"         // CF
      "movq 8(%[c]), %[t]\n\t"      // an access with only the tail's CF live
      "decq %[t]\n\t"               // ZF for jz; CF kept
      "movq %[t], 16(%[c])\n\t"
      "jz 1b\n\t"
      "clc\n\t"
      "adcq $1, %[o]\n\t"
      "movq %[x], %[n]\n\t"
      "andq $7, %[n]\n"
      "3:\n\t"                        // a loop: its latch ends a block
      "addq %[n], %[o]\n\t"
      "subq $1, %[n]\n\t"
      "jnc 3b\n\t"
      "movq %[x], %[t]\n\t"
      "subq %[y], %[t]\n\t"         // OF
      "movq %[t], 24(%[c])\n\t"
      "movq 32(%[c]), %[n]\n\t"     // an access with only the tail's OF live
      "btq $0, %[n]\n\t"            // CF only
      "jnc 2b\n\t"
      "addq $4, %[o]\n"
      "9:\n\t"
      : [o] "+r"(out), [t] "=&r"(t), [n] "=&r"(n), [x] "+r"(x)
      : [y] "r"(y), [c] "r"(cell)
      : "cc", "memory");
  return out;
}

// AF made by an add, then a load and a store, pushfq, then and/or/xor/test
// (whose AF the manuals leave undefined), pushfq again. The first pushfq
// needs the add's AF kept across the accesses' checks; the second sees
// whatever the logic operation leaves, which a translator may take for
// written only where the host's own logic operations do not pass AF through
// (unit.HostFlags checks that claim). Both must be what the host's run of
// the same code gives.
static NOINLINE uint64_t AfThroughLogic(int op, uint64_t a, uint64_t b, uint64_t* cell) {
  uint64_t before = 0, fl = 0;
#define AF_THROUGH(logic)                                                                                 \
  __asm__ volatile("addb $0x0f, %b[a]\n\tmovq (%[c]), %%r11\n\tmovq %%r11, 8(%[c])\n\tpushfq\n\tpopq %[e]\n\t" \
                   logic "\n\tpushfq\n\tpopq %[f]"                                                       \
                   : [a] "+r"(a), [e] "=&r"(before), [f] "=r"(fl)                                         \
                   : [b] "r"(b), [c] "r"(cell)                                                            \
                   : "cc", "memory", "r11")
  switch (op) {
    case 0: AF_THROUGH("andq %[b], %[a]"); break;
    case 1: AF_THROUGH("orl %k[b], %k[a]"); break;
    case 2: AF_THROUGH("xorw %w[b], %w[a]"); break;
    default: AF_THROUGH("testb %b[b], %b[a]"); break;
  }
#undef AF_THROUGH
  return Mix(Mix(a, before & FLAGS_MASK_DF), fl & FLAGS_MASK_DF);
}

static void AfLogic(void) {
  static const uint64_t vals[] = {0, 1, 8, 0xf, 0x81, 0xff, 0x1234, ~0ull};
  static uint64_t cells[2];
  uint64_t h = 0;
  for (int op = 0; op < 4; op++)
    for (int i = 0; i < 8; i++)
      for (int j = 0; j < 8; j++) {
        cells[0] = vals[j];
        h = Mix(h, AfThroughLogic(op, vals[i], vals[j], cells));
      }
  REPORT("af-through-logic", h);
}

// Flags that the target of an indirect branch (jmp through a register or
// a table, ret) reads, made last in the branch's block by an add, sub or
// cmp: the block may store only which instruction made them, and the
// target's entry makes them again from the registers (cpu/lazy_flags.h).
// Every operand size, registers and immediates, and forms that must be
// saved whole as before: an add of a register to itself, a first operand
// written after, r11; and xor/sub of a register with itself, whose flags
// are known when translated. The table of the jmp through memory lies on
// one of 16 pages in turn.
static uint64_t branch_tables[16][512] ALIGNED(4096);

static NOINLINE uint64_t IndirectBranchFlags(int k, uint64_t a, uint64_t b, uint64_t* table) {
  uint64_t t, f;
  // `code` ends in a branch to 1, which reads the flags.
#define BRANCH(code)                                               \
  __asm__ volatile(code "\n1:\n\tpushfq\n\tpopq %[f]"               \
                   : [a] "+r"(a), [t] "=&r"(t), [f] "=r"(f)        \
                   : [b] "r"(b), [tab] "r"(table)                  \
                   : "cc", "memory", "r11")
#define THROUGH_REG(insn) BRANCH("leaq 1f(%%rip), %[t]\n\t" insn "\n\tjmp *%[t]")
  switch (k) {
    case 0: THROUGH_REG("addq %[b], %[a]"); break;
    case 1: THROUGH_REG("addl %k[b], %k[a]"); break;
    case 2: THROUGH_REG("addw %w[b], %w[a]"); break;
    case 3: THROUGH_REG("addb %b[b], %b[a]"); break;
    case 4: THROUGH_REG("subq %[b], %[a]"); break;
    case 5: THROUGH_REG("subl %k[b], %k[a]"); break;
    case 6: THROUGH_REG("cmpw %w[b], %w[a]"); break;
    case 7: THROUGH_REG("cmpb %b[b], %b[a]"); break;
    case 8: THROUGH_REG("addq $-5, %[a]"); break;
    case 9: THROUGH_REG("subl $0x7fffffff, %k[a]"); break;
    case 10: THROUGH_REG("cmpb $0x80, %b[a]"); break;
    case 11: THROUGH_REG("subw $1, %w[a]"); break;
    case 12: THROUGH_REG("cmpq %[a], %[a]"); break;
    case 13: THROUGH_REG("addq %[a], %[a]"); break;                     // (whole)
    case 14: THROUGH_REG("subq %[b], %[a]\n\tmovq %[b], %[a]"); break;  // (whole)
    case 15: BRANCH("leaq 1f(%%rip), %[t]\n\tmovq %[t], (%[tab])\n\tcmpq %[b], %[a]\n\tjmp *(%[tab])"); break;
    case 16: BRANCH("leaq 1f(%%rip), %[t]\n\tpushq %[t]\n\taddl %k[b], %k[a]\n\tret"); break;
    case 17: THROUGH_REG("xorl %k[a], %k[a]"); break;  // (flags known when translated)
    case 18: THROUGH_REG("xorb %b[a], %b[a]"); break;
    case 19: BRANCH("leaq 1f(%%rip), %[t]\n\tpushq %[t]\n\tsubw %w[a], %w[a]\n\tmovq %[b], %[a]\n\tret"); break;
    default:  // (whole)
      THROUGH_REG("movq %[a], %%r11\n\tsubq %[b], %%r11\n\tmovq %%r11, %[a]\n\tcmpq %[b], %%r11");
      break;
  }
#undef THROUGH_REG
#undef BRANCH
  return Mix(a, f & FLAGS_MASK);
}

static void IndirectBranches(void) {
  static const uint64_t vals[] = {0, 1, 5, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, 0x80000000,
                                  0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0xfffffffffffffff0ull, 42};
  uint64_t h = 0;
  for (int k = 0; k < 21; k++)
    for (int i = 0; i < 15; i++)
      for (int j = 0; j < 15; j++)
        h = Mix(h, IndirectBranchFlags(k, vals[i], vals[j], branch_tables[(i * 15 + j) % 16]));
  REPORT("indirect-branch-flags", h);
}

int main(void) {
  Bignums();
  AfLogic();
  Across();
  PushfPopf();
  ArithmeticFlags();
  SideExitCases("side-exit-flags", SideExitFlags);
  SideExitCases("backward-side-exit-flags", BackwardSideExitFlags);
  IndirectBranches();
  return 0;
}
