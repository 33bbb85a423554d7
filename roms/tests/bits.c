// bits.c — bit instructions: bt/bts/btr/btc on memory with register bit
// offsets (negative and far beyond the operand: the address moves) and with
// immediates (taken modulo the operand size), BMI1, BMI2, ADX, LZCNT,
// POPCNT, MOVBE, each with register and memory operands.
#include <immintrin.h>

#include "check.h"

static uint8_t field[8192] ALIGNED(64);
static uint8_t* const base = field + 4096;

#define BT_CASE(h, op, suffix, reg, off)                                                                  \
  do {                                                                                                    \
    uint64_t cf, o = (uint64_t)(off);                                                                     \
    __asm__ volatile(op suffix " %" reg "1, (%2)\n\tsetc %b0\n\tmovzbl %b0, %k0"                          \
                     : "=&q"(cf), "+r"(o) : "r"(base) : "cc", "memory");                                  \
    h = Mix(h, cf);                                                                                       \
  } while (0)

static void BitTestMemory(void) {
  FillRandom(field, sizeof field, 99);
  uint64_t h = 0;
  // Register offsets from -30000 to +30000 bits: up to ~3.7 KiB away.
  for (int64_t off = -30000; off <= 30000; off += 997) {
    BT_CASE(h, "bt", "q", "", off);
    BT_CASE(h, "bt", "l", "k", off + 1);
    BT_CASE(h, "bt", "w", "w", (int16_t)(off / 4));  // 16-bit offsets are sign-extended from 16 bits
  }
  REPORT("bt-mem-reg", h);
  h = 0;
  for (int64_t off = -29000; off <= 29000; off += 1231) {
    BT_CASE(h, "bts", "q", "", off);
    BT_CASE(h, "btr", "l", "k", off * 3 / 4);
    BT_CASE(h, "btc", "w", "w", (int16_t)(off / 2));
    BT_CASE(h, "btc", "q", "", -off - 5);
    BT_CASE(h, "btr", "q", "", off + 64 * 7 + 3);
  }
  REPORT("bts-btr-btc-mem-reg", Mix(h, Fnv1a(field, sizeof field)));
  // Immediate offsets: modulo the operand size, the address does not move.
  h = 0;
  uint64_t cf;
  __asm__ volatile("btl $70, (%1)\n\tsetc %b0" : "=q"(cf) : "r"(base) : "cc", "memory");
  h = Mix(h, cf & 1);
  __asm__ volatile("btsq $200, 8(%1)\n\tsetc %b0" : "=q"(cf) : "r"(base) : "cc", "memory");
  h = Mix(h, cf & 1);
  __asm__ volatile("btrw $31, 16(%1)\n\tsetc %b0" : "=q"(cf) : "r"(base) : "cc", "memory");
  h = Mix(h, cf & 1);
  __asm__ volatile("btcl $33, 24(%1)\n\tsetc %b0" : "=q"(cf) : "r"(base) : "cc", "memory");
  h = Mix(h, cf & 1);
  REPORT("bt-mem-imm", Mix(h, Fnv1a(base, 64)));
  // Register forms, for comparison: the offset is taken modulo the size.
  h = 0;
  for (uint64_t i = 0; i < 200; i += 3) {
    uint64_t v = 0xf0f0cccc33330f0full, c;
    __asm__ volatile("btcq %2, %1\n\tsetc %b0" : "=&q"(c), "+r"(v) : "r"(i) : "cc");
    h = Mix(Mix(h, v), c & 1);
  }
  REPORT("bt-reg", h);
}

static const uint64_t kValues[] = {0, 1, 2, 3, 0x80, 0xff00, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffff,
                                   0x8000000000000000ull, ~0ull, 0x0123456789abcdefull, 0xfedcba9876543210ull,
                                   0x00f000000000f000ull, 0x5555555555555555ull};
#define NVALUES (sizeof kValues / sizeof kValues[0])

