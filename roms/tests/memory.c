// memory.c — explicit memory operands: every operand size (8..256 bits) in
// GPR, SSE and AVX forms, every addressing form (base, index, scale, disp,
// RIP-relative, absolute moffs, 32-bit address size, segment prefixes),
// high-byte registers, read-modify-write, lock-prefixed atomics and
// cmpxchg8b/16b. Covers the MEM rewrite path of the translator.
#include <immintrin.h>

#include "check.h"

static uint8_t buf[8192] ALIGNED(64) ASM_VISIBLE;
static uint8_t pattern[8192] ALIGNED(64) ASM_VISIBLE;
static uint64_t rip_q[2] ALIGNED(64) ASM_VISIBLE = {0x0123456789abcdefull, 0};
static uint32_t rip_d ASM_VISIBLE = 0x89abcdefu;
static uint16_t rip_w ASM_VISIBLE = 0xcdefu;
static uint8_t rip_b ASM_VISIBLE = 0x7f;
static uint8_t rip_vec[64] ALIGNED(32) ASM_VISIBLE = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                          17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                                          33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
                                          49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64};
static const uint32_t rodata_table[8] = {3, 1, 4, 1, 5, 9, 2, 6};

static void Reset(void) { memcpy(buf, pattern, sizeof buf); }

static void LoadSizes(void) {
  uint64_t h = 0;
  for (uint64_t off = 0; off < 80; off++) {
    uint64_t b, w, d, q, sb, sw, sd;
    __asm__ volatile(
        "movzbl (%[p],%[i]), %k[b]\n\t"
        "movzwl 1(%[p],%[i]), %k[w]\n\t"
        "movl -3+4(%[p],%[i],1), %k[d]\n\t"
        "movq 7(%[p],%[i]), %[q]\n\t"
        "movsbq 9(%[p],%[i]), %[sb]\n\t"
        "movswq 11(%[p],%[i]), %[sw]\n\t"
        "movslq 13(%[p],%[i]), %[sd]\n\t"
        : [b] "=&r"(b), [w] "=&r"(w), [d] "=&r"(d), [q] "=&r"(q), [sb] "=&r"(sb), [sw] "=&r"(sw), [sd] "=&r"(sd)
        : [p] "r"(pattern), [i] "r"(off)
        : "memory");
    h = Mix(Mix(Mix(Mix(Mix(Mix(Mix(h, b), w), d), q), sb), sw), sd);
  }
  REPORT("load-sizes", h);

  // Scaled indices, 16-bit loads that merge into a register, 8-bit high registers.
  h = 0;
  for (uint64_t i = 0; i < 32; i++) {
    uint64_t a = 0x1111111111111111ull * (i & 15), c = ~0ull;
    __asm__ volatile(
        "movw 6(%[p],%[i],2), %w[a]\n\t"
        "movb 3(%[p],%[i],4), %b[a]\n\t"
        "movl 8(%[p],%[i],8), %k[c]\n\t"
        : [a] "+r"(a), [c] "+r"(c)
        : [p] "r"(pattern), [i] "r"(i)
        : "memory");
    uint64_t ah = 0xaaaaaaaaaaaaaaaaull;
    // (With ah in it, the instruction takes no REX prefix: its address
    // registers must be legacy ones, whatever the allocator would pick.)
    __asm__ volatile("movb 5(%[p],%[i]), %%ah\n\t"
                     "movb 9(%[p],%[i]), %%al\n\t"
                     : "+a"(ah)
                     : [p] "S"(pattern), [i] "D"(i)
                     : "memory");
    h = Mix(Mix(Mix(h, a), c), ah);
  }
  REPORT("load-scaled-partial", h);
}

static void StoreSizes(void) {
  Reset();
  for (uint64_t off = 0; off < 200; off += 13) {
    uint64_t v = 0x8877665544332211ull * (off + 1);
    __asm__ volatile(
        "movb %b[v], (%[p],%[i])\n\t"
        "movw %w[v], 2(%[p],%[i])\n\t"
        "movl %k[v], 5(%[p],%[i])\n\t"
        "movq %[v], 9(%[p],%[i])\n\t"
        "movb $0x5a, 17(%[p],%[i])\n\t"
        "movw $0x1234, 18(%[p],%[i])\n\t"
        "movl $0xfedcba98, 20(%[p],%[i])\n\t"
        "movq $-2, 24(%[p],%[i])\n\t"
        "movq $0x7fffffff, 32(%[p],%[i],2)\n\t"
        :
        : [v] "r"(v), [p] "r"(buf), [i] "r"(off)
        : "memory");
  }
  REPORT_HASH("store-sizes", buf, 512);

  // High-byte registers: a scratch register the translator picks must not
  // need a REX prefix here.
  Reset();
  uint64_t a = 0x1234, b = 0x5678, c = 0x9abc, d = 0xdef0;
  for (uint64_t i = 0; i < 16; i++) {
    __asm__ volatile(
        "movb %%ah, (%%rsi,%%rdi)\n\t"
        "movb %%bh, 1(%%rsi,%%rdi)\n\t"
        "addb %%ch, 2(%%rsi,%%rdi)\n\t"
        "xorb 3(%%rsi,%%rdi), %%dh\n\t"
        "movb %%dh, 4(%%rsi,%%rdi)\n\t"
        "incb %%ah\n\t"
        : "+a"(a), "+b"(b), "+c"(c), "+d"(d)
        : "S"(buf), "D"(i * 8)
        : "memory", "cc");
  }
  REPORT("store-highbyte", Mix(Fnv1a(buf, 256), a ^ b ^ c ^ d));
}

