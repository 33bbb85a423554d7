// strings.c — every string instruction (movs, stos, lods, cmps, scas in
// b/w/d/q) without a prefix, with rep / repe / repne, with DF=0 and DF=1;
// rep with rcx=0, overlapping moves, long moves, 32-bit address size,
// segment prefixes, and xlat. These are the IMPLICIT-MEM rewrites with a loop.
//
// Each case prints where rsi/rdi ended (relative to their buffers), rcx,
// rax, the arithmetic flags, and a hash of the destination buffer.
#include "check.h"

#define SIZE 8192
#define MID 4096
static uint8_t src[SIZE] ALIGNED(64);
static uint8_t dst[SIZE] ALIGNED(64);
static uint8_t scan[SIZE] ALIGNED(64);
static uint8_t initial[SIZE] ALIGNED(64);

static void Reset(void) {
  memcpy(src, initial, SIZE);
  memcpy(dst, initial, SIZE);
  for (int i = 0; i < SIZE; i += 3) dst[i] ^= 0x30;  // differs from src: moves show
}

// Makes dst equal to src except for a few bytes, and scan all zero except a
// 16-byte block of 0xee, on both sides of MID.
static void ResetForCompare(void) {
  memcpy(src, initial, SIZE);
  memcpy(dst, initial, SIZE);
  dst[MID + 150] ^= 0x5a;
  dst[MID - 150] ^= 0x5a;
  memset(scan, 0, SIZE);
  memset(scan + MID + 144, 0xee, 16);
  memset(scan + MID - 160, 0xee, 16);
}

static void Report(const char* name, const uint8_t* s, const uint8_t* s_base, const uint8_t* d,
                   const uint8_t* d_base, uint64_t c, uint64_t a, uint64_t fl, const uint8_t* hashed) {
  guest_printf("%s: si%+ld di%+ld cx=%lu ax=%016lx fl=%03lx mem=%016lx\n", name, (long)(s - s_base),
               (long)(d - d_base), c, a, fl & FLAGS_MASK_DF, Fnv1a(hashed, SIZE));
}

// One instruction (with its prefix) run from the middle of the buffers, with
// DF set by `dir` ("cld" or "std"), from known flags (those of xor).
#define STRING_CASE(name, dir, insn, sbuf, dbuf, count, ax, hashed)                                   \
  do {                                                                                               \
    const uint8_t* s = (sbuf) + MID;                                                                 \
    uint8_t* d = (dbuf) + MID;                                                                       \
    uint64_t c = (count), a = (ax), fl;                                                              \
    __asm__ volatile("xorl %k[fl], %k[fl]\n\t" dir "\n\t" insn "\n\tpushfq\n\tpopq %[fl]\n\tcld"    \
                     : "+S"(s), "+D"(d), "+c"(c), "+a"(a), [fl] "=&r"(fl)                            \
                     :                                                                               \
                     : "memory", "cc");                                                              \
    Report(name, s, (sbuf) + MID, d, (dbuf) + MID, c, a, fl, hashed);                                \
  } while (0)

#define MOVE_CASES(dir, tag)                                                                          \
  do {                                                                                               \
    static const char* const kNames[] = {"movsb " tag, "movsw " tag, "movsl " tag, "movsq " tag,      \
                                         "rep movsb " tag, "rep movsw " tag, "rep movsl " tag,        \
                                         "rep movsq " tag};                                           \
    Reset(); STRING_CASE(kNames[0], dir, "movsb", src, dst, 77, 0, dst);                             \
    Reset(); STRING_CASE(kNames[1], dir, "movsw", src, dst, 77, 0, dst);                             \
    Reset(); STRING_CASE(kNames[2], dir, "movsl", src, dst, 77, 0, dst);                             \
    Reset(); STRING_CASE(kNames[3], dir, "movsq", src, dst, 77, 0, dst);                             \
    Reset(); STRING_CASE(kNames[4], dir, "rep movsb", src, dst, 301, 0, dst);                        \
    Reset(); STRING_CASE(kNames[5], dir, "rep movsw", src, dst, 301, 0, dst);                        \
    Reset(); STRING_CASE(kNames[6], dir, "rep movsl", src, dst, 301, 0, dst);                        \
    Reset(); STRING_CASE(kNames[7], dir, "rep movsq", src, dst, 301, 0, dst);                        \
  } while (0)

