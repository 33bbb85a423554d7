// check.h — helpers shared by the guest test programs in roms/tests.
//
// Each test prints one line per case, "case-name: value", where value is a
// number or a hash of everything the case computed. The native build's output
// is the reference; a diff against the xlat run names the case that differs.
//
// Rules for a case: deterministic (no addresses, no rdtsc or cpuid values, no
// uninitialised memory in the output), no OS services, and flags printed only
// through FLAGS_MASK (IF, IOPL and friends differ between ring 3 and ring 0).
#ifndef XLAT_ROMS_TESTS_CHECK_H
#define XLAT_ROMS_TESTS_CHECK_H

#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))
#define ALIGNED(n) __attribute__((aligned(n)))
// For a static object that inline asm names directly.
#define ASM_VISIBLE __attribute__((used))
// Hides a value from the optimizer, so a case computes at run time.
#define OPAQUE(x) __asm__ volatile("" : "+r"(x))
#define OPAQUE_MEM() __asm__ volatile("" : : : "memory")

// CF PF AF ZF SF OF, and DF: the flags a program can set and that mean the
// same in ring 3 and ring 0.
#define FLAGS_MASK 0x8d5ul
#define FLAGS_MASK_DF 0xcd5ul

static inline uint64_t Fnv1a(const void* data, size_t n) {
  const unsigned char* p = (const unsigned char*)data;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static inline uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

// xorshift64*: deterministic test data.
typedef struct {
  uint64_t s;
} Rng;
static inline uint64_t RngNext(Rng* r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 2685821657736338717ull;
}
static inline void FillRandom(void* p, size_t n, uint64_t seed) {
  Rng r = {seed | 1};
  unsigned char* b = (unsigned char*)p;
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(RngNext(&r) >> 56);
}

#define REPORT(name, value) guest_printf("%s: %016lx\n", name, (uint64_t)(value))
#define REPORT_HASH(name, ptr, n) REPORT(name, Fnv1a(ptr, n))
#define REPORT_INT(name, value) guest_printf("%s: %ld\n", name, (long)(value))

#endif  // XLAT_ROMS_TESTS_CHECK_H