// Every GPR as base, and the encodings that need a SIB byte (rsp, r12) or a
// displacement (rbp, r13).
static void AddressingForms(void) {
  uint64_t h = 0;
  register uint8_t* r12 __asm__("r12") = pattern + 64;
  register uint8_t* r13 __asm__("r13") = pattern + 128;
  register uint64_t r14 __asm__("r14") = 5;
  uint64_t v1, v2, v3, v4, v5;
  __asm__ volatile(
      "movq (%%r12), %0\n\t"
      "movq (%%r13), %1\n\t"
      "movq 8(%%r12,%%r14,8), %2\n\t"
      "movq -16(%%r13,%%r14,4), %3\n\t"
      "movq -5(%%r13,%%r14), %4\n\t"
      : "=&r"(v1), "=&r"(v2), "=&r"(v3), "=&r"(v4), "=&r"(v5)
      : "r"(r12), "r"(r13), "r"(r14)
      : "memory");
  h = Mix(h, v5);
  h = Mix(Mix(Mix(Mix(h, v1), v2), v3), v4);

  // rbp as a base with no displacement written (encoded as disp8 0).
  uint64_t vb;
  __asm__ volatile(
      "push %%rbp\n\t"
      "mov %1, %%rbp\n\t"
      "movq (%%rbp), %0\n\t"
      "addq 8(%%rbp), %0\n\t"
      "pop %%rbp\n\t"
      : "=&r"(vb)
      : "r"(pattern + 256)
      : "memory");
  h = Mix(h, vb);

  // rsp as a base: read what was pushed.
  uint64_t vs;
  __asm__ volatile(
      "pushq $0x11223344\n\t"
      "pushq %1\n\t"
      "movq (%%rsp), %0\n\t"
      "addq 8(%%rsp), %0\n\t"
      "movl 4(%%rsp), %k1\n\t"
      "addq %1, %0\n\t"
      "addq $16, %%rsp\n\t"
      : "=&r"(vs)
      : "r"(0x5555666677778888ull)
      : "memory", "cc");
  h = Mix(h, vs);

  // Index only (no base), absolute disp32: pattern's address fits in 32 bits
  // in both builds (the native build is non-PIE).
  uint64_t vi;
  uint64_t idx = 17;
  __asm__ volatile("movq pattern(,%1,8), %0" : "=r"(vi) : "r"(idx) : "memory");
  h = Mix(h, vi);
  __asm__ volatile("movl pattern+40, %k0" : "=r"(vi) : : "memory");  // disp32 alone (SIB, no base)
  h = Mix(h, vi);

  // 32-bit address size (0x67): the address wraps in 32 bits.
  uint32_t lo = (uint32_t)(uintptr_t)(pattern + 300);
  uint64_t va;
  __asm__ volatile("movl (%k1), %k0\n\t"
                   "addl 4(%k1), %k0"
                   : "=&r"(va)
                   : "r"((uint64_t)lo | 0xffffffff00000000ull)
                   : "memory", "cc");
  h = Mix(h, va);

  // Segment prefixes that mean nothing in 64-bit mode.
  uint64_t vseg;
  __asm__ volatile("movq %%ds:(%1), %0\n\t"
                   "addq %%es:8(%1), %0\n\t"
                   "addq %%cs:16(%1), %0\n\t"
                   "addq %%ss:24(%1), %0\n\t"
                   : "=&r"(vseg)
                   : "r"(pattern + 512)
                   : "memory", "cc");
  h = Mix(h, vseg);
  REPORT("addressing-forms", h);

  // moffs: mov with a 64-bit absolute address (opcodes A0..A3).
  uint64_t m8, m16, m32, m64;
  __asm__ volatile(
      "movabsb pattern+1000, %%al\n\t"
      "movzbl %%al, %k0\n\t"
      "movabsw pattern+1002, %%ax\n\t"
      "movzwl %%ax, %k1\n\t"
      "movabsl pattern+1004, %%eax\n\t"
      "movl %%eax, %k2\n\t"
      "movabsq pattern+1008, %%rax\n\t"
      "movq %%rax, %3\n\t"
      : "=&r"(m8), "=&r"(m16), "=&r"(m32), "=&r"(m64)
      :
      : "rax", "memory");
  Reset();
  __asm__ volatile(
      "movq %0, %%rax\n\t"
      "movabsb %%al, buf+100\n\t"
      "movabsw %%ax, buf+102\n\t"
      "movabsl %%eax, buf+104\n\t"
      "movabsq %%rax, buf+108\n\t"
      :
      : "r"(0xa1b2c3d4e5f60718ull)
      : "rax", "memory");
  REPORT("moffs", Mix(Mix(Mix(Mix(Fnv1a(buf, 128), m8), m16), m32), m64));
}

// RIP-relative operands, including forms where an immediate follows the
// displacement (the displacement is relative to the end of the instruction).
static void RipRelative(void) {
  uint64_t q, d, w, b, f;
  __asm__ volatile(
      "movq rip_q(%%rip), %0\n\t"
      "movl rip_d(%%rip), %k1\n\t"
      "movzwl rip_w(%%rip), %k2\n\t"
      "movzbl rip_b(%%rip), %k3\n\t"
      : "=r"(q), "=r"(d), "=r"(w), "=r"(b)
      :
      : "memory");
  uint64_t h = Mix(Mix(Mix(Mix(0, q), d), w), b);
  __asm__ volatile(
      "addq $0x12345, rip_q(%%rip)\n\t"
      "subl $7, rip_d(%%rip)\n\t"
      "xorw $0x5a5a, rip_w(%%rip)\n\t"
      "addb $0x81, rip_b(%%rip)\n\t"
      "pushfq\n\t"
      "popq %0\n\t"
      "cmpb $0x7f, rip_b(%%rip)\n\t"
      "setb %b1\n\t"
      "movzbl %b1, %k1\n\t"
      "rolq $5, rip_q(%%rip)\n\t"
      "shldl $3, %k1, rip_d(%%rip)\n\t"
      "movq $-0x1234567, rip_q+8(%%rip)\n\t"
      "movw $0x4321, rip_w(%%rip)\n\t"
      "imull $1000003, rip_d(%%rip), %k2\n\t"
      "btsq $45, rip_q(%%rip)\n\t"
      : "=&r"(f), "=&q"(b), "=&r"(w)
      :
      : "memory", "cc");
  h = Mix(Mix(Mix(Mix(Mix(Mix(h, f & FLAGS_MASK), b), w), rip_q[0]), rip_d), rip_w);
  h = Mix(h, rip_q[1]);

  // Vector forms with an immediate after the displacement.
  __m128i x0, x1;
  __m256i y0 = _mm256_set1_epi16(0x3c5a);
  __asm__ volatile(
      "pshufd $0x1b, rip_vec(%%rip), %0\n\t"
      "movdqu rip_vec+16(%%rip), %1\n\t"
      "palignr $5, rip_vec+32(%%rip), %1\n\t"
      "vpblendd $0xa5, rip_vec(%%rip), %2, %2\n\t"
      "vpaddb rip_vec+32(%%rip), %2, %2\n\t"
      "pinsrw $3, rip_vec+7(%%rip), %0\n\t"
      : "=&x"(x0), "=&x"(x1), "+x"(y0)
      :
      : "memory");
  h = Mix(h, Fnv1a(&x0, 16));
  h = Mix(h, Fnv1a(&x1, 16));
  h = Mix(h, Fnv1a(&y0, 32));
  double rd;
  __asm__ volatile("roundsd $1, rodata_pi(%%rip), %0" : "=x"(rd));
  h = Mix(h, (uint64_t)(rd * 1000));
  uint64_t lea;
  __asm__ volatile("lea rip_vec(%%rip), %0\n\t"
                   "sub $rip_vec, %0"
                   : "=r"(lea));  // 0 when the RIP-relative lea is right
  h = Mix(h, lea);
  REPORT("rip-relative", h);

  // Data tables the compiler reaches through RIP-relative or absolute forms.
  volatile int k = 5;
  REPORT("rodata-table", rodata_table[k] * 100 + rodata_table[k - 3]);
}
__asm__(".section .rodata\n.balign 8\nrodata_pi: .double 3.14159265358979\n.text\n");

// Each case starts from known flags (xor: CF=OF=SF=0, ZF=PF=1) because some
// instructions leave some or all flags alone (not, xchg, shifts by 0).
#define RMW_CASE(h, insn, size, init)                                                     \
  do {                                                                                    \
    uint##size##_t m = (uint##size##_t)(init);                                            \
    uint64_t fl;                                                                          \
    __asm__ volatile("xorl %k1, %k1\n\t" insn "\n\tpushfq\n\tpopq %1"                     \
                     : "+m"(m), "=&r"(fl) : : "cc", "memory");                              \
    h = Mix(Mix(h, m), fl & FLAGS_MASK);                                                  \
  } while (0)

#define RMW_CASE_R(h, insn, size, init, reg)                                                           \
  do {                                                                                                 \
    uint##size##_t m = (uint##size##_t)(init);                                                         \
    uint64_t fl, r = (reg);                                                                            \
    __asm__ volatile("xorl %k1, %k1\n\t" insn "\n\tpushfq\n\tpopq %1"                                   \
                     : "+m"(m), "=&r"(fl), "+c"(r) : : "cc", "memory");                                       \
    h = Mix(Mix(Mix(h, m), fl & FLAGS_MASK), r);                                                       \
  } while (0)

