// pages.c — accesses that straddle a 4 KiB page boundary: loads, stores and
// read-modify-write of every size, SSE/AVX unaligned vectors, x87 80-bit
// operands, string instructions, stack pushes and fxsave areas. The
// translator's inline TLB check is per page: a straddling access must reach
// both pages (and take the slow path where it needs to).
//
// No lock-prefixed op straddles here: a split lock may be trapped by the host
// kernel (split_lock_detect), which is not what this test is about.
#include <immintrin.h>

#include "check.h"

#define PAGE 4096
static uint8_t area[4 * PAGE] ALIGNED(PAGE);
static uint8_t* const edge1 = area + PAGE;      // boundary between pages 0 and 1
static uint8_t* const edge2 = area + 2 * PAGE;  // and between 1 and 2

static void Refill(void) { FillRandom(area, sizeof area, 0xabcdef); }

static uint64_t HashEdges(void) { return Mix(Fnv1a(edge1 - 64, 128), Fnv1a(edge2 - 64, 128)); }

static void GprLoads(void) {
  Refill();
  uint64_t h = 0;
  for (int k = 1; k < 8; k++) {
    const uint8_t* p = edge1 - k;
    uint64_t w, d, q, sw, sd;
    __asm__ volatile(
        "movzwl (%[p]), %k[w]\n\t"
        "movl (%[p]), %k[d]\n\t"
        "movq (%[p]), %[q]\n\t"
        "movswq (%[p]), %[sw]\n\t"
        "movslq (%[p]), %[sd]\n\t"
        "addq (%[p]), %[q]\n\t"
        : [w] "=&r"(w), [d] "=&r"(d), [q] "=&r"(q), [sw] "=&r"(sw), [sd] "=&r"(sd)
        : [p] "r"(p)
        : "memory", "cc");
    h = Mix(Mix(Mix(Mix(Mix(h, w), d), q), sw), sd);
    uint64_t be, pc, lz;
    __asm__ volatile("movbeq (%1), %0" : "=r"(be) : "r"(p) : "memory");
    __asm__ volatile("popcntq (%1), %0" : "=r"(pc) : "r"(p) : "memory", "cc");
    __asm__ volatile("lzcntl (%1), %k0" : "=r"(lz) : "r"(edge1 - (k & 3) - 1) : "memory", "cc");
    h = Mix(Mix(Mix(h, be), pc), lz);
  }
  REPORT("straddle-gpr-loads", h);
}

static void GprStores(void) {
  Refill();
  for (int k = 1; k < 8; k++) {
    uint64_t v = 0x0102030405060708ull * k;
    __asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(edge1 - k) : "memory");
    __asm__ volatile("movl %k0, (%1)" : : "r"(v), "r"(edge2 - (k & 3)) : "memory");
    __asm__ volatile("movw %w0, (%1)" : : "r"(v), "r"(edge2 + 16 - 1) : "memory");
    __asm__ volatile("movq $-0x5a5a5a5b, (%0)" : : "r"(edge2 + 32 - k) : "memory");
    __asm__ volatile("movbel %k0, (%1)" : : "r"(v), "r"(edge1 + 40 - (k & 3)) : "memory");
  }
  REPORT("straddle-gpr-stores", HashEdges());
}

