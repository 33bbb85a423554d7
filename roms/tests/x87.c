// x87.c — the x87 FPU: 80-bit arithmetic, transcendental instructions,
// every memory operand size (m16/m32/m64 integers, m32/m64/m80 reals, m80
// BCD), rounding and precision control, compares into EFLAGS and into the
// status word, fnstenv/fldenv, fnsave/frstor, fxsave/fxrstor, and MMX.
// Only the architecturally defined bytes are compared: the 10 bytes of a long
// double (not its padding) and FCW/FSW/FTW/registers of saved environments
// (not the last-instruction pointers, which hold addresses).
#include "check.h"

static uint64_t HashLd(uint64_t h, long double x) { return Mix(h, Fnv1a(&x, 10)); }

static void Arithmetic(void) {
  uint64_t h = 0;
  long double a = 1.0L, b = 3.0L;
  for (int i = 1; i < 200; i++) {
    a = a * 1.000001L + b / (long double)i;
    b = b - a / 1024.0L;
    h = HashLd(HashLd(h, a), b);
  }
  // Harmonic series and a sqrt/ratio chain, in extended precision.
  long double s = 0;
  for (int i = 1; i <= 10000; i++) s += 1.0L / i;
  h = HashLd(h, s);
  REPORT("long-double-arith", h);
  // The integer part printed, as a human check.
  guest_printf("harmonic-10000-x1e15: %ld\n", (long)(s * 1e15L));
}

#define X87_UNARY(h, insn, x)                                               \
  do {                                                                      \
    long double r;                                                          \
    __asm__ volatile("fldt %1\n\t" insn "\n\tfstpt %0" : "=m"(r) : "m"(x)); \
    h = HashLd(h, r);                                                       \
  } while (0)

#define X87_BINARY(h, insn, x, y)                                                              \
  do {                                                                                         \
    long double r;                                                                             \
    __asm__ volatile("fldt %2\n\tfldt %1\n\t" insn "\n\tfstpt %0\n\tfstp %%st(0)" : "=m"(r) : "m"(x), "m"(y)); \
    h = HashLd(h, r);                                                                          \
  } while (0)

static void Transcendental(void) {
  static const long double inputs[] = {0.0L, 0.5L, -0.75L, 1.0L, 3.14159265358979323846L, 100.25L, -1e-5L, 0.125L};
  uint64_t h = 0;
  for (int i = 0; i < 8; i++) {
    long double x = inputs[i], y = inputs[(i + 3) % 8] + 2.0L;
    X87_UNARY(h, "fsin", x);
    X87_UNARY(h, "fcos", x);
    X87_UNARY(h, "fsincos\n\tfaddp", x);
    X87_UNARY(h, "fptan\n\tfstp %%st(0)", x);
    X87_UNARY(h, "fabs\n\tfsqrt", x);
    X87_UNARY(h, "f2xm1", x);
    X87_UNARY(h, "frndint", x);
    X87_UNARY(h, "fxtract\n\tfaddp", y);
    X87_UNARY(h, "fchs\n\tfabs\n\tfchs", x);
    X87_BINARY(h, "fpatan", x, y);          // atan(st1 / st0)
    X87_BINARY(h, "fyl2x", x, y);           // st1 * log2(st0)
    X87_BINARY(h, "fyl2xp1", y, x);
    X87_BINARY(h, "fscale", x, y);
    X87_BINARY(h, "fprem", y, x);
    X87_BINARY(h, "fprem1", y, x);
  }
  // Constants.
  long double c[7];
  __asm__ volatile(
      "fldpi\n\tfstpt 0(%0)\n\tfldl2e\n\tfstpt 16(%0)\n\tfldl2t\n\tfstpt 32(%0)\n\t"
      "fldlg2\n\tfstpt 48(%0)\n\tfldln2\n\tfstpt 64(%0)\n\tfld1\n\tfstpt 80(%0)\n\tfldz\n\tfstpt 96(%0)"
      :
      : "r"(c)
      : "memory");
  for (int i = 0; i < 7; i++) h = HashLd(h, c[i]);
  REPORT("x87-transcendental", h);
}