#define STORE_LOAD_CASES(dir, tag)                                                                    \
  do {                                                                                               \
    static const char* const kNames[] = {"stosb " tag, "stosw " tag, "stosl " tag, "stosq " tag,      \
                                         "rep stosb " tag, "rep stosw " tag, "rep stosl " tag,        \
                                         "rep stosq " tag, "lodsb " tag, "lodsw " tag, "lodsl " tag,  \
                                         "lodsq " tag, "rep lodsb " tag, "rep lodsq " tag};          \
    const uint64_t v = 0x8877665544332211ull;                                                        \
    Reset(); STRING_CASE(kNames[0], dir, "stosb", src, dst, 9, v, dst);                              \
    Reset(); STRING_CASE(kNames[1], dir, "stosw", src, dst, 9, v, dst);                              \
    Reset(); STRING_CASE(kNames[2], dir, "stosl", src, dst, 9, v, dst);                              \
    Reset(); STRING_CASE(kNames[3], dir, "stosq", src, dst, 9, v, dst);                              \
    Reset(); STRING_CASE(kNames[4], dir, "rep stosb", src, dst, 513, v, dst);                        \
    Reset(); STRING_CASE(kNames[5], dir, "rep stosw", src, dst, 513, v, dst);                        \
    Reset(); STRING_CASE(kNames[6], dir, "rep stosl", src, dst, 513, v, dst);                        \
    Reset(); STRING_CASE(kNames[7], dir, "rep stosq", src, dst, 479, v, dst);                        \
    Reset(); STRING_CASE(kNames[8], dir, "lodsb", src, dst, 9, v, src);                              \
    Reset(); STRING_CASE(kNames[9], dir, "lodsw", src, dst, 9, v, src);                              \
    Reset(); STRING_CASE(kNames[10], dir, "lodsl", src, dst, 9, v, src);                             \
    Reset(); STRING_CASE(kNames[11], dir, "lodsq", src, dst, 9, v, src);                             \
    Reset(); STRING_CASE(kNames[12], dir, "rep lodsb", src, dst, 33, v, src);                        \
    Reset(); STRING_CASE(kNames[13], dir, "rep lodsq", src, dst, 33, v, src);                        \
  } while (0)

