// system.c — instructions a ring-3 Linux process may run but that the
// translator treats as sensitive or special: cpuid, xgetbv, xsave/xrstor,
// rdtsc, iretq and lretq to the same privilege level, mov to ss,
// nops with memory-looking operands, prefetch of an unmapped address. Only
// facts the xlat machine contract guarantees are printed (x86-64-v3 features
// present, OSXSAVE set), never raw cpuid values or time.
#include <immintrin.h>

#include "check.h"

static void Cpuid(void) {
  uint32_t a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
  int max_leaf_ok = a >= 7;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  int sse2 = (d >> 26) & 1, sse42 = (c >> 20) & 1, avx = (c >> 28) & 1, osxsave = (c >> 27) & 1, fma = (c >> 12) & 1;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  int avx2 = (b >> 5) & 1, bmi1 = (b >> 3) & 1, bmi2 = (b >> 8) & 1;
  guest_printf("cpuid-v3-features: leaf7=%d sse2=%d sse42=%d avx=%d osxsave=%d fma=%d avx2=%d bmi1=%d bmi2=%d\n",
               max_leaf_ok, sse2, sse42, avx, osxsave, fma, avx2, bmi1, bmi2);
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  guest_printf("xcr0-x87-sse-avx: %x\n", lo & 7);
}

// xsave/xrstor of x87, SSE and AVX state (mask 7) in the standard format:
// the YMM upper halves live at offset 576.
static void Xsave(void) {
  static uint8_t area[1024] ALIGNED(64);
  memset(area, 0, sizeof area);
  __m256i v = _mm256_set_epi64x(0x0123456789abcdefll, 0x1122334455667788ll, 0x99aabbccddeeff00ll, 0x5a5a5a5aa5a5a5a5ll);
  __m256i back;
  __asm__ volatile(
      "vmovdqu %[v], %%ymm6\n\t"
      "xsave64 (%[a])\n\t"
      "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
      "xrstor64 (%[a])\n\t"
      "vmovdqu %%ymm6, %[back]\n\t"
      : [back] "=m"(back)
      : [v] "m"(v), [a] "r"(area), "a"(7), "d"(0)
      : "memory", "xmm6");
  uint64_t h = Mix(Fnv1a(area + 160 + 6 * 16, 16), Fnv1a(area + 576 + 6 * 16, 16));
  REPORT("xsave-xrstor-ymm6", Mix(h, Fnv1a(&back, 32)));
}

static void Timestamps(void) {
  uint64_t t0 = guest_rdtsc();
  volatile uint64_t spin = 0;
  for (int i = 0; i < 1000; i++) spin += i;
  uint64_t t1 = guest_rdtsc();
  guest_printf("rdtsc-monotonic: %d\n", t1 > t0);
}

// Far control transfers to the same code segment and privilege level.
// (No lcall: AMD and Intel disagree on the m16:64 form.)
static void FarTransfers(void) {
  uint64_t v = 0;
  __asm__ volatile(
      // iretq: pops rip, cs, rflags, rsp, ss
      "movq %%rsp, %%rcx\n\t"
      "xorl %%eax, %%eax\n\t"
      "movw %%ss, %%ax\n\t"
      "pushq %%rax\n\t"
      "pushq %%rcx\n\t"
      "pushfq\n\t"
      "movw %%cs, %%ax\n\t"
      "pushq %%rax\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "iretq\n\t"
      "movl $99, %k0\n"              // skipped
      "1: addq $1, %0\n\t"
      // lretq: pops rip, cs
      "xorl %%eax, %%eax\n\t"
      "movw %%cs, %%ax\n\t"
      "pushq %%rax\n\t"
      "leaq 2f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n\t"
      "movl $99, %k0\n"
      "2: addq $10, %0\n\t"
      : "+r"(v)
      :
      : "rax", "rcx", "memory", "cc");
  REPORT_INT("iretq-lretq", v);
}

static void SegmentAndNops(void) {
  uint64_t v = 5;
  __asm__ volatile(
      "movw %%ss, %%ax\n\t"
      "movw %%ax, %%ss\n\t"          // reload ss (blocks interrupts for one instruction)
      "addq $1, %0\n\t"
      "movw %%ds, %%ax\n\t"
      "movw %%ax, %%ds\n\t"
      "nopl 0x12345678(%%rax,%%rax,8)\n\t"   // a nop with a ModRM operand: no access
      "nopw 0x0(%%rax,%%rax,1)\n\t"
      ".byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00\n\t"  // cs nopw 0x0(%rax,%rax,1)
      "xchgw %%ax, %%ax\n\t"
      "pause\n\t"
      "endbr64\n\t"
      "addq $1, %0\n\t"
      : "+r"(v)
      :
      : "rax", "cc");
  REPORT_INT("segment-reload-nops", v);
  // prefetch never faults, even on an address nothing maps.
  __asm__ volatile("prefetcht0 (%0)\n\tprefetchnta 64(%0)\n\tprefetchw 128(%0)" : : "r"(0x00007ff000000000ull));
  guest_printf("prefetch-unmapped: ok\n");
}

int main(void) {
  Cpuid();
  Xsave();
  Timestamps();
  FarTransfers();
  SegmentAndNops();
  return 0;
}