static void ReadModifyWrite(void) {
  static const uint64_t inits[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                                   0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull,
                                   0x0123456789abcdefull};
  uint64_t h = 0;
  for (unsigned i = 0; i < sizeof inits / sizeof inits[0]; i++) {
    uint64_t v = inits[i], s = inits[(i * 7 + 3) % 15];
    // Arithmetic with an immediate and with a register source, per size.
    RMW_CASE(h, "addb $0x35, %0", 8, v);
    RMW_CASE(h, "addw $0x3579, %0", 16, v);
    RMW_CASE(h, "addl $0x13579bdf, %0", 32, v);
    RMW_CASE(h, "addq $-0x13579bdf, %0", 64, v);
    RMW_CASE_R(h, "subb %b2, %0", 8, v, s);
    RMW_CASE_R(h, "subw %w2, %0", 16, v, s);
    RMW_CASE_R(h, "subl %k2, %0", 32, v, s);
    RMW_CASE_R(h, "subq %2, %0", 64, v, s);
    RMW_CASE_R(h, "stc\n\tadcq %2, %0", 64, v, s);
    RMW_CASE_R(h, "stc\n\tsbbl %k2, %0", 32, v, s);
    RMW_CASE_R(h, "clc\n\tadcw %w2, %0", 16, v, s);
    RMW_CASE_R(h, "andq %2, %0", 64, v, s);
    RMW_CASE_R(h, "orl %k2, %0", 32, v, s);
    RMW_CASE_R(h, "xorw %w2, %0", 16, v, s);
    RMW_CASE(h, "andb $0x0f, %0", 8, v);
    RMW_CASE(h, "orw $0x100, %0", 16, v);
    RMW_CASE(h, "xorq $0x55, %0", 64, v);
    RMW_CASE(h, "notb %0", 8, v);
    RMW_CASE(h, "negw %0", 16, v);
    RMW_CASE(h, "negl %0", 32, v);
    RMW_CASE(h, "incq %0", 64, v);
    RMW_CASE(h, "decb %0", 8, v);
    RMW_CASE(h, "incw %0", 16, v);
    // Shifts and rotates by 1, by an immediate and by cl.
    RMW_CASE(h, "shlb %0", 8, v);
    RMW_CASE(h, "shrw $3, %0", 16, v);
    RMW_CASE(h, "sarl $31, %0", 32, v);
    RMW_CASE(h, "rolq $13, %0", 64, v);
    RMW_CASE(h, "rorl $1, %0", 32, v);
    RMW_CASE(h, "stc\n\trclw $1, %0", 16, v);
    RMW_CASE(h, "stc\n\trcrq $7, %0", 64, v);
    RMW_CASE_R(h, "shlq %%cl, %0", 64, v, i * 5);
    RMW_CASE_R(h, "sarb %%cl, %0", 8, v, i);
    RMW_CASE_R(h, "rolw %%cl, %0", 16, v, i * 3);
    RMW_CASE_R(h, "shldl %%cl, %k2, %0", 32, v, i + 1);
    RMW_CASE_R(h, "shrdq $11, %2, %0", 64, v, s);
    RMW_CASE_R(h, "shldw $4, %w2, %0", 16, v, s);
    // Exchange-and-add, compare-exchange (not locked here), setcc to memory.
    RMW_CASE_R(h, "xaddq %2, %0", 64, v, s);
    RMW_CASE_R(h, "xaddb %b2, %0", 8, v, s);
    RMW_CASE_R(h, "xchgw %w2, %0", 16, v, s);
    {
      uint64_t m = v, acc = v, nv = s, fl;
      __asm__ volatile("cmpxchgq %3, %0\n\tpushfq\n\tpopq %1" : "+m"(m), "=r"(fl), "+a"(acc) : "r"(nv) : "cc", "memory");
      h = Mix(Mix(Mix(h, m), acc), fl & FLAGS_MASK);
      uint32_t m32 = (uint32_t)v;
      uint32_t acc32 = (uint32_t)s;
      __asm__ volatile("cmpxchgl %3, %0\n\tpushfq\n\tpopq %1" : "+m"(m32), "=r"(fl), "+a"(acc32) : "r"((uint32_t)~v) : "cc", "memory");
      h = Mix(Mix(Mix(h, m32), acc32), fl & FLAGS_MASK);
      uint8_t set[4];
      __asm__ volatile("cmpq %5, %4\n\tseto %0\n\tsetbe %1\n\tsetl %2\n\tsetp %3"
                       : "=m"(set[0]), "=m"(set[1]), "=m"(set[2]), "=m"(set[3])
                       : "r"(v), "r"(s)
                       : "cc");
      h = Mix(h, set[0] | set[1] << 8 | set[2] << 16 | (uint32_t)set[3] << 24);
      uint64_t c1 = 1, c2 = 2;
      __asm__ volatile("cmpq %3, %2\n\tcmovbq %4, %0\n\tcmovgl %5, %k1"
                       : "+r"(c1), "+r"(c2)
                       : "r"(v), "r"(s), "m"(inits[i]), "m"(inits[14 - i])
                       : "cc");
      h = Mix(Mix(h, c1), c2);
    }
    // Multiply and divide by memory operands.
    {
      uint64_t lo = v, hi = 0, fl;
      uint64_t mv = s | 1;
      __asm__ volatile("mulq %3\n\tpushfq\n\tpopq %2" : "+a"(lo), "=d"(hi), "=r"(fl) : "m"(mv) : "cc");
      h = Mix(Mix(Mix(h, lo), hi), fl & 0x801);
      int64_t q = (int64_t)v;
      int64_t r;
      int64_t dv = (int64_t)(s | 3) >> 3;
      if (dv == 0) dv = 7;
      __asm__ volatile("cqo\n\tidivq %2" : "+a"(q), "=&d"(r) : "m"(dv) : "cc");
      h = Mix(Mix(h, (uint64_t)q), (uint64_t)r);
      uint32_t d32 = (uint32_t)(s | 1), q32 = (uint32_t)v, r32 = 0;
      __asm__ volatile("divl %2" : "+a"(q32), "+d"(r32) : "m"(d32) : "cc");
      h = Mix(Mix(h, q32), r32);
      uint16_t m16 = (uint16_t)(s | 5);
      uint64_t i3;
      __asm__ volatile("imulw $-77, %1, %w0" : "=r"(i3) : "m"(m16) : "cc");
      h = Mix(h, i3 & 0xffff);
    }
  }
  REPORT("rmw-all", h);
}