#define COMPARE_CASES(dir, tag)                                                                       \
  do {                                                                                               \
    static const char* const kNames[] = {                                                            \
        "cmpsb " tag,       "cmpsw " tag,       "cmpsl " tag,       "cmpsq " tag,                     \
        "repe cmpsb " tag,  "repe cmpsw " tag,  "repe cmpsl " tag,  "repe cmpsq " tag,                \
        "repne cmpsb " tag, "repne cmpsq " tag, "scasb " tag,       "scasw " tag,                     \
        "scasl " tag,       "scasq " tag,       "repe scasb " tag,  "repe scasw " tag,                \
        "repe scasl " tag,  "repe scasq " tag,  "repne scasb " tag, "repne scasw " tag,               \
        "repne scasl " tag, "repne scasq " tag, "repe cmpsb-equal " tag};                             \
    const uint64_t ee = 0xeeeeeeeeeeeeeeeeull;                                                       \
    ResetForCompare(); STRING_CASE(kNames[0], dir, "cmpsb", src, dst, 5, 0, dst);                    \
    ResetForCompare(); STRING_CASE(kNames[1], dir, "cmpsw", src, dst, 5, 0, dst);                    \
    ResetForCompare(); STRING_CASE(kNames[2], dir, "cmpsl", src, dst, 5, 0, dst);                    \
    ResetForCompare(); STRING_CASE(kNames[3], dir, "cmpsq", src, dst, 5, 0, dst);                    \
    ResetForCompare(); STRING_CASE(kNames[4], dir, "repe cmpsb", src, dst, 400, 0, dst);             \
    ResetForCompare(); STRING_CASE(kNames[5], dir, "repe cmpsw", src, dst, 400, 0, dst);             \
    ResetForCompare(); STRING_CASE(kNames[6], dir, "repe cmpsl", src, dst, 400, 0, dst);             \
    ResetForCompare(); STRING_CASE(kNames[7], dir, "repe cmpsq", src, dst, 400, 0, dst);             \
    ResetForCompare(); STRING_CASE(kNames[8], dir, "repne cmpsb", src, scan, 400, 0, dst);           \
    ResetForCompare(); STRING_CASE(kNames[9], dir, "repne cmpsq", src, src, 400, 0, dst);            \
    ResetForCompare(); STRING_CASE(kNames[10], dir, "scasb", src, scan, 5, 0, scan);                 \
    ResetForCompare(); STRING_CASE(kNames[11], dir, "scasw", src, scan, 5, 1, scan);                 \
    ResetForCompare(); STRING_CASE(kNames[12], dir, "scasl", src, scan, 5, 0, scan);                 \
    ResetForCompare(); STRING_CASE(kNames[13], dir, "scasq", src, scan, 5, ee, scan);                \
    ResetForCompare(); STRING_CASE(kNames[14], dir, "repe scasb", src, scan, 400, 0, scan);          \
    ResetForCompare(); STRING_CASE(kNames[15], dir, "repe scasw", src, scan, 400, 0, scan);          \
    ResetForCompare(); STRING_CASE(kNames[16], dir, "repe scasl", src, scan, 400, 0, scan);          \
    ResetForCompare(); STRING_CASE(kNames[17], dir, "repe scasq", src, scan, 400, 0, scan);          \
    ResetForCompare(); STRING_CASE(kNames[18], dir, "repne scasb", src, scan, 400, ee, scan);        \
    ResetForCompare(); STRING_CASE(kNames[19], dir, "repne scasw", src, scan, 400, ee, scan);        \
    ResetForCompare(); STRING_CASE(kNames[20], dir, "repne scasl", src, scan, 400, ee, scan);        \
    ResetForCompare(); STRING_CASE(kNames[21], dir, "repne scasq", src, scan, 400, ee, scan);        \
    ResetForCompare(); STRING_CASE(kNames[22], dir, "repe cmpsb", src, src, 100, 0, src);            \
  } while (0)

static void ZeroCount(void) {
  // rep with rcx = 0 does nothing, not even to the flags.
  uint64_t fl_in = 0x8d5;  // all arithmetic flags set
  static const char* const kNames[] = {"rep movsq rcx=0", "rep stosb rcx=0", "repe cmpsb rcx=0",
                                       "repne scasq rcx=0"};
#define ZERO_CASE(i, insn)                                                                               \
  do {                                                                                                  \
    Reset();                                                                                            \
    const uint8_t* s = src + MID;                                                                       \
    uint8_t* d = dst + MID;                                                                             \
    uint64_t c = 0, a = 7, fl;                                                                          \
    __asm__ volatile("pushq %[in]\n\tpopfq\n\t" insn "\n\tpushfq\n\tpopq %[fl]"                          \
                     : "+S"(s), "+D"(d), "+c"(c), "+a"(a), [fl] "=&r"(fl)                               \
                     : [in] "r"(fl_in)                                                                   \
                     : "memory", "cc");                                                                 \
    Report(kNames[i], s, src + MID, d, dst + MID, c, a, fl, dst);                                       \
  } while (0)
  ZERO_CASE(0, "rep movsq");
  ZERO_CASE(1, "rep stosb");
  ZERO_CASE(2, "repe cmpsb");
  ZERO_CASE(3, "repne scasq");
}

