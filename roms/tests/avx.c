// avx.c — VEX encodings: AVX float ops on ymm, AVX2 integer ops, permutes,
// variable shifts, every AVX2 gather (with masks, scales and negative
// indices: VSIB operands the translator cannot re-encode as [scratch]), FMA,
// F16C, vzeroupper/vzeroall, and the upper-half rules: a VEX.128 op zeroes
// bits 255:128 while a legacy SSE op keeps them.
#include <immintrin.h>

#include "check.h"

#define N 64
static float fa[N] ALIGNED(32), fb[N] ALIGNED(32), fc[N] ALIGNED(32);
static double da[N] ALIGNED(32), db[N] ALIGNED(32), dc[N] ALIGNED(32);
static uint8_t ia[N * 4] ALIGNED(32), ib[N * 4] ALIGNED(32);
static int32_t table32[1024] ALIGNED(32);
static int64_t table64[1024] ALIGNED(32);

static void MakeInputs(void) {
  static const float fspecial[] = {0.0f, -0.0f, 1.0f, -1.5f, __builtin_inff(), -__builtin_inff(), __builtin_nanf(""),
                                   1e-40f, -3e-39f, 3.4e38f, 1e-7f, 65504.0f, 0.1f, 123456.789f, -2.0f, 0.5f};
  Rng r = {1234};
  for (int i = 0; i < N; i++) {
    uint64_t x = RngNext(&r);
    fa[i] = i < 16 ? fspecial[i] : (float)(int64_t)x / 1e15f;
    fb[i] = i < 16 ? fspecial[(i * 7 + 3) % 16] : (float)(int32_t)(x >> 32) / 1e5f;
    fc[i] = (float)(int16_t)(x >> 20) / 7.0f;
    da[i] = (double)(int64_t)x / 1e12;
    db[i] = (double)(int32_t)(x >> 16) / 3.0;
    dc[i] = i < 8 ? fspecial[i] : (double)(int16_t)x / 1e3;
  }
  FillRandom(ia, sizeof ia, 15);
  FillRandom(ib, sizeof ib, 16);
  for (int i = 0; i < 1024; i++) {
    table32[i] = (int32_t)(i * 2654435761u);
    table64[i] = (int64_t)i * -0x123456789ll;
  }
}

#define HASH_VEC(h, v) h = Mix(h, Fnv1a(&(v), sizeof(v)))

static void AvxFloat(void) {
  uint64_t h = 0;
  for (int i = 0; i < N; i += 8) {
    __m256 a = _mm256_load_ps(fa + i), b = _mm256_load_ps(fb + i);
    __m256 r[14] = {_mm256_add_ps(a, b),        _mm256_mul_ps(a, b),         _mm256_div_ps(a, b),
                    _mm256_sqrt_ps(a),          _mm256_max_ps(a, b),         _mm256_rcp_ps(b),
                    _mm256_addsub_ps(a, b),     _mm256_hadd_ps(a, b),        _mm256_dp_ps(a, b, 0xff),
                    _mm256_round_ps(a, 1),      _mm256_blendv_ps(a, b, a),   _mm256_permute_ps(a, 0x39),
                    _mm256_permute2f128_ps(a, b, 0x21), _mm256_cmp_ps(a, b, _CMP_NGE_UQ)};
    HASH_VEC(h, r);
    __m256d c = _mm256_load_pd(da + i), d = _mm256_load_pd(db + i);
    __m256d s[6] = {_mm256_add_pd(c, d), _mm256_div_pd(c, d), _mm256_sqrt_pd(c), _mm256_permute4x64_pd(c, 0x8d),
                    _mm256_cmp_pd(c, d, _CMP_LT_OQ), _mm256_cvtps_pd(_mm256_castps256_ps128(a))};
    HASH_VEC(h, s);
    __m256i ci = _mm256_cvttps_epi32(b);
    __m128 nar = _mm256_cvtpd_ps(c);
    HASH_VEC(h, ci);
    HASH_VEC(h, nar);
    h = Mix(h, (uint64_t)_mm256_movemask_ps(a) | (uint64_t)_mm256_testz_ps(a, b) << 8 |
                   (uint64_t)_mm256_testc_pd(c, d) << 9);
    // 128-bit VEX forms with three operands.
    __m128 x = _mm_fmadd_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(b, 1), _mm_set1_ps(1.0f));
    HASH_VEC(h, x);
  }
  REPORT("avx-float", h);
}