static void Atomics(void) {
  static uint64_t q ALIGNED(64);
  static uint32_t d;
  static uint16_t w;
  static uint8_t b;
  q = 100;
  d = 200;
  w = 300;
  b = 40;
  uint64_t h = 0, fl;
  for (uint64_t i = 0; i < 50; i++) {
    __asm__ volatile(
        "lock addq %[i], %[q]\n\t"
        "lock subl $3, %[d]\n\t"
        "lock incw %[w]\n\t"
        "lock decb %[b]\n\t"
        "lock orq $0x100, %[q]\n\t"
        "lock andl $0xfffffffd, %[d]\n\t"
        "lock xorw $0x8001, %[w]\n\t"
        "lock notb %[b]\n\t"
        "lock negb %[b]\n\t"
        "lock adcq $1, %[q]\n\t"
        "lock sbbl $0, %[d]\n\t"
        "pushfq\n\t"
        "popq %[fl]\n\t"
        : [q] "+m"(q), [d] "+m"(d), [w] "+m"(w), [b] "+m"(b), [fl] "=r"(fl)
        : [i] "r"(i)
        : "cc", "memory");
    h = Mix(Mix(Mix(Mix(Mix(h, q), d), w), b), fl & FLAGS_MASK);
  }
  REPORT("lock-alu", h);

  h = 0;
  for (uint64_t i = 0; i < 20; i++) {
    uint64_t x = i * 3;
    uint32_t x32 = (uint32_t)i;
    uint16_t x16 = (uint16_t)(i * 1000);
    uint8_t x8 = (uint8_t)i;
    __asm__ volatile(
        "lock xaddq %[x], %[q]\n\t"
        "lock xaddl %[x32], %[d]\n\t"
        "lock xaddw %[x16], %[w]\n\t"
        "lock xaddb %[x8], %[b]\n\t"
        : [q] "+m"(q), [d] "+m"(d), [w] "+m"(w), [b] "+m"(b), [x] "+r"(x), [x32] "+r"(x32), [x16] "+r"(x16),
          [x8] "+q"(x8)
        :
        : "cc", "memory");
    h = Mix(Mix(Mix(Mix(Mix(Mix(Mix(Mix(h, q), d), w), b), x), x32), x16), x8);
    uint64_t y = i << 40;
    __asm__ volatile("xchgq %0, %1" : "+r"(y), "+m"(q) : : "memory");  // implicitly locked
    h = Mix(Mix(h, y), q);
    uint8_t y8 = (uint8_t)(i * 17);
    __asm__ volatile("xchgb %0, %1" : "+q"(y8), "+m"(b) : : "memory");
    h = Mix(Mix(h, y8), b);
  }
  REPORT("lock-xadd-xchg", h);

  // lock cmpxchg: success and failure, every size.
  h = 0;
  for (uint64_t i = 0; i < 16; i++) {
    uint64_t expect = (i & 1) ? q : q + 1;  // odd: succeeds
    uint64_t acc = expect;
    __asm__ volatile("lock cmpxchgq %3, %0\n\tpushfq\n\tpopq %1"
                     : "+m"(q), "=r"(fl), "+a"(acc)
                     : "r"(i * 0x1111)
                     : "cc", "memory");
    h = Mix(Mix(Mix(h, q), acc), fl & FLAGS_MASK);
    uint32_t acc32 = (i & 2) ? d : 0;
    __asm__ volatile("lock cmpxchgl %3, %0\n\tpushfq\n\tpopq %1"
                     : "+m"(d), "=r"(fl), "+a"(acc32)
                     : "r"((uint32_t)i)
                     : "cc", "memory");
    h = Mix(Mix(Mix(h, d), acc32), fl & FLAGS_MASK);
    uint16_t acc16 = (i & 4) ? w : 1;
    __asm__ volatile("lock cmpxchgw %3, %0\n\tpushfq\n\tpopq %1"
                     : "+m"(w), "=r"(fl), "+a"(acc16)
                     : "r"((uint16_t)(i + 7))
                     : "cc", "memory");
    h = Mix(Mix(Mix(h, w), acc16), fl & FLAGS_MASK);
    uint8_t acc8 = (i & 8) ? b : 0xee;
    __asm__ volatile("lock cmpxchgb %3, %0\n\tpushfq\n\tpopq %1"
                     : "+m"(b), "=r"(fl), "+a"(acc8)
                     : "q"((uint8_t)(i + 9))
                     : "cc", "memory");
    h = Mix(Mix(Mix(h, b), acc8), fl & FLAGS_MASK);
  }
  REPORT("lock-cmpxchg", h);

  // lock bts/btr/btc on memory.
  static uint64_t bits[4];
  bits[0] = 0x00ff00ff00ff00ffull;
  bits[1] = 0;
  bits[2] = ~0ull;
  bits[3] = 0x8000000000000001ull;
  h = 0;
  for (uint64_t i = 0; i < 256; i += 7) {
    uint8_t c1, c2, c3;
    __asm__ volatile(
        "lock btsq %[i], (%[p])\n\tsetc %[c1]\n\t"
        "lock btrq $5, 8(%[p])\n\t"
        "lock btcl %k[j], 16(%[p])\n\tsetc %[c2]\n\t"
        "lock btsw $3, 24(%[p])\n\tsetc %[c3]\n\t"
        : [c1] "=&q"(c1), [c2] "=&q"(c2), [c3] "=&q"(c3)
        : [p] "r"(bits), [i] "r"(i), [j] "r"(i & 31)
        : "cc", "memory");
    h = Mix(Mix(Mix(Mix(h, c1), c2), c3), Fnv1a(bits, sizeof bits));
  }
  REPORT("lock-bitops", h);
}

static void CompareExchangeWide(void) {
  static uint64_t m8 ALIGNED(16);
  static unsigned __int128 m16 ALIGNED(16);
  uint64_t h = 0;
  m8 = 0x1122334455667788ull;
  m16 = ((unsigned __int128)0xaaaabbbbccccddddull << 64) | 0x1111222233334444ull;
  for (int i = 0; i < 6; i++) {
    // cmpxchg8b: compares edx:eax with m64; on success stores ecx:ebx.
    uint32_t eax = (i & 1) ? (uint32_t)m8 : 0, edx = (uint32_t)(m8 >> 32);
    uint32_t ebx = 0x10000 * i + 1, ecx = 0x20000 * i + 2;
    uint8_t zf;
    if (i & 2)
      __asm__ volatile("lock cmpxchg8b %0\n\tsetz %1" : "+m"(m8), "=q"(zf), "+a"(eax), "+d"(edx) : "b"(ebx), "c"(ecx) : "cc", "memory");
    else
      __asm__ volatile("cmpxchg8b %0\n\tsetz %1" : "+m"(m8), "=q"(zf), "+a"(eax), "+d"(edx) : "b"(ebx), "c"(ecx) : "cc", "memory");
    h = Mix(Mix(Mix(Mix(h, m8), eax), edx), zf);

    // cmpxchg16b: rdx:rax against m128; on success stores rcx:rbx.
    uint64_t rax = (i & 1) ? (uint64_t)m16 : 5, rdx = (uint64_t)(m16 >> 64);
    uint64_t rbx = 0x123456789ull * (i + 1), rcx = ~rbx;
    if (i & 2)
      __asm__ volatile("lock cmpxchg16b %0\n\tsetz %1" : "+m"(m16), "=q"(zf), "+a"(rax), "+d"(rdx) : "b"(rbx), "c"(rcx) : "cc", "memory");
    else
      __asm__ volatile("cmpxchg16b %0\n\tsetz %1" : "+m"(m16), "=q"(zf), "+a"(rax), "+d"(rdx) : "b"(rbx), "c"(rcx) : "cc", "memory");
    h = Mix(Mix(Mix(Mix(Mix(h, (uint64_t)m16), (uint64_t)(m16 >> 64)), rax), rdx), zf);
  }
  REPORT("cmpxchg8b-16b", h);

  // The compiler's own 128-bit __sync builtins inline lock cmpxchg16b (-mcx16 via v3).
  unsigned __int128 expected = m16;
  int ok = __sync_bool_compare_and_swap(&m16, expected, expected + 1);
  REPORT("atomic-128", Mix(ok, (uint64_t)m16));
}