static void Special(void) {
  // Overlapping forward copy one byte ahead replicates the first byte: rep
  // movsb is defined element by element.
  Reset();
  STRING_CASE("rep movsb overlap+1", "cld", "rep movsb", dst - 1, dst, 200, 0, dst);
  Reset();
  STRING_CASE("rep movsq overlap+8", "cld", "rep movsq", dst - 8, dst, 60, 0, dst);
  Reset();
  STRING_CASE("rep movsb overlap-3 df1", "std", "rep movsb", dst + 3, dst, 200, 0, dst);
  // A long move across many pages.
  Reset();
  {
    static uint8_t big_src[100000], big_dst[100000];
    for (int i = 0; i < 100000; i++) big_src[i] = (uint8_t)(i * 13 + (i >> 8));
    const void* s = big_src;
    void* d = big_dst;
    uint64_t c = 100000 - 3;
    __asm__ volatile("rep movsb" : "+S"(s), "+D"(d), "+c"(c) : : "memory");
    REPORT("rep movsb 100k", Mix(Fnv1a(big_dst, sizeof big_dst), c));
    d = big_dst + 1;
    c = 12000;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(c) : "a"(0x0102030405060708ull) : "memory");
    REPORT("rep stosq 96k", Fnv1a(big_dst, sizeof big_dst));
    // Element by element, many thousands of iterations (a VMM may stop and
    // resume such an instruction between iterations).
    s = big_src;
    c = 99000;
    uint64_t a = 0;
    __asm__ volatile("rep lodsb" : "+S"(s), "+c"(c), "+a"(a) : : "memory");
    REPORT("rep lodsb 99k", Mix(Mix((uint64_t)((const uint8_t*)s - big_src), c), a));
    memcpy(big_dst, big_src, sizeof big_dst);
    big_dst[77777] ^= 1;
    s = big_src;
    d = big_dst;
    c = 100000;
    uint64_t fl = 0;
    __asm__ volatile("repe cmpsb\n\tpushfq\n\tpopq %[fl]" : "+S"(s), "+D"(d), "+c"(c), [fl] "=r"(fl) : : "memory", "cc");
    REPORT("repe cmpsb 77k", Mix(Mix((uint64_t)((const uint8_t*)s - big_src), c), fl & FLAGS_MASK_DF));
  }
  // 32-bit address size: esi/edi/ecx, upper halves ignored. The buffers sit
  // below 4 GiB in both builds (non-PIE .bss, guest RAM).
  Reset();
  {
    uint64_t s = (uint64_t)(uintptr_t)(src + MID) | 0xdead000000000000ull;
    uint64_t d = (uint64_t)(uintptr_t)(dst + MID) | 0xbeef000000000000ull;
    uint64_t c = 0x5555000000000000ull | 40;
    __asm__ volatile("addr32 rep movsb" : "+S"(s), "+D"(d), "+c"(c) : : "memory");
    guest_printf("addr32 rep movsb: si%+ld di%+ld cx=%lx mem=%016lx\n", (long)(s - (uintptr_t)(src + MID)),
                 (long)(d - (uintptr_t)(dst + MID)), c, Fnv1a(dst, SIZE));
    d = (uint64_t)(uintptr_t)(dst + 100);
    __asm__ volatile("addr32 stosl" : "+D"(d) : "a"(0xfeedface) : "memory");
    guest_printf("addr32 stosl: di%+ld mem=%016lx\n", (long)(d - (uintptr_t)(dst + 100)), Fnv1a(dst, SIZE));
  }
  // Segment prefix on the source (ignored in 64-bit mode for cs/ds/es/ss).
  Reset();
  STRING_CASE("rep movsb cs-source", "cld", "rep movsb %%cs:(%%rsi), %%es:(%%rdi)", src, dst, 50, 0, dst);
  Reset();
  STRING_CASE("rep cmpsb ss-source", "cld", "repe cmpsb %%es:(%%rdi), %%ss:(%%rsi)", src, src, 50, 0, dst);
}

static void Xlat(void) {
  static uint8_t table[256] ASM_VISIBLE;
  for (int i = 0; i < 256; i++) table[i] = (uint8_t)(255 - i * 3);
  uint64_t h = 0;
  for (uint64_t i = 0; i < 300; i += 7) {
    uint64_t a = 0xabcdef0000000000ull | i;  // only al indexes; the rest stays
    __asm__ volatile("xlatb" : "+a"(a) : "b"(table) : "memory");
    h = Mix(h, a);
  }
  REPORT("xlatb", h);
}