static void MemoryOperands(void) {
  static uint8_t mem[256] ALIGNED(16);
  memset(mem, 0, sizeof mem);
  long double x = -12345.678L;
  int16_t i16 = -300;
  int32_t i32 = 123456789;
  int64_t i64 = -9876543210123ll;
  float f32 = 0.1f;
  double f64 = 2.718281828459045;
  __asm__ volatile(
      "fldt %[x]\n\t"
      "fsts 0(%[m])\n\t"            // m32 real
      "fstl 4(%[m])\n\t"            // m64 real
      "fld %%st(0)\n\t"
      "fstpt 12(%[m])\n\t"          // m80 real
      "fists 22(%[m])\n\t"          // m16 int
      "fistl 24(%[m])\n\t"          // m32 int
      "fld %%st(0)\n\t"
      "fistpll 28(%[m])\n\t"        // m64 int
      "fld %%st(0)\n\t"
      "fisttpl 36(%[m])\n\t"        // truncating m32
      "fbstp 40(%[m])\n\t"          // m80 BCD
      "fbld 40(%[m])\n\t"
      "fiadds %[i16]\n\t"
      "fimull %[i32]\n\t"
      "fisubrl %[i32]\n\t"
      "fildll %[i64]\n\t"
      "faddp\n\t"
      "fadds %[f32]\n\t"
      "fdivl %[f64]\n\t"
      "fsubrs %[f32]\n\t"
      "fmull %[f64]\n\t"
      "fstpt 64(%[m])\n\t"
      "filds %[i16]\n\t"
      "fidivrs %[i16]\n\t"
      "fildl %[i32]\n\t"
      "fidivl %[i32]\n\t"
      "faddp\n\t"
      "fstpl 80(%[m])\n\t"
      "flds 0(%[m])\n\t"
      "fldl 4(%[m])\n\t"
      "fsubp\n\t"
      "fstps 88(%[m])\n\t"
      :
      : [x] "m"(x), [m] "r"(mem), [i16] "m"(i16), [i32] "m"(i32), [i64] "m"(i64), [f32] "m"(f32), [f64] "m"(f64)
      : "memory");
  REPORT_HASH("x87-memory-operands", mem, 96);
}