static void SseMemory(void) {
  uint64_t h = 0;
  for (int k = 0; k < 16; k++) {
    const uint8_t* p = pattern + 64 + 16 * k;  // 16-aligned: legacy SSE memory operands need it
    __m128i a, b, c;
    __m128 f;
    __m128d g;
    __asm__ volatile(
        "movdqu (%[p]), %[a]\n\t"
        "movq 16(%[p]), %[b]\n\t"
        "movd 24(%[p]), %[c]\n\t"
        "paddd 32(%[p]), %[b]\n\t"
        "pinsrb $7, 1(%[p]), %[a]\n\t"
        "pinsrw $2, 3(%[p]), %[b]\n\t"
        "pinsrd $1, 5(%[p]), %[c]\n\t"
        "pinsrq $1, 9(%[p]), %[c]\n\t"
        "movss 40(%[p]), %[f]\n\t"
        "movhps 44(%[p]), %[f]\n\t"
        "movsd 52(%[p]), %[g]\n\t"
        "movhpd 60(%[p]), %[g]\n\t"
        "movlpd 68(%[p]), %[g]\n\t"
        "pmovzxbw 72(%[p]), %[a]\n\t"
        : [a] "=&x"(a), [b] "=&x"(b), [c] "=&x"(c), [f] "=&x"(f), [g] "=&x"(g)
        : [p] "r"(p)
        : "memory");
    h = Mix(h, Fnv1a(&a, 16) ^ Fnv1a(&b, 16) * 3 ^ Fnv1a(&c, 16) * 5 ^ Fnv1a(&f, 16) * 7 ^ Fnv1a(&g, 16) * 11);
  }
  REPORT("sse-loads", h);

  Reset();
  __m128i v = _mm_set_epi32(0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10);
  __asm__ volatile(
      "movdqa %[v], (%[p])\n\t"
      "movdqu %[v], 17(%[p])\n\t"
      "movq %[v], 40(%[p])\n\t"
      "movd %[v], 49(%[p])\n\t"
      "pextrb $5, %[v], 55(%[p])\n\t"
      "pextrw $6, %[v], 57(%[p])\n\t"
      "pextrd $2, %[v], 61(%[p])\n\t"
      "pextrq $1, %[v], 67(%[p])\n\t"
      "movhps %[v], 80(%[p])\n\t"
      "movlps %[v], 90(%[p])\n\t"
      "movss %[v], 100(%[p])\n\t"
      "extractps $3, %[v], 106(%[p])\n\t"
      "movntdq %[v], 128(%[p])\n\t"
      "movntiq %[q], 150(%[p])\n\t"
      "movups %[v], 161(%[p])\n\t"
      "sfence\n\t"
      :
      : [v] "x"(v), [p] "r"(buf), [q] "r"(0x0f1e2d3c4b5a6978ull)
      : "memory");
  // maskmovdqu: a store to [rdi] of the bytes whose mask byte has its top bit.
  __m128i mask = _mm_set_epi8(-1, 0, -1, 0, 0, 0, -1, -1, 0, -1, 0, -1, -1, -1, 0, 0);
  __asm__ volatile("maskmovdqu %1, %0" : : "x"(v), "x"(mask), "D"(buf + 200) : "memory");
  __asm__ volatile("vmaskmovdqu %1, %0" : : "x"(_mm_set1_epi8(0x77)), "x"(mask), "D"(buf + 231) : "memory");
  REPORT_HASH("sse-stores", buf, 256);
}

static void AvxMemory(void) {
  uint64_t h = 0;
  for (int off = 0; off < 64; off += 5) {
    const uint8_t* p = pattern + 128 + off;
    __m256i a, b, c, d;
    __asm__ volatile(
        "vmovdqu (%[p]), %[a]\n\t"
        "vpaddq 32(%[p]), %[a], %[b]\n\t"
        "vbroadcastss 3(%[p]), %[c]\n\t"
        "vpbroadcastb 7(%[p]), %[d]\n\t"
        "vpxor %[d], %[c], %[c]\n\t"
        "vinserti128 $1, 64(%[p]), %[a], %[a]\n\t"
        "vpermq $0x4e, 96(%[p]), %[d]\n\t"
        "vpbroadcastw 11(%[p]), %%ymm15\n\t"
        "vpaddw %%ymm15, %[d], %[d]\n\t"
        "vbroadcastsd 13(%[p]), %%ymm14\n\t"
        "vxorpd %%ymm14, %[b], %[b]\n\t"
        "vbroadcasti128 17(%[p]), %%ymm13\n\t"
        "vpsubb %%ymm13, %[c], %[c]\n\t"
        "vpmovzxwd 21(%[p]), %%ymm12\n\t"
        "vpaddd %%ymm12, %[a], %[a]\n\t"
        "vpshufb 128(%[p]), %[d], %[d]\n\t"
        : [a] "=&x"(a), [b] "=&x"(b), [c] "=&x"(c), [d] "=&x"(d)
        : [p] "r"(p)
        : "memory", "xmm12", "xmm13", "xmm14", "xmm15");
    h = Mix(h, Fnv1a(&a, 32) ^ Fnv1a(&b, 32) * 3 ^ Fnv1a(&c, 32) * 5 ^ Fnv1a(&d, 32) * 7);
  }
  REPORT("avx-loads", h);

  Reset();
  __m256i v = _mm256_set_epi64x(0x0102030405060708ll, 0x1112131415161718ll, 0x2122232425262728ll, 0x3132333435363738ll);
  __asm__ volatile(
      "vmovdqa %[v], (%[p])\n\t"
      "vmovdqu %[v], 33(%[p])\n\t"
      "vextracti128 $1, %[v], 70(%[p])\n\t"
      "vmovntdq %[v], 128(%[p])\n\t"
      "vmovq %x[v], 170(%[p])\n\t"
      "vpextrw $3, %x[v], 181(%[p])\n\t"
      "vmovups %[v], 190(%[p])\n\t"
      "sfence\n\t"
      :
      : [v] "x"(v), [p] "r"(buf)
      : "memory");
  REPORT_HASH("avx-stores", buf, 256);

  // Masked loads and stores: masked-off lanes are neither read nor written.
  Reset();
  __m256i m = _mm256_set_epi32(-1, 0, 0, -1, -1, 0, -1, 0);
  __m256i ld = _mm256_maskload_epi32((const int*)(pattern + 300), m);
  __m256 ldf = _mm256_maskload_ps((const float*)(pattern + 340), m);
  __m128i ld64 = _mm_maskload_epi64((const long long*)(pattern + 380), _mm_set_epi64x(-1, 0));
  _mm256_maskstore_epi32((int*)(buf + 20), m, _mm256_set1_epi32(0x55aa55aa));
  _mm256_maskstore_pd((double*)(buf + 60), _mm256_set_epi64x(0, -1, -1, 0), _mm256_set1_pd(-2.5));
  _mm_maskstore_epi64((long long*)(buf + 100), _mm_set_epi64x(-1, 0), _mm_set1_epi64x(7));
  h = Mix(Fnv1a(&ld, 32), Fnv1a(&ldf, 32));
  h = Mix(h, Fnv1a(&ld64, 16));
  REPORT("avx-masked", Mix(h, Fnv1a(buf, 160)));
}