// rep movs / rep stos followed by code that overwrites every flag (as in
// memcpy and memset), which a translator may run natively on host memory:
// sizes from 0 to a whole page, ranges inside one page and across pages,
// unaligned elements of every size, and DF set.
static void DeadFlagRuns(void) {
  static const struct {
    int32_t s, d;   // offsets into src and dst
    uint64_t count;
  } kRuns[] = {{0, 0, 0}, {0, 0, 1}, {5, 9, 7}, {100, 300, 301}, {0, 0, 4096}, {4000, 4000, 301},
               {3, 4093, 64}, {4095, 1, 2}, {0, 0, 4097}, {17, 33, 4096 - 33}};
  uint64_t h = 0;
  for (unsigned k = 0; k < sizeof kRuns / sizeof kRuns[0]; k++) {
    for (int form = 0; form < 10; form++) {
      static const uint8_t kElement[] = {1, 8, 1, 8, 1, 1, 2, 4, 2, 4};
      Reset();
      const uint8_t* s = src + kRuns[k].s;
      uint8_t* d = dst + kRuns[k].d;
      uint64_t c = kRuns[k].count / kElement[form], a = 0x0123456789abcdefull, fl = 0;
      switch (form) {
        case 0: __asm__ volatile("rep movsb\n\tcmp $0, %%rsp" : "+S"(s), "+D"(d), "+c"(c) : : "memory", "cc"); break;
        case 1: __asm__ volatile("rep movsq\n\tcmp $0, %%rsp" : "+S"(s), "+D"(d), "+c"(c) : : "memory", "cc"); break;
        case 2: __asm__ volatile("rep stosb\n\tcmp $0, %%rsp" : "+D"(d), "+c"(c) : "a"(a) : "memory", "cc"); break;
        case 3: __asm__ volatile("rep stosq\n\tcmp $0, %%rsp" : "+D"(d), "+c"(c) : "a"(a) : "memory", "cc"); break;
        case 4:  // backwards
          d += kRuns[k].count ? kRuns[k].count - 1 : 0;
          s += kRuns[k].count ? kRuns[k].count - 1 : 0;
          __asm__ volatile("std\n\trep movsb\n\tcmp $0, %%rsp\n\tcld" : "+S"(s), "+D"(d), "+c"(c) : : "memory", "cc");
          break;
        case 5:  // then the flags are read: kept
          __asm__ volatile("test %%rcx, %%rcx\n\trep stosb\n\tpushfq\n\tpopq %[fl]"
                           : "+D"(d), "+c"(c), [fl] "=r"(fl) : "a"(a) : "memory", "cc");
          break;
        case 6: __asm__ volatile("rep movsw\n\tcmp $0, %%rsp" : "+S"(s), "+D"(d), "+c"(c) : : "memory", "cc"); break;
        case 7: __asm__ volatile("rep movsl\n\tcmp $0, %%rsp" : "+S"(s), "+D"(d), "+c"(c) : : "memory", "cc"); break;
        case 8: __asm__ volatile("rep stosw\n\tcmp $0, %%rsp" : "+D"(d), "+c"(c) : "a"(a) : "memory", "cc"); break;
        default: __asm__ volatile("rep stosl\n\tcmp $0, %%rsp" : "+D"(d), "+c"(c) : "a"(a) : "memory", "cc"); break;
      }
      h = Mix(Mix(Mix(Mix(Mix(h, (uint64_t)(s - src)), (uint64_t)(d - dst)), c), fl & FLAGS_MASK_DF), Fnv1a(dst, SIZE));
    }
  }
  REPORT("dead-flag-runs", h);
}

// A struct's fields stored and read through one base register before and
// after a rep stos or movs in the same straight-line code (as when a
// constructor clears an array member): a translator checking those fields
// once holds a register across the string instruction while the string
// instruction needs registers of its own. (Out of line, so that few other
// registers are live around it.)
typedef struct {
  uint64_t head, count;
  uint8_t body[256];
  uint64_t tail;
} Record;

static __attribute__((noinline)) uint64_t FieldsAroundStringOnce(Record* rec, uint64_t n, const uint8_t* s) {
  uint8_t* d = rec->body + 3;
  uint64_t c = n, out = 0;
  __asm__ volatile(
      "movq %[c], 8(%[p])\n\t"
      "movq $0x1111, (%[p])\n\t"
      "rep stosq\n\t"
      "movq 8(%[p]), %[o]\n\t"
      "addq (%[p]), %[o]\n\t"
      "movq %[o], 264(%[p])\n\t"
      "movq %[o], %%rcx\n\t"
      "andq $7, %%rcx\n\t"
      "rep movsb\n\t"
      "addq %%rcx, 8(%[p])\n\t"
      "addq 264(%[p]), %[o]"
      : "+D"(d), "+c"(c), "+S"(s), [o] "+&r"(out)
      : [p] "b"(rec), "a"(0x0102030405060708ull), [c] "r"(n)
      : "memory", "cc");
  return out + (uint64_t)(d - rec->body) * 3 + (uint64_t)s;
}