static void Avx2Integer(void) {
  uint64_t h = 0;
  for (int i = 0; i < N * 4; i += 32) {
    __m256i a = _mm256_load_si256((const __m256i*)(ia + i)), b = _mm256_load_si256((const __m256i*)(ib + i));
    __m256i r[32] = {
        _mm256_add_epi8(a, b),       _mm256_sub_epi16(a, b),         _mm256_mullo_epi32(a, b),
        _mm256_mul_epu32(a, b),      _mm256_madd_epi16(a, b),        _mm256_maddubs_epi16(a, b),
        _mm256_sad_epu8(a, b),       _mm256_mpsadbw_epu8(a, b, 0x2d), _mm256_shuffle_epi8(a, b),
        _mm256_alignr_epi8(a, b, 7), _mm256_packus_epi16(a, b),      _mm256_packs_epi32(a, b),
        _mm256_unpacklo_epi8(a, b),  _mm256_unpackhi_epi32(a, b),    _mm256_permutevar8x32_epi32(a, b),
        _mm256_permute4x64_epi64(a, 0x72), _mm256_permute2x128_si256(a, b, 0x13), _mm256_shuffle_epi32(a, 0x4e),
        _mm256_sllv_epi32(a, _mm256_and_si256(b, _mm256_set1_epi32(63))),
        _mm256_srlv_epi64(a, _mm256_and_si256(b, _mm256_set1_epi64x(127))),
        _mm256_srav_epi32(b, _mm256_and_si256(a, _mm256_set1_epi32(31))),
        _mm256_slli_si256(a, 3),     _mm256_srai_epi16(b, 4),        _mm256_cmpgt_epi64(a, b),
        _mm256_blendv_epi8(a, b, a), _mm256_blend_epi32(a, b, 0x96), _mm256_min_epi8(a, b),
        _mm256_max_epu16(a, b),      _mm256_abs_epi32(b),            _mm256_sign_epi8(a, b),
        _mm256_cvtepi8_epi64(_mm256_castsi256_si128(a)), _mm256_broadcastb_epi8(_mm256_castsi256_si128(b))};
    HASH_VEC(h, r);
    h = Mix(h, (uint64_t)(uint32_t)_mm256_movemask_epi8(a) | (uint64_t)_mm256_testc_si256(a, b) << 32 |
                   (uint64_t)(uint32_t)_mm256_extract_epi32(b, 6) << 33);
    __m128i lo = _mm256_extracti128_si256(a, 1);
    __m256i ins = _mm256_inserti128_si256(b, lo, 0);
    HASH_VEC(h, ins);
  }
  REPORT("avx2-integer", h);
}