// Accesses through index registers loaded just before (movzx from a byte,
// and with or mov of a small constant), as a bytecode interpreter indexes its
// register file: several in one block with one base, stores among them, an
// index rewritten between uses. The bases walk across the buffer, so that the
// accesses straddle pages now and then.
static void BoundedIndices(void) {
  Reset();
  uint64_t h = 0;
  for (uint64_t off = 0; off < 8192 - 2048 - 64; off += 424) {
    uint8_t* base = buf + 32 + off;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    __asm__ volatile(
        // Two loads and a store, indices from bytes of the pattern.
        "movzbl (%[q]), %k[a]\n\t"
        "movzbl 1(%[q]), %k[b]\n\t"
        "movzbl 2(%[q]), %k[c]\n\t"
        "movq (%[p],%[a],8), %[d]\n\t"
        "addq -8(%[p],%[b],8), %[d]\n\t"
        "movq %[d], 16(%[p],%[c],8)\n\t"
        // An index rewritten by a load through itself: no longer bounded.
        "movzbl 3(%[q]), %k[a]\n\t"
        "movq (%[p],%[a],4), %[a]\n\t"
        "andq $0x3f, %[a]\n\t"
        "addq (%[p],%[a],8), %[d]\n\t"
        // and with, and mov of, small constants; a 16-bit load is not bounded.
        "movl %k[d], %k[b]\n\t"
        "andl $0x7f, %k[b]\n\t"
        "movl $9, %k[c]\n\t"
        "xorq (%[p],%[b],4), %[d]\n\t"
        "movq %[d], (%[p],%[c],8)\n\t"
        "movzwl 4(%[q]), %k[c]\n\t"
        "andl $0x3ff, %k[c]\n\t"
        "addq 24(%[p],%[c]), %[d]\n\t"
        "movb %b[d], 1(%[p],%[b],2)\n\t"
        : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)
        : [p] "r"(base), [q] "r"(pattern + off / 8)
        : "memory");
    h = Mix(Mix(Mix(Mix(h, a), b), c), d);
  }
  REPORT("bounded-indices", h);
  REPORT_HASH("bounded-indices-stores", buf, sizeof buf);
}

// A bytecode interpreter's register file of 256 qwords, read and written
// through byte indices (movzx), checked by a translator as one 2 KiB span at
// the block's start. The file lies across a page boundary or inside a page;
// each of two copies of the code first runs with the file placed one way
// (a translator may pick its lookup order from that), then the other way,
// on other pages too.
static uint8_t regfile_area[16384] ALIGNED(4096);
#define REGFILE_RUN(name, seed) /* (seeds differ: the compiler may not merge the two) */ \
  static NOINLINE uint64_t name(uint8_t* file, const uint8_t* ops, int n) {              \
    uint64_t h = seed;                                                                    \
    for (int i = 0; i < n; i++, ops += 3) {                                               \
      uint64_t a, b, c, d;                                                                \
      __asm__ volatile("movzbl (%[q]), %k[a]\n\t"                                       \
                       "movzbl 1(%[q]), %k[b]\n\t"                                      \
                       "movzbl 2(%[q]), %k[c]\n\t"                                      \
                       "movq (%[p],%[b],8), %[d]\n\t"                                   \
                       "addq (%[p],%[c],8), %[d]\n\t"                                   \
                       "movq %[d], (%[p],%[a],8)"                                         \
                       : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)          \
                       : [p] "r"(file), [q] "r"(ops)                                      \
                       : "memory");                                                       \
      h = Mix(h, d);                                                                      \
    }                                                                                     \
    return h;                                                                             \
  }
REGFILE_RUN(RegisterFileFirstAcross, 1)
REGFILE_RUN(RegisterFileFirstWithin, 2)
static void RegisterFiles(void) {
  uint8_t* const across1 = regfile_area + 4096 - 1000, *const within1 = regfile_area + 64;
  uint8_t* const across3 = regfile_area + 3 * 4096 - 600, *const within3 = regfile_area + 3 * 4096 + 200;
  memcpy(regfile_area, pattern, sizeof regfile_area < sizeof pattern ? sizeof regfile_area : sizeof pattern);
  uint64_t h = 0;
  h = Mix(h, RegisterFileFirstAcross(across1, pattern, 600));
  h = Mix(h, RegisterFileFirstWithin(within1, pattern + 1800, 600));
  for (int round = 0; round < 2; round++) {
    h = Mix(h, RegisterFileFirstAcross(within3, pattern + 3600, 300));
    h = Mix(h, RegisterFileFirstAcross(across3, pattern + 4500, 300));
    h = Mix(h, RegisterFileFirstWithin(across1, pattern + 5400, 300));
    h = Mix(h, RegisterFileFirstWithin(within3, pattern + 6300, 300));
  }
  REPORT("register-files", h);
  REPORT_HASH("register-files-stores", regfile_area, sizeof regfile_area);
}

// Loops that are one block branching back to its start, reading a table
// through an index the loop itself bounds (movzx from a byte; and with a
// constant) or through an index it never changes: a translator may check
// such a read once before the loop. The tables sit inside a page and across
// a page boundary; one loop stores into the table it reads, and one reads
// through an index bounded only by the previous iteration.
static void LoopTableReads(void) {
  Reset();
  uint64_t h = 0;
  static const uint64_t kTableOffsets[] = {0, 1000, 4096 - 600, 8192 - 2048 - 64};
  for (uint64_t k = 0; k < sizeof kTableOffsets / sizeof kTableOffsets[0]; k++) {
    uint8_t* tab = buf + kTableOffsets[k];
    const uint8_t* src = pattern + 64 * k;
    uint64_t crc = ~0ull, t = 0;
    // CRC-like: the index is a byte of data mixed with the running value.
    __asm__ volatile(
        "1: movzbl (%[src]), %k[t]\n\t"
        "add $1, %[src]\n\t"
        "xorl %k[crc], %k[t]\n\t"
        "shrl $8, %k[crc]\n\t"
        "movzbl %b[t], %k[t]\n\t"
        "xorl (%[tab],%[t],4), %k[crc]\n\t"
        "cmp %[src], %[end]\n\t"
        "jne 1b"
        : [crc] "+r"(crc), [t] "=&r"(t), [src] "+r"(src)
        : [tab] "r"(tab), [end] "r"(src + 300)
        : "cc");
    h = Mix(h, crc);
    // and-bounded qword reads, an invariant-index read, stores to the table.
    uint64_t i = k, acc = 0, x = 0, u = 0;
    __asm__ volatile(
        "1: mov %[i], %[u]\n\t"
        "and $0x3f, %[u]\n\t"
        "mov (%[tab],%[u],8), %[x]\n\t"
        "add 12(%[tab],%[inv],4), %[x]\n\t"
        "add %[x], %[acc]\n\t"
        "rol $7, %[acc]\n\t"
        "mov %[acc], 8(%[tab],%[u],8)\n\t"
        "add $3, %[i]\n\t"
        "cmp $200, %[i]\n\t"
        "jb 1b"
        : [i] "+r"(i), [acc] "+r"(acc), [x] "=&r"(x), [u] "=&r"(u)
        : [tab] "r"(tab), [inv] "r"((uint64_t)(k * 5))
        : "cc", "memory");
    h = Mix(Mix(h, acc), x);
    // Invariant index only; and an index bounded only by the last iteration.
    uint64_t n = 100, s = 1, j = 0;
    __asm__ volatile(
        "1: addl 4(%[tab],%[inv],8), %k[s]\n\t"
        "roll $3, %k[s]\n\t"
        "addl (%[tab],%[j],2), %k[s]\n\t"
        "movzbl %b[s], %k[j]\n\t"
        "dec %[n]\n\t"
        "jnz 1b"
        : [s] "+r"(s), [j] "+r"(j), [n] "+r"(n)
        : [tab] "r"(tab), [inv] "r"((uint64_t)(k + 3))
        : "cc");
    h = Mix(h, s);
  }
  REPORT("loop-table-reads", h);
  REPORT_HASH("loop-table-reads-stores", buf, sizeof buf);
}