static void Bmi1(void) {
  uint64_t h = 0;
  for (unsigned i = 0; i < NVALUES; i++) {
    uint64_t a = kValues[i], b = kValues[(i * 5 + 3) % NVALUES];
    uint64_t r[8], fl;
    __asm__ volatile(
        "andnq %[b], %[a], %[r0]\n\t"
        "andnq %[mb], %[a], %[r1]\n\t"
        "bextrq %[ctl], %[ma], %[r2]\n\t"
        "blsiq %[ma], %[r3]\n\t"
        "blsmskq %[a], %[r4]\n\t"
        "blsrl %k[a], %k[r5]\n\t"
        "tzcntq %[ma], %[r6]\n\t"
        "tzcntw %w[b], %w[r7]\n\t"
        "pushfq\n\t"
        "popq %[fl]\n\t"
        : [r0] "=&r"(r[0]), [r1] "=&r"(r[1]), [r2] "=&r"(r[2]), [r3] "=&r"(r[3]), [r4] "=&r"(r[4]),
          [r5] "=&r"(r[5]), [r6] "=&r"(r[6]), [r7] "=&r"(r[7]), [fl] "=&r"(fl)
        : [a] "r"(a), [b] "r"(b), [ma] "m"(kValues[i]), [mb] "m"(kValues[(i * 5 + 3) % NVALUES]),
          [ctl] "r"((uint64_t)(i * 4 + (i * 3 % 40) * 256))
        : "cc");
    r[7] &= 0xffff;
    h = Mix(Mix(h, Fnv1a(r, sizeof r)), fl & FLAGS_MASK);
  }
  REPORT("bmi1", h);
}

static void Bmi2(void) {
  uint64_t h = 0;
  for (unsigned i = 0; i < NVALUES; i++) {
    uint64_t a = kValues[i], b = kValues[(i * 7 + 1) % NVALUES];
    uint64_t r[10];
    uint64_t idx = i * 5;
    __asm__ volatile(
        "bzhiq %[idx], %[ma], %[r0]\n\t"
        "pdepq %[mb], %[a], %[r1]\n\t"
        "pextq %[b], %[a], %[r2]\n\t"
        "pextl %[mb], %k[a], %k[r3]\n\t"
        "rorxq $13, %[ma], %[r4]\n\t"
        "rorxl $7, %k[b], %k[r5]\n\t"
        "sarxq %[idx], %[ma], %[r6]\n\t"
        "shlxl %k[idx], %k[a], %k[r7]\n\t"
        "shrxq %[idx], %[b], %[r8]\n\t"
        : [r0] "=&r"(r[0]), [r1] "=&r"(r[1]), [r2] "=&r"(r[2]), [r3] "=&r"(r[3]), [r4] "=&r"(r[4]),
          [r5] "=&r"(r[5]), [r6] "=&r"(r[6]), [r7] "=&r"(r[7]), [r8] "=&r"(r[8])
        : [a] "r"(a), [b] "r"(b), [ma] "m"(kValues[i]), [mb] "m"(kValues[(i * 7 + 1) % NVALUES]),
          [idx] "r"(idx)
        : "cc");
    // mulx: rdx * src -> hi:lo, flags untouched.
    uint64_t lo, hi;
    __asm__ volatile("mulxq %[m], %[lo], %[hi]" : [lo] "=&r"(lo), [hi] "=&r"(hi) : "d"(a), [m] "m"(kValues[(i + 3) % NVALUES]));
    r[9] = lo ^ hi * 3;
    h = Mix(h, Fnv1a(r, sizeof r));
  }
  REPORT("bmi2", h);
}