static void ControlAndCompare(void) {
  uint64_t h = 0;
  // Rounding control (bits 11:10) and precision control (bits 9:8).
  for (int rc = 0; rc < 4; rc++) {
    for (int pc = 0; pc < 4; pc++) {
      if (pc == 1) continue;  // reserved
      uint16_t cw = (uint16_t)(0x037f & ~0x0f00) | (uint16_t)(rc << 10 | pc << 8), old;
      long double r;
      int64_t n;
      long double x = 2.5L, y = 3.0L;
      __asm__ volatile(
          "fnstcw %[old]\n\t"
          "fldcw %[cw]\n\t"
          "fldt %[x]\n\t"
          "fldt %[y]\n\t"
          "fdivrp\n\t"               // 2.5 / 3 rounded per pc/rc
          "fldt %[x]\n\t"
          "frndint\n\t"
          "faddp\n\t"
          "fld %%st(0)\n\t"
          "fistpll %[n]\n\t"
          "fstpt %[r]\n\t"
          "fldcw %[old]\n\t"
          : [r] "=m"(r), [n] "=m"(n), [old] "=m"(old)
          : [cw] "m"(cw), [x] "m"(x), [y] "m"(y));
      h = Mix(HashLd(h, r), (uint64_t)n);
    }
  }
  REPORT("x87-rounding-precision", h);

  // fcomi/fucomi into EFLAGS, fcmov, fcom + fnstsw, ftst, fxam.
  static const long double vals[] = {-1.0L, 0.0L, 1.0L, 2.0L};
  long double nan = __builtin_nanl("");
  h = 0;
  for (int i = 0; i < 5; i++) {
    for (int j = 0; j < 5; j++) {
      long double a = i < 4 ? vals[i] : nan, b = j < 4 ? vals[j] : nan;
      uint64_t fl1, fl2;
      uint16_t sw1, sw2, sw3;
      long double sel;
      __asm__ volatile(
          "fldt %[b]\n\t"
          "fldt %[a]\n\t"
          "fucomi %%st(1), %%st\n\t"
          "pushfq\n\tpopq %[fl1]\n\t"
          "fcmovb %%st(1), %%st\n\t"
          "fcomi %%st(1), %%st\n\t"
          "pushfq\n\tpopq %[fl2]\n\t"
          "fucom %%st(1)\n\t"
          "fnstsw %%ax\n\t"
          "movw %%ax, %[sw1]\n\t"
          "ftst\n\t"
          "fnstsw %[sw2]\n\t"
          "fxam\n\t"
          "fnstsw %[sw3]\n\t"
          "fstpt %[sel]\n\t"
          "fstp %%st(0)\n\t"
          "fnclex\n\t"
          : [fl1] "=&r"(fl1), [fl2] "=&r"(fl2), [sw1] "=m"(sw1), [sw2] "=m"(sw2), [sw3] "=m"(sw3), [sel] "=m"(sel)
          : [a] "m"(a), [b] "m"(b)
          : "rax", "cc");
      h = Mix(Mix(Mix(Mix(Mix(HashLd(h, sel), fl1 & FLAGS_MASK), fl2 & FLAGS_MASK), sw1 & 0x4700), sw2 & 0x4700),
              sw3 & 0x4700);
    }
  }
  REPORT("x87-compare", h);

  // Exceptions (masked): their sticky flags in the status word.
  uint16_t sw;
  long double zero = 0.0L, one = 1.0L, res;
  __asm__ volatile("fnclex\n\tfldt %2\n\tfldt %3\n\tfdivp\n\tfstpt %1\n\tfnstsw %0\n\tfnclex"
                   : "=m"(sw), "=m"(res)
                   : "m"(zero), "m"(one));
  guest_printf("x87-divide-by-zero-sw: %04x\n", sw & 0x3fff);
  REPORT("x87-divide-by-zero-result", HashLd(0, res));
}

// fnstenv/fldenv and fnsave/frstor: the state goes out, comes back, and the
// registers survive.
static void SaveRestore(void) {
  uint8_t env[28];
  uint8_t save[108];
  memset(env, 0, sizeof env);
  memset(save, 0, sizeof save);
  long double out[3];
  uint16_t cw_after;
  __asm__ volatile(
      "fninit\n\t"
      "fld1\n\t"
      "fldpi\n\t"
      "fldl2e\n\t"                 // 3 registers in use: TOP = 5
      "fnstenv (%[env])\n\t"       // also masks all exceptions
      "fldenv (%[env])\n\t"
      "fnsave (%[save])\n\t"       // reinitialises the FPU
      "fldz\n\t"
      "fstp %%st(0)\n\t"
      "frstor (%[save])\n\t"
      "fstpt 0(%[out])\n\t"
      "fstpt 16(%[out])\n\t"
      "fstpt 32(%[out])\n\t"
      "fnstcw %[cw]\n\t"
      "fninit\n\t"
      : [cw] "=m"(cw_after)
      : [env] "r"(env), [save] "r"(save), [out] "r"(out)
      : "memory");
  uint16_t fcw = *(uint16_t*)env, fsw = *(uint16_t*)(env + 4), ftw = *(uint16_t*)(env + 8);
  guest_printf("fnstenv-fcw-fsw-ftw: %04x %04x %04x\n", fcw, fsw, ftw);
  uint64_t h = Mix(Mix(Mix(fcw, fsw), ftw), cw_after);
  h = Mix(h, Fnv1a(save + 28, 80));  // the 8 registers, 10 bytes each, after the 28-byte environment
  for (int i = 0; i < 3; i++) h = HashLd(h, out[i]);
  REPORT("fnsave-frstor", h);
}