// Loops that are one block branching back to its start, reading and
// updating the fields of one struct through a pointer they never change (a
// translator may check the whole struct, stores included, once before the
// loop), while also storing through another pointer that may land in the
// same struct. The structs sit inside a page and across a page boundary.
static void LoopGroupUpdates(void) {
  Reset();
  uint64_t h = 0;
  static const uint64_t kStructOffsets[] = {0, 1000, 4096 - 16, 8192 - 2048 - 8};
  for (uint64_t k = 0; k < sizeof kStructOffsets / sizeof kStructOffsets[0]; k++) {
    uint8_t* st = buf + kStructOffsets[k];
    uint64_t n = 150 + k, x = 0, y = 0;
    uint8_t* other = buf + kStructOffsets[(k + 1) % 4];
    uint64_t j = 0;
    __asm__ volatile(
        "1: mov (%[st]), %[x]\n\t"
        "add %[n], %[x]\n\t"
        "mov %[x], (%[st])\n\t"
        "mov 8(%[st]), %[y]\n\t"
        "xor %[x], %[y]\n\t"
        "rol $5, %[y]\n\t"
        "mov %[y], 8(%[st])\n\t"
        "addq $3, 24(%[st])\n\t"
        "movzbl %b[y], %k[j]\n\t"
        "movb %b[x], (%[other],%[j])\n\t"  // sometimes into the struct itself
        "dec %[n]\n\t"
        "jnz 1b"
        : [n] "+r"(n), [x] "=&r"(x), [y] "=&r"(y), [j] "+r"(j)
        : [st] "r"(st), [other] "r"(k == 2 ? st - 16 : other)
        : "cc", "memory");
    h = Mix(Mix(h, x), y);
  }
  REPORT("loop-group-updates", h);
  REPORT_HASH("loop-group-updates-stores", buf, sizeof buf);
}

// Loops that are one block branching back to its start, whose accesses move
// with a counter the loop steps by a constant: [B + I*s + d] or [I + d]. A
// translator may check such accesses a page at a time and let the
// iterations in between run unchecked. The loops run over many pages, up
// and down, from page-aligned and unaligned starts, with the counter as
// index and as base, stepped before and after the accesses (add, sub, inc,
// dec, lea), counting up to zero from below, with windows that straddle
// page boundaries at most iterations, and with stores into what they read.
static uint8_t big[48 * 1024 + 64] ALIGNED(4096) ASM_VISIBLE;

static void LoopStrideAccesses(void) {
  FillRandom(big, sizeof big, 0x5eed);
  uint64_t h = 0;
  static const uint64_t kStarts[] = {0, 8, 4096 - 8, 4096 - 40, 777};
  for (uint64_t k = 0; k < sizeof kStarts / sizeof kStarts[0]; k++) {
    uint8_t* base = big + (kStarts[k] & ~7ull);
    // Index counter, two windows (a load stream and a load/store stream).
    uint64_t i = 0, acc = k, x = 0;
    __asm__ volatile(
        "1: mov (%[a],%[i],8), %[x]\n\t"
        "add 8(%[a],%[i],8), %[x]\n\t"
        "xor %[x], %[acc]\n\t"
        "rol $9, %[acc]\n\t"
        "add %[acc], (%[b],%[i],8)\n\t"
        "add $1, %[i]\n\t"
        "cmp $2500, %[i]\n\t"
        "jne 1b"
        : [i] "+r"(i), [acc] "+r"(acc), [x] "=&r"(x)
        : [a] "r"(base), [b] "r"(big + 24 * 1024)
        : "cc", "memory");
    h = Mix(Mix(h, acc), i);
    // Base counter going down by 8, stores overlapping the next load (a
    // memmove towards higher addresses), the step before the last access.
    uint8_t* p = big + 40 * 1024 + kStarts[k];
    uint64_t n = 1900;
    __asm__ volatile(
        "1: mov -8(%[p]), %[x]\n\t"
        "rol $3, %[x]\n\t"
        "mov %[x], (%[p])\n\t"
        "sub $8, %[p]\n\t"
        "movb %b[x], 3(%[p])\n\t"
        "dec %[n]\n\t"
        "jnz 1b"
        : [p] "+r"(p), [n] "+r"(n), [x] "=&r"(x)
        :
        : "cc", "memory");
    h = Mix(h, (uint64_t)(p - big));
    // Counting up to zero from -count: [end + I*4].
    int64_t j = -3000;
    uint32_t s = 0;
    __asm__ volatile(
        "1: addl (%[end],%[j],4), %[s]\n\t"
        "roll $1, %[s]\n\t"
        "inc %[j]\n\t"
        "jnz 1b"
        : [j] "+r"(j), [s] "+r"(s)
        : [end] "r"(big + 12000 + kStarts[k])
        : "cc");
    h = Mix(h, s);
    // Byte windows two and three bytes wide, stepping by 2 with lea, the
    // store after the step: windows straddle page boundaries.
    uint8_t* q = big + 1 + kStarts[k];
    uint64_t m = 9000;
    __asm__ volatile(
        "1: movzbl (%[q]), %k[x]\n\t"
        "addb 1(%[q]), %b[x]\n\t"
        "lea 2(%[q]), %[q]\n\t"
        "movb %b[x], -1(%[q])\n\t"
        "sub $1, %[m]\n\t"
        "jnz 1b"
        : [q] "+r"(q), [m] "+r"(m), [x] "=&r"(x)
        :
        : "cc", "memory");
    h = Mix(h, (uint64_t)(q - big));
    // A second register one ahead of the counter, stored through and then
    // moved into the counter.
    uint64_t c = kStarts[k], ahead = 0, acc2 = 0;
    __asm__ volatile(
        "1: movzbl (%[a],%[c]), %k[x]\n\t"
        "lea 1(%[c]), %[ahead]\n\t"
        "add %[x], %[acc]\n\t"
        "movb %b[acc], (%[a],%[ahead])\n\t"
        "mov %[ahead], %[c]\n\t"
        "cmp %[end], %[c]\n\t"
        "jb 1b"
        : [c] "+r"(c), [ahead] "=&r"(ahead), [acc] "+r"(acc2), [x] "=&r"(x)
        : [a] "r"(big + 16 * 1024), [end] "r"(kStarts[k] + 9000)
        : "cc", "memory");
    h = Mix(h, acc2);
    // Vector loads and stores moving up by 32 bytes, with a step of 4 on a
    // scale of 8.
    uint64_t v = 0;
    __asm__ volatile(
        "1: vmovdqu (%[a],%[v],8), %%ymm0\n\t"
        "vpaddq (%[b],%[v],8), %%ymm0, %%ymm0\n\t"
        "vmovdqu %%ymm0, (%[b],%[v],8)\n\t"
        "add $4, %[v]\n\t"
        "cmp $1200, %[v]\n\t"
        "jb 1b\n\t"
        "vzeroupper"
        : [v] "+r"(v)
        : [a] "r"(big + kStarts[k]), [b] "r"(big + 20 * 1024 + 8)
        : "cc", "memory", "xmm0");
    h = Mix(h, v);
  }
  REPORT("loop-stride-accesses", h);
  REPORT_HASH("loop-stride-accesses-stores", big, sizeof big);
}