static void GprReadModifyWrite(void) {
  Refill();
  uint64_t h = 0, fl;
  for (int k = 1; k < 8; k++) {
    uint8_t* p = edge1 - k;
    uint64_t x = 0x1111 * k;
    __asm__ volatile(
        "addq %[x], (%[p])\n\t"
        "incl (%[p])\n\t"
        "negw 1(%[p])\n\t"
        "shlq $3, (%[p])\n\t"
        "rolw %%cl, (%[p])\n\t"
        "xaddq %[x], (%[p])\n\t"
        "notq (%[p])\n\t"
        "btsq $63, (%[p])\n\t"
        "adcl $7, (%[p])\n\t"
        "pushfq\n\t"
        "popq %[fl]\n\t"
        : [x] "+r"(x), [fl] "=r"(fl)
        : [p] "r"(p), "c"(k)
        : "memory", "cc");
    h = Mix(Mix(Mix(h, x), fl & FLAGS_MASK), Fnv1a(p, 8));
    uint64_t acc = *(uint64_t*)(edge2 - k);
    uint8_t zf;
    __asm__ volatile("cmpxchgq %3, (%2)\n\tsetz %1" : "+a"(acc), "=q"(zf) : "r"(edge2 - k), "r"(x) : "memory", "cc");
    h = Mix(Mix(h, acc), zf);
    uint64_t old = 0x99;
    __asm__ volatile("xchgq %0, (%1)" : "+r"(old) : "r"(edge2 + 100) : "memory");  // does not straddle: locks stay whole
    h = Mix(h, old);
  }
  // cmpxchg8b without lock may straddle.
  uint32_t eax = *(uint32_t*)(edge1 - 4), edx = *(uint32_t*)edge1;
  uint8_t zf;
  __asm__ volatile("cmpxchg8b (%[p])\n\tsetz %[zf]"
                   : "+a"(eax), "+d"(edx), [zf] "=q"(zf)
                   : [p] "r"(edge1 - 4), "b"(0x12345678), "c"(0x9abcdef0)
                   : "memory", "cc");
  REPORT("straddle-gpr-rmw", Mix(Mix(h, zf), HashEdges()));
}

static void VectorAccesses(void) {
  Refill();
  uint64_t h = 0;
  for (int k = 1; k < 32; k += 3) {
    const uint8_t* p = edge1 - k;
    __m128i a, b, c;
    __m256i y;
    __asm__ volatile(
        "movdqu (%[p]), %[a]\n\t"
        "lddqu -8(%[p]), %[b]\n\t"
        "movups 4(%[p]), %[c]\n\t"
        "vmovdqu -16(%[p]), %[y]\n\t"
        "vpaddd (%[p]), %[y], %[y]\n\t"
        "vpxor 1(%[p]), %[a], %[a]\n\t"
        "vbroadcastss -2(%[p]), %%xmm15\n\t"
        "vpaddd %%xmm15, %[c], %[c]\n\t"
        : [a] "=&x"(a), [b] "=&x"(b), [c] "=&x"(c), [y] "=&x"(y)
        : [p] "r"(p)
        : "memory", "xmm15");
    h = Mix(h, Fnv1a(&a, 16) ^ 3 * Fnv1a(&b, 16) ^ 5 * Fnv1a(&c, 16) ^ 7 * Fnv1a(&y, 32));
    __asm__ volatile(
        "movdqu %[a], (%[q])\n\t"
        "vmovdqu %[y], 64(%[q])\n\t"
        "movq %[a], 200(%[q])\n\t"
        :
        : [a] "x"(a), [y] "x"(y), [q] "r"(edge2 - k - 64)
        : "memory");
    __m256i m = _mm256_set_epi32(-1, -1, 0, -1, 0, -1, -1, -1);
    _mm256_maskstore_epi32((int*)(edge2 + 512 - k), m, y);
    __m256i ml = _mm256_maskload_epi32((const int*)(edge2 + 512 - k - 7), m);
    h = Mix(h, Fnv1a(&ml, 32));
  }
  // A gather whose elements sit on both sides of a boundary, one straddling.
  __m256i idx = _mm256_set_epi32(-9, -6, -4, -1, 0, 3, 5, -2);
  __m256i g = _mm256_i32gather_epi32((const int*)edge1, idx, 1);
  h = Mix(h, Fnv1a(&g, 32));
  REPORT("straddle-vector", Mix(h, Mix(HashEdges(), Fnv1a(edge2 + 400, 160))));
}