// Every gather: 32- and 64-bit indices, 32- and 64-bit elements, integer and
// float, all-ones and partial masks (masked-off lanes keep the source
// register), scales 1/2/4/8, negative indices relative to a middle base.
static void Gathers(void) {
  uint64_t h = 0;
  const int32_t* mid32 = table32 + 512;
  const int64_t* mid64 = table64 + 512;
  for (int i = 0; i < 16; i++) {
    __m256i vi = _mm256_set_epi32(-7 * i, 3 * i, -500, 511, i, -i, 100 - i, -(i * 31));
    __m128i vi4 = _mm_set_epi32(5 * i, -3 * i, 255, -256);
    __m256i vq = _mm256_set_epi64x(-i * 9, i * 11, -512, 400);
    __m128i vq2 = _mm_set_epi64x(-i, i * 3);
    __m256i mask = _mm256_set_epi32(-1, 0, -1, -1, 0, -1, i & 1 ? -1 : 0, -1);
    __m256i src = _mm256_set1_epi32(0x5a5a5a5a);
    __m256i g[8] = {
        _mm256_i32gather_epi32(mid32, vi, 4),
        _mm256_mask_i32gather_epi32(src, mid32, vi, mask, 4),
        _mm256_i32gather_epi64((const long long*)mid64, vi4, 8),
        _mm256_mask_i32gather_epi64(src, (const long long*)mid64, vi4, _mm256_set_epi64x(0, -1, -1, 0), 8),
        _mm256_i64gather_epi64((const long long*)mid64, vq, 8),
        _mm256_castsi128_si256(_mm256_i64gather_epi32(mid32, vq, 4)),
        _mm256_i32gather_epi32((const int*)((const uint8_t*)mid32 + 1), vi, 1),  // scale 1, unaligned
        _mm256_i32gather_epi32((const int*)mid32, _mm256_srai_epi32(vi, 1), 2)};  // scale 2
    HASH_VEC(h, g);
    __m256 gf[2] = {_mm256_i32gather_ps((const float*)mid32, vi, 4),
                    _mm256_mask_i32gather_ps(_mm256_set1_ps(1.0f), (const float*)mid32, vi,
                                             _mm256_castsi256_ps(mask), 4)};
    __m256d gd[2] = {_mm256_i64gather_pd((const double*)mid64, vq, 8),
                     _mm256_i32gather_pd((const double*)mid64, vi4, 8)};
    __m128i g128[3] = {_mm_i32gather_epi32(mid32, vi4, 4), _mm_i64gather_epi64((const long long*)mid64, vq2, 8),
                       _mm_mask_i64gather_epi32(_mm_set1_epi32(9), mid32, vq2, _mm_set_epi32(0, 0, -1, 0), 4)};
    __m128 g128f = _mm256_i64gather_ps((const float*)mid32, vq, 4);
    HASH_VEC(h, gf);
    HASH_VEC(h, gd);
    HASH_VEC(h, g128);
    HASH_VEC(h, g128f);
  }
  // The mask register is cleared by a completed gather: check it too.
  __m256i m = _mm256_set1_epi32(-1), dst = _mm256_setzero_si256();
  __m256i idx = _mm256_set_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __asm__ volatile("vpgatherdd %1, (%3,%2,4), %0" : "+x"(dst), "+x"(m) : "x"(idx), "r"(table32) : "memory");
  HASH_VEC(h, dst);
  HASH_VEC(h, m);
  REPORT("avx2-gathers", h);
}

static void Fma(void) {
  uint64_t h = 0;
  for (int i = 0; i < N; i += 8) {
    __m256 a = _mm256_load_ps(fa + i), b = _mm256_load_ps(fb + i), c = _mm256_load_ps(fc + i);
    __m256 r[6] = {_mm256_fmadd_ps(a, b, c),  _mm256_fmsub_ps(a, b, c),    _mm256_fnmadd_ps(a, b, c),
                   _mm256_fnmsub_ps(a, b, c), _mm256_fmaddsub_ps(a, b, c), _mm256_fmsubadd_ps(a, b, c)};
    HASH_VEC(h, r);
    __m256d x = _mm256_load_pd(da + i), y = _mm256_load_pd(db + i), z = _mm256_load_pd(dc + i);
    __m256d s[3] = {_mm256_fmadd_pd(x, y, z), _mm256_fnmadd_pd(x, y, z), _mm256_fmsub_pd(x, y, z)};
    HASH_VEC(h, s);
    __m128d sd = _mm_fmadd_sd(_mm256_castpd256_pd128(x), _mm256_castpd256_pd128(y), _mm256_castpd256_pd128(z));
    __m128 ss = _mm_fnmadd_ss(_mm256_castps256_ps128(a), _mm256_castps256_ps128(b), _mm256_castps256_ps128(c));
    HASH_VEC(h, sd);
    HASH_VEC(h, ss);
  }
  // The three operand orders, one with a memory operand each.
  __m256 p = _mm256_load_ps(fa + 16), q = _mm256_load_ps(fb + 16), o = _mm256_load_ps(fc + 16);
  __m256 r132 = p, r213 = p, r231 = p;
  __asm__("vfmadd132ps %2, %1, %0" : "+x"(r132) : "x"(q), "m"(fc[16]));
  __asm__("vfmadd213ps %2, %1, %0" : "+x"(r213) : "x"(q), "m"(fc[24]));
  __asm__("vfmadd231ps %2, %1, %0" : "+x"(r231) : "x"(o), "m"(fb[32]));
  HASH_VEC(h, r132);
  HASH_VEC(h, r213);
  HASH_VEC(h, r231);
  REPORT("fma", h);
}