static void FieldsAroundString(void) {
  static Record rec ALIGNED(64);
  uint64_t h = 0;
  for (uint64_t n = 0; n <= 32; n += 8) {
    memset(&rec, 0x5a, sizeof rec);
    const uint64_t out = FieldsAroundStringOnce(&rec, n, src + 11);
    h = Mix(Mix(h, out - (uint64_t)src), Fnv1a((const uint8_t*)&rec, sizeof rec));
  }
  REPORT("fields-around-string", h);
}

// Downward moves and stores, as the kernel's memmove does for an overlapping
// copy to a higher address (std; rep movsq): long ones cross many pages, with
// elements that straddle a page boundary when misaligned, and overlaps both
// ways (the destination below the source replicates, as element by element).
static void DownwardRuns(void) {
  static uint8_t buf[3 * 16384] ALIGNED(4096);
  static const struct {
    const char* name;
    const char* insn;
    long src, dst;  // offsets of the first (highest) element in buf
    uint64_t count;
  } kCases[] = {
      {"rep movsq df1 long overlap+24", "rep movsq", 40000, 40024, 4500},
      {"rep movsq df1 long misaligned", "rep movsq", 40003, 20001, 2400},
      {"rep movsq df1 overlap-8", "rep movsq", 30008, 30000, 900},
      {"rep movsq df1 overlap-5", "rep movsq", 30005, 30000, 900},
      {"rep movsl df1 overlap-6", "rep movsl", 12294, 12288, 3000},
      {"rep movsw df1 overlap+1", "rep movsw", 9000, 9001, 4000},
      {"rep movsb df1 page-bounded", "rep movsb", 16383, 36864, 9000},
      {"rep stosq df1 long misaligned", "rep stosq", 0, 45003, 5000},
      {"rep stosw df1 straddling", "rep stosw", 0, 8191, 3000},
  };
  for (unsigned i = 0; i < sizeof kCases / sizeof kCases[0]; i++) {
    FillRandom(buf, sizeof buf, 0xd0d0 + i);
    const uint8_t* s = buf + kCases[i].src;
    uint8_t* d = buf + kCases[i].dst;
    uint64_t c = kCases[i].count, a = 0x1122334455667788ull;
    if (kCases[i].insn[4] == 'm') {
      if (kCases[i].insn[8] == 'q')
        __asm__ volatile("std\n\trep movsq\n\tcld" : "+S"(s), "+D"(d), "+c"(c) : : "memory");
      else if (kCases[i].insn[8] == 'l')
        __asm__ volatile("std\n\trep movsl\n\tcld" : "+S"(s), "+D"(d), "+c"(c) : : "memory");
      else if (kCases[i].insn[8] == 'w')
        __asm__ volatile("std\n\trep movsw\n\tcld" : "+S"(s), "+D"(d), "+c"(c) : : "memory");
      else
        __asm__ volatile("std\n\trep movsb\n\tcld" : "+S"(s), "+D"(d), "+c"(c) : : "memory");
    } else if (kCases[i].insn[8] == 'q') {
      __asm__ volatile("std\n\trep stosq\n\tcld" : "+D"(d), "+c"(c) : "a"(a) : "memory");
    } else {
      __asm__ volatile("std\n\trep stosw\n\tcld" : "+D"(d), "+c"(c) : "a"(a) : "memory");
    }
    guest_printf("%s: si%+ld di%+ld cx=%lu mem=%016lx\n", kCases[i].name, (long)(s - (buf + kCases[i].src)),
                 (long)(d - (buf + kCases[i].dst)), c, Fnv1a(buf, sizeof buf));
  }
}

int main(void) {
  FillRandom(initial, SIZE, 0x5eed);
  DeadFlagRuns();
  FieldsAroundString();
  MOVE_CASES("cld", "df0");
  MOVE_CASES("std", "df1");
  STORE_LOAD_CASES("cld", "df0");
  STORE_LOAD_CASES("std", "df1");
  COMPARE_CASES("cld", "df0");
  COMPARE_CASES("std", "df1");
  ZeroCount();
  Special();
  DownwardRuns();
  Xlat();
  return 0;
}