static void X87Accesses(void) {
  Refill();
  // 80-bit loads/stores straddling, 64-bit integer loads and BCD.
  for (int k = 1; k < 10; k += 2) {
    long double x;
    __asm__ volatile("fildq (%1)\n\tfstpt (%2)\n\tfldt (%2)\n\tfstpt %0"
                     : "=m"(x)
                     : "r"(edge1 - k), "r"(edge2 - k)
                     : "memory");
    __asm__ volatile("fldt %0\n\tfbstp (%1)" : : "m"(x), "r"(edge2 + 64 - k) : "memory");
  }
  REPORT("straddle-x87", HashEdges());
}

static void StringOps(void) {
  Refill();
  // rep movsb/movsq with both source and destination crossing a boundary.
  void* d = edge2 - 37;
  const void* s = edge1 - 53;
  uint64_t n = 100;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  d = edge2 + 3 - 8 * 20;
  s = edge1 - 5 - 8 * 10;
  n = 20;
  __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  d = edge1 - 6;
  n = 5;
  __asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(0xcafef00d) : "memory");
  // Backwards (DF=1), crossing downwards.
  d = edge2 + 9;
  n = 4;
  __asm__ volatile("std\n\trep stosq\n\tcld" : "+D"(d), "+c"(n) : "a"(0x0123456789abcdefull) : "memory", "cc");
  uint64_t h = HashEdges();
  // repe cmpsb across the boundary, stopping after it.
  memcpy(area + 3 * PAGE - 50, edge1 - 50, 100);
  area[3 * PAGE - 50 + 70] ^= 1;
  const void* a = edge1 - 50;
  const void* b = area + 3 * PAGE - 50;
  n = 100;
  __asm__ volatile("repe cmpsb" : "+S"(a), "+D"(b), "+c"(n) : : "memory", "cc");
  h = Mix(h, n);
  // lodsq that straddles.
  uint64_t v;
  s = edge1 - 3;
  __asm__ volatile("lodsq" : "=a"(v), "+S"(s) : : "memory");
  h = Mix(h, v);
  REPORT("straddle-strings", h);
}

static void StackAndState(void) {
  Refill();
  // Pushes and pops with rsp on the boundary, so the slot straddles it.
  uint64_t popped, saved;
  __asm__ volatile(
      "movq %%rsp, %[saved]\n\t"
      "movq %[top], %%rsp\n\t"
      "pushq $0x5a5a5a5a\n\t"        // rsp = edge - 4: straddles
      "pushq %[v]\n\t"
      "pushw $0x1234\n\t"
      "popw %%ax\n\t"
      "popq %[popped]\n\t"
      "addw %%ax, %w[popped]\n\t"
      "movq %[saved], %%rsp\n\t"
      : [saved] "=&r"(saved), [popped] "=&r"(popped)
      : [top] "r"(edge1 + 4), [v] "r"(0x7766554433221100ull)
      : "memory", "rax", "cc");
  uint64_t h = Mix(popped, HashEdges());
  // fxsave/fxrstor with the 512-byte area crossing a boundary.
  uint8_t* fx = edge2 - 256;
  memset(fx, 0, 512);
  __m128 keep = _mm_set_ps(1.5f, -2.25f, 3.0f, 4.75f);
  __asm__ volatile("movaps %0, %%xmm7\n\tfxsave64 (%1)\n\txorps %%xmm7, %%xmm7\n\tfxrstor64 (%1)\n\tmovaps %%xmm7, %0"
                   : "+x"(keep)
                   : "r"(fx)
                   : "memory", "xmm7");
  // Only the XMM7 image is compared: other fields hold host-specific state.
  h = Mix(Mix(h, Fnv1a(fx + 160 + 7 * 16, 16)), Fnv1a(&keep, 16));
  REPORT("straddle-stack-fxsave", h);
}

int main(void) {
  GprLoads();
  GprStores();
  GprReadModifyWrite();
  VectorAccesses();
  X87Accesses();
  StringOps();
  StackAndState();
  return 0;
}
