// interp.c — a bytecode interpreter dominated by indirect branches: a
// register VM dispatched by computed goto (one indirect jump per bytecode,
// from several sites: "threaded code"). It runs a sieve of Eratosthenes and
// an iterative Fibonacci-mod loop written in its bytecode, ~560 million
// dispatches in all.
#include "common.h"

enum Op {
  kLoadImm,  // r[a] = imm
  kMove,     // r[a] = r[b]
  kAdd,      // r[a] = r[b] + r[c]
  kAddImm,   // r[a] = r[b] + imm
  kSub,      // r[a] = r[b] - r[c]
  kMul,      // r[a] = r[b] * r[c]
  kAndImm,   // r[a] = r[b] & imm
  kLoad,     // r[a] = mem[r[b]]
  kStore,    // mem[r[b]] = r[a]
  kJump,     // pc = imm
  kJumpLt,   // if r[a] < r[b]: pc = imm
  kJumpNz,   // if r[a] != 0: pc = imm
  kJumpZ,    // if r[a] == 0: pc = imm
  kHalt,
};

typedef struct {
  uint8_t op, a, b, c;
  int32_t imm;
} Insn;

#define MEM_WORDS (1 << 20)
static int64_t mem[MEM_WORDS];

static NOINLINE int64_t Run(const Insn* code, int64_t* r) {
  static void* const kDispatch[] = {&&load_imm, &&move,    &&add,     &&add_imm, &&sub,    &&mul,    &&and_imm,
                                    &&load,     &&store,   &&jump,    &&jump_lt, &&jump_nz, &&jump_z, &&halt};
  const Insn* pc = code;
  int64_t executed = 0;
#define DISPATCH()                \
  do {                            \
    executed++;                   \
    goto* kDispatch[pc->op];      \
  } while (0)
#define NEXT() \
  do {         \
    pc++;      \
    DISPATCH(); \
  } while (0)
  DISPATCH();
load_imm:
  r[pc->a] = pc->imm;
  NEXT();
move:
  r[pc->a] = r[pc->b];
  NEXT();
add:
  r[pc->a] = r[pc->b] + r[pc->c];
  NEXT();
add_imm:
  r[pc->a] = r[pc->b] + pc->imm;
  NEXT();
sub:
  r[pc->a] = r[pc->b] - r[pc->c];
  NEXT();
mul:
  r[pc->a] = r[pc->b] * r[pc->c];
  NEXT();
and_imm:
  r[pc->a] = r[pc->b] & pc->imm;
  NEXT();
load:
  r[pc->a] = mem[r[pc->b] & (MEM_WORDS - 1)];
  NEXT();
store:
  mem[r[pc->b] & (MEM_WORDS - 1)] = r[pc->a];
  NEXT();
jump:
  pc = code + pc->imm;
  DISPATCH();
jump_lt:
  pc = r[pc->a] < r[pc->b] ? code + pc->imm : pc + 1;
  DISPATCH();
jump_nz:
  pc = r[pc->a] != 0 ? code + pc->imm : pc + 1;
  DISPATCH();
jump_z:
  pc = r[pc->a] == 0 ? code + pc->imm : pc + 1;
  DISPATCH();
halt:
  return executed;
#undef NEXT
#undef DISPATCH
}

#define I(op, a, b, c, imm) {op, a, b, c, imm}

// Sieve: r1 = limit. Counts primes below limit into r0. Repeats r9 times.
static const Insn kSieve[] = {
    /* 0 */ I(kLoadImm, 9, 0, 0, 12),          // rounds
    /* 1 */ I(kLoadImm, 0, 0, 0, 0),           // count = 0
    /* 2 */ I(kLoadImm, 2, 0, 0, 2),           // i = 2
    // clear mem[0..limit)
    /* 3 */ I(kLoadImm, 3, 0, 0, 0),           // j = 0
    /* 4 */ I(kLoadImm, 4, 0, 0, 0),           // zero
    /* 5 */ I(kStore, 4, 3, 0, 0),             // mem[j] = 0
    /* 6 */ I(kAddImm, 3, 3, 0, 1),
    /* 7 */ I(kJumpLt, 3, 1, 0, 5),            // while j < limit
    // for i in 2..limit
    /* 8 */ I(kLoad, 5, 2, 0, 0),              // composite = mem[i]
    /* 9 */ I(kJumpNz, 5, 0, 0, 16),
    /* 10 */ I(kAddImm, 0, 0, 0, 1),           // count++
    /* 11 */ I(kAdd, 3, 2, 2, 0),              // j = 2i
    /* 12 */ I(kLoadImm, 6, 0, 0, 1),
    /* 13 */ I(kJumpLt, 3, 1, 0, 18),          // while j < limit: mark
    /* 14 */ I(kJump, 0, 0, 0, 16),
    /* 15 */ I(kHalt, 0, 0, 0, 0),
    /* 16 */ I(kAddImm, 2, 2, 0, 1),           // i++
    /* 17 */ I(kJump, 0, 0, 0, 21),
    /* 18 */ I(kStore, 6, 3, 0, 0),            // mem[j] = 1
    /* 19 */ I(kAdd, 3, 3, 2, 0),              // j += i
    /* 20 */ I(kJump, 0, 0, 0, 13),
    /* 21 */ I(kJumpLt, 2, 1, 0, 8),           // while i < limit
    /* 22 */ I(kAddImm, 9, 9, 0, -1),
    /* 23 */ I(kJumpZ, 9, 0, 0, 15),           // rounds done: halt
    /* 24 */ I(kJump, 0, 0, 0, 2),             // again (count accumulates)
};

// Fibonacci mod 2^k with a mixing step: r1 = iterations, result in r3.
static const Insn kFib[] = {
    /* 0 */ I(kLoadImm, 2, 0, 0, 0),    // a = 0
    /* 1 */ I(kLoadImm, 3, 0, 0, 1),    // b = 1
    /* 2 */ I(kLoadImm, 5, 0, 0, 0),    // i = 0
    /* 3 */ I(kAdd, 4, 2, 3, 0),        // t = a + b
    /* 4 */ I(kMove, 2, 3, 0, 0),       // a = b
    /* 5 */ I(kAndImm, 3, 4, 0, 0x3fffffff),  // b = t & mask
    /* 6 */ I(kMul, 6, 3, 3, 0),
    /* 7 */ I(kAndImm, 6, 6, 0, 7),
    /* 8 */ I(kJumpNz, 6, 0, 0, 10),
    /* 9 */ I(kAddImm, 3, 3, 0, 1),     // perturb when b*b % 8 == 0
    /* 10 */ I(kAddImm, 5, 5, 0, 1),
    /* 11 */ I(kJumpLt, 5, 1, 0, 3),
    /* 12 */ I(kHalt, 0, 0, 0, 0),
};

int main(void) {
  int64_t r[16] = {0};
  r[1] = 1000000;
  int64_t executed = Run(kSieve, r);
  guest_printf("interp-sieve: primes-x12=%ld bytecodes=%ld\n", (long)r[0], (long)executed);
  int64_t f[16] = {0};
  f[1] = 40000000;
  executed = Run(kFib, f);
  guest_printf("interp-fib: value=%ld bytecodes=%ld\n", (long)f[3], (long)executed);
  return 0;
}