static void Fxsave(void) {
  static uint8_t area[512] ALIGNED(16);
  static uint8_t area2[512] ALIGNED(16);
  memset(area, 0, sizeof area);
  memset(area2, 0, sizeof area2);
  __asm__ volatile(
      "fninit\n\t"
      "fld1\n\t"
      "fldln2\n\t"
      "vpcmpeqd %%xmm3, %%xmm3, %%xmm3\n\t"
      "movl $0x12345678, %%eax\n\t"
      "movd %%eax, %%xmm11\n\t"
      "fxsave64 (%0)\n\t"
      "fninit\n\t"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n\t"
      "vpxor %%xmm11, %%xmm11, %%xmm11\n\t"
      "fxrstor64 (%0)\n\t"
      "fxsave64 (%1)\n\t"
      "fninit\n\t"
      :
      : "r"(area), "r"(area2)
      : "rax", "memory", "xmm3", "xmm11");
  // FCW, FSW, abridged FTW, MXCSR, the ST registers (10 bytes each), XMM3 and XMM11.
  uint64_t h = 0;
  for (int k = 0; k < 2; k++) {
    const uint8_t* a = k ? area2 : area;
    h = Mix(h, *(const uint16_t*)a);
    h = Mix(h, *(const uint16_t*)(a + 2));
    h = Mix(h, a[4]);
    h = Mix(h, *(const uint32_t*)(a + 24));
    for (int r = 0; r < 8; r++) h = Mix(h, Fnv1a(a + 32 + 16 * r, 10));
    h = Mix(h, Fnv1a(a + 160 + 3 * 16, 16));
    h = Mix(h, Fnv1a(a + 160 + 11 * 16, 16));
  }
  guest_printf("fxsave-fcw-fsw-ftw-mxcsr: %04x %04x %02x %08x\n", *(uint16_t*)area, *(uint16_t*)(area + 2), area[4],
               *(uint32_t*)(area + 24));
  REPORT("fxsave-fxrstor", h);
}

static void Mmx(void) {
  uint64_t a = 0x0102030405060708ull, b = 0x7f80ff0011223344ull, r[6];
  __asm__ volatile(
      "movq %[a], %%mm0\n\t"
      "movq %[b], %%mm1\n\t"
      "movq %%mm0, %%mm2\n\t"
      "paddb %%mm1, %%mm2\n\t"
      "movq %%mm2, 0(%[r])\n\t"
      "movq %%mm0, %%mm3\n\t"
      "pmaddwd %%mm1, %%mm3\n\t"
      "movq %%mm3, 8(%[r])\n\t"
      "movq %%mm1, %%mm4\n\t"
      "psubusb %%mm0, %%mm4\n\t"
      "movq %%mm4, 16(%[r])\n\t"
      "pshufw $0x1b, %%mm1, %%mm5\n\t"
      "movq %%mm5, 24(%[r])\n\t"
      "paddw 0(%[r]), %%mm5\n\t"       // memory operand
      "movq %%mm5, 32(%[r])\n\t"
      "punpcklbw %%mm1, %%mm0\n\t"
      "movq %%mm0, 40(%[r])\n\t"
      "emms\n\t"
      :
      : [a] "r"(a), [b] "r"(b), [r] "r"(r)
      : "memory", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5");
  REPORT_HASH("mmx", r, sizeof r);
}

int main(void) {
  Arithmetic();
  Transcendental();
  MemoryOperands();
  ControlAndCompare();
  SaveRestore();
  Fxsave();
  Mmx();
  return 0;
}