static void LzcntPopcntMovbe(void) {
  uint64_t h = 0;
  for (unsigned i = 0; i < NVALUES; i++) {
    uint64_t r[6], fl;
    __asm__ volatile(
        "lzcntq %[m], %[r0]\n\t"
        "lzcntl %[m], %k[r1]\n\t"
        "lzcntw %[m], %w[r2]\n\t"
        "popcntq %[m], %[r3]\n\t"
        "popcntl %[m], %k[r4]\n\t"
        "popcntw %[m], %w[r5]\n\t"
        "pushfq\n\t"
        "popq %[fl]\n\t"
        : [r0] "=&r"(r[0]), [r1] "=&r"(r[1]), [r2] "=&r"(r[2]), [r3] "=&r"(r[3]), [r4] "=&r"(r[4]),
          [r5] "=&r"(r[5]), [fl] "=&r"(fl)
        : [m] "m"(kValues[i])
        : "cc");
    r[2] &= 0xffff;
    r[5] &= 0xffff;
    h = Mix(Mix(h, Fnv1a(r, sizeof r)), fl & FLAGS_MASK);
  }
  REPORT("lzcnt-popcnt", h);

  static uint8_t out[64];
  h = 0;
  for (unsigned i = 0; i < NVALUES; i++) {
    uint64_t q, d, w = 0x1111;
    __asm__ volatile(
        "movbeq %[m], %[q]\n\t"
        "movbel %[m], %k[d]\n\t"
        "movbew %[m], %w[w]\n\t"
        "movbeq %[q], (%[o])\n\t"
        "movbel %k[d], 9(%[o])\n\t"
        "movbew %w[w], 15(%[o])\n\t"
        : [q] "=&r"(q), [d] "=&r"(d), [w] "+r"(w)
        : [m] "m"(kValues[i]), [o] "r"(out)
        : "memory");
    h = Mix(Mix(Mix(Mix(h, q), d), w), Fnv1a(out, sizeof out));
  }
  REPORT("movbe", h);
}

// ADX: two independent carry chains (CF through adcx, OF through adox), as in
// a multi-precision multiply: acc += a * b for a 4-limb a and a 1-limb b.
static void Adx(void) {
  uint64_t h = 0;
  for (unsigned i = 0; i < NVALUES; i++) {
    uint64_t a[4] = {kValues[i], kValues[(i + 1) % NVALUES], kValues[(i + 2) % NVALUES], kValues[(i + 3) % NVALUES]};
    uint64_t acc[5] = {kValues[(i + 5) % NVALUES], 7, kValues[(i + 9) % NVALUES], ~0ull, 0};
    uint64_t b = kValues[(i + 11) % NVALUES] | 1;
    __asm__ volatile(
        "xorl %%eax, %%eax\n\t"          // clears CF and OF
        "mulxq 0(%[a]), %%r8, %%r9\n\t"
        "adcxq 0(%[acc]), %%r8\n\t"
        "movq %%r8, 0(%[acc])\n\t"
        "adoxq 8(%[acc]), %%r9\n\t"
        "movq %%r9, 8(%[acc])\n\t"
        "mulxq 8(%[a]), %%r8, %%r9\n\t"
        "adcxq 8(%[acc]), %%r8\n\t"
        "movq %%r8, 8(%[acc])\n\t"
        "adoxq 16(%[acc]), %%r9\n\t"
        "movq %%r9, 16(%[acc])\n\t"
        "mulxq 16(%[a]), %%r8, %%r9\n\t"
        "adcxq 16(%[acc]), %%r8\n\t"
        "movq %%r8, 16(%[acc])\n\t"
        "adoxq 24(%[acc]), %%r9\n\t"
        "movq %%r9, 24(%[acc])\n\t"
        "mulxq 24(%[a]), %%r8, %%r9\n\t"
        "adcxq 24(%[acc]), %%r8\n\t"
        "movq %%r8, 24(%[acc])\n\t"
        "adoxq 32(%[acc]), %%r9\n\t"
        "movq %%r9, 32(%[acc])\n\t"
        "movl $0, %%r8d\n\t"
        "adcxq 32(%[acc]), %%r8\n\t"
        "movq %%r8, 32(%[acc])\n\t"
        "seto %%al\n\t"
        : "=&a"(b)
        : [a] "r"(a), [acc] "r"(acc), "d"(b)
        : "r8", "r9", "cc", "memory");
    h = Mix(Mix(h, Fnv1a(acc, sizeof acc)), b);
  }
  REPORT("adx-mulx-chain", h);
}

int main(void) {
  BitTestMemory();
  Bmi1();
  Bmi2();
  LzcntPopcntMovbe();
  Adx();
  return 0;
}