// Stride loops that name every register but rcx, r10, r11 and rbp, and
// then rbp too: the translator's spare registers are those, and the two that
// its later rewrites take (rcx for a flag-preserving check, r11 for an
// indirect branch) can serve only the check before the loop, not hold a
// window. With four spare, the window and its count of iterations each get
// one; with three, the count lives in memory. Bytes are read and written a
// byte apart, over page boundaries, from several starts.
#define FEW_REGISTERS_LOOP(BP_SETUP, BP_USE, BP_DONE)                   \
  __asm__ volatile(BP_SETUP                                             \
                   "mov (%[io]), %%rsi\n\t"                             \
                   "mov 8(%[io]), %%rdi\n\t"                            \
                   "mov 16(%[io]), %%rbx\n\t"                           \
                   "xor %%eax, %%eax\n\t"                               \
                   "mov $0x9e3779b97f4a7c15, %%r8\n\t"                  \
                   "xor %%r12d, %%r12d\n\t"                             \
                   "xor %%r14d, %%r14d\n\t"                             \
                   "mov $3, %%r15d\n\t"                                 \
                   "jmp 1f\n\t"                                         \
                   ".p2align 4\n"                                        \
                   "1: movzbl (%%rsi,%%rax), %%edx\n\t"                 \
                   "add %%rdx, %%rbx\n\t" BP_USE                        \
                   "lea (%%rbx,%%r8), %%r9\n\t"                         \
                   "xor %%r9, %%r12\n\t"                                \
                   "mov %%r12, %%r13\n\t"                               \
                   "rol $7, %%r13\n\t"                                  \
                   "add %%r13, %%r14\n\t"                               \
                   "imul %%r14, %%r15\n\t"                              \
                   "movb %%r15b, 1(%%rsi,%%rax)\n\t"                    \
                   "lea 1(%%rax), %%rax\n\t"                            \
                   "cmp %%rdi, %%rax\n\t"                               \
                   "jb 1b\n\t"                                          \
                   "mov %%r14, (%[io])\n\t"                             \
                   "mov %%r15, 8(%[io])\n\t"                            \
                   "mov %%rax, 16(%[io])\n\t" BP_DONE                   \
                   :                                                    \
                   : [io] "c"(io)                                       \
                   : "rax", "rdx", "rbx", "rsi", "rdi", "r8", "r9", "r12", "r13", "r14", "r15", "cc", "memory")
static void LoopStrideFewRegisters(void) {
  FillRandom(big, sizeof big, 0xfe3);
  uint64_t h = 0;
  static const uint64_t kStarts[] = {0, 1, 4095, 4090, 333};
  for (int with_rbp = 0; with_rbp < 2; with_rbp++) {
    for (uint64_t k = 0; k < sizeof kStarts / sizeof kStarts[0]; k++) {
      static uint64_t io[4];
      io[0] = (uint64_t)(big + 4 * 1024 + kStarts[k]);
      io[1] = 11000;
      io[2] = k;
      io[3] = 0;
      if (with_rbp)
        FEW_REGISTERS_LOOP("push %%rbp\n\txor %%ebp, %%ebp\n\t", "add %%rdx, %%rbp\n\t",
                           "mov %%rbp, 24(%[io])\n\tpop %%rbp");
      else
        FEW_REGISTERS_LOOP("", "", "");
      h = Mix(Mix(Mix(Mix(h, io[0]), io[1]), io[2]), io[3]);
    }
  }
  REPORT("loop-stride-few-registers", h);
  REPORT_HASH("loop-stride-few-registers-stores", big, sizeof big);
}
#undef FEW_REGISTERS_LOOP

// Tables at absolute addresses read through an index the code bounds just
// before (movzx from a byte, and with a constant), loading into the index
// register itself, with stores to the table: the table's page is known at
// translation time when it fits in one (a translator may check it with a
// constant). One table lies within a page, one straddles two.
static struct {
  uint64_t in[256];               // the first 2 KiB of a page
  uint8_t gap[4096 - 512 - 2048];
  uint64_t across[256];           // from 512 bytes before the next page
} abs_tables ALIGNED(4096) ASM_VISIBLE;
#define ABS_ACROSS "3584"  // offsetof(across), checked below

// (Functions of their own with one access each, so that no loop or span
// check stands for them.)
static NOINLINE uint64_t AbsoluteTableLoad(uint64_t x) {
  uint64_t a;
  __asm__ volatile("movzbl %b[x], %k[a]\n\tmov abs_tables(,%[a],8), %[a]" : [a] "=&r"(a) : [x] "r"(x) : "memory");
  return a;
}
static NOINLINE uint64_t AbsoluteTableAcross(uint64_t x, uint64_t a) {
  uint64_t b;
  __asm__ volatile("mov %[x], %[b]\n\tshr $8, %[b]\n\tand $0xff, %k[b]\n\tadd abs_tables+" ABS_ACROSS
                   "(,%[b],8), %[a]"
                   : [a] "+r"(a), [b] "=&r"(b)
                   : [x] "r"(x)
                   : "cc", "memory");
  return a;
}
static NOINLINE void AbsoluteTableStore(uint64_t a, uint64_t x) {
  uint64_t b;
  __asm__ volatile("movzbl %b[a], %k[b]\n\txor %[a], abs_tables(,%[b],8)" : [b] "=&r"(b) : [a] "r"(a) : "cc", "memory");
  __asm__ volatile("movzbl %b[a], %k[b]\n\tmovb %b[x], abs_tables+" ABS_ACROSS "+7(,%[b],8)"
                   : [b] "=&r"(b)
                   : [a] "r"(a >> 8), [x] "r"(x)
                   : "memory");
}
static NOINLINE uint64_t AbsoluteTableStep(uint64_t x) {
  const uint64_t a = AbsoluteTableAcross(x, AbsoluteTableLoad(x));
  AbsoluteTableStore(a, x);
  return a;
}

static void AbsoluteTables(void) {
  _Static_assert(__builtin_offsetof(__typeof__(abs_tables), across) == 3584, "ABS_ACROSS");
  for (int i = 0; i < 256; i++) {
    abs_tables.in[i] = Mix(i, 1);
    abs_tables.across[i] = Mix(i, 2);
  }
  uint64_t h = 0;
  for (uint64_t i = 0; i < 700; i++) h = Mix(h, AbsoluteTableStep(Mix(i, 3)));
  REPORT("absolute-tables", h);
  REPORT_HASH("absolute-tables-in", abs_tables.in, sizeof abs_tables.in);
  REPORT_HASH("absolute-tables-across", abs_tables.across, sizeof abs_tables.across);
}

// Prefetch, flush and fences: no visible effect, but they carry memory operands.
static void CacheControl(void) {
  Reset();
  __asm__ volatile(
      "prefetcht0 (%0)\n\tprefetcht1 64(%0)\n\tprefetcht2 128(%0)\n\tprefetchnta 192(%0)\n\t"
      "prefetchw 256(%0)\n\t"
      "clflush (%0)\n\tclflushopt 64(%0)\n\tclwb 128(%0)\n\t"
      "mfence\n\tlfence\n\tsfence\n\t"
      :
      : "r"(buf)
      : "memory");
  REPORT_HASH("cache-control", buf, 256);
}

int main(void) {
  FillRandom(pattern, sizeof pattern, 0x1234);
  LoadSizes();
  StoreSizes();
  AddressingForms();
  RipRelative();
  ReadModifyWrite();
  Atomics();
  CompareExchangeWide();
  SseMemory();
  AvxMemory();
  CacheControl();
  BoundedIndices();
  RegisterFiles();
  LoopTableReads();
  LoopGroupUpdates();
  LoopStrideAccesses();
  LoopStrideFewRegisters();
  AbsoluteTables();
  return 0;
}