static void F16c(void) {
  uint64_t h = 0;
  static uint16_t halves[N] ALIGNED(32);
  for (int i = 0; i < N; i += 8) {
    __m256 a = _mm256_load_ps(fa + i);
    __m128i near = _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT);
    __m128i down = _mm256_cvtps_ph(a, _MM_FROUND_TO_NEG_INF);
    __m128i trunc = _mm256_cvtps_ph(_mm256_load_ps(fb + i), _MM_FROUND_TO_ZERO);
    __m128i cur = _mm256_cvtps_ph(a, _MM_FROUND_CUR_DIRECTION);
    _mm_store_si128((__m128i*)(halves + i), near);
    __m256 back = _mm256_cvtph_ps(down);
    HASH_VEC(h, near);
    HASH_VEC(h, down);
    HASH_VEC(h, trunc);
    HASH_VEC(h, cur);
    HASH_VEC(h, back);
  }
  // Memory forms: vcvtph2ps from memory, vcvtps2ph to memory.
  __m256 m;
  __asm__("vcvtph2ps 16(%1), %0" : "=x"(m) : "r"(halves) : "memory");
  HASH_VEC(h, m);
  __asm__("vcvtps2ph $3, %0, 48(%1)" : : "x"(m), "r"(halves) : "memory");
  REPORT("f16c", Mix(h, Fnv1a(halves, sizeof halves)));
}

// VEX.128 zeroes the upper half of the ymm register; legacy SSE keeps it;
// vzeroupper/vzeroall clear uppers / everything.
static void UpperHalves(void) {
  __m256i out[4];
  __m256i full = _mm256_set_epi64x(0x1111111111111111ll, 0x2222222222222222ll, 0x3333333333333333ll,
                                   0x4444444444444444ll);
  __asm__ volatile(
      "vmovdqa %[full], %%ymm8\n\t"
      "vpaddd %%xmm8, %%xmm8, %%xmm8\n\t"   // VEX.128: upper half becomes zero
      "vmovdqu %%ymm8, 0(%[o])\n\t"
      "vmovdqa %[full], %%ymm9\n\t"
      ".byte 0x66, 0x45, 0x0f, 0xfe, 0xc9\n\t"  // paddd %xmm9, %xmm9 (legacy SSE): upper half kept
      "vmovdqu %%ymm9, 32(%[o])\n\t"
      "vmovdqa %[full], %%ymm10\n\t"
      "vzeroupper\n\t"
      "vmovdqu %%ymm10, 64(%[o])\n\t"
      "vmovdqa %[full], %%ymm11\n\t"
      "vzeroall\n\t"
      "vmovdqu %%ymm11, 96(%[o])\n\t"
      :
      : [full] "m"(full), [o] "r"(out)
      : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15");
  REPORT_HASH("vex128-upper-halves", out, sizeof out);
  guest_printf("vex128-upper-halves-words: %016lx %016lx %016lx %016lx\n", (uint64_t)out[0][3], (uint64_t)out[1][3],
               (uint64_t)out[2][3], (uint64_t)out[3][0]);
}

int main(void) {
  MakeInputs();
  AvxFloat();
  Avx2Integer();
  Gathers();
  Fma();
  F16c();
  UpperHalves();
  return 0;
}
