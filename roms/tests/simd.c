// simd.c — SSE through SSE4.2, AES-NI and PCLMULQDQ in their legacy (non-VEX)
// encodings: this file is compiled with -mno-avx -maes -mpclmul (see
// roms/CMakeLists.txt), so every intrinsic becomes the SSE instruction (with
// its alignment rules and the implicit xmm0 of blendv/pcmpestr). Also MXCSR rounding modes, FTZ/DAZ and sticky flags.
// Floating-point inputs include NaNs, infinities, signed zeros and denormals.
#include <immintrin.h>

#include "check.h"

#ifdef __AVX__
#error "simd.c tests the legacy SSE encodings: build it with -mno-avx"
#endif

#define N 64
static float fa[N] ALIGNED(16), fb[N] ALIGNED(16);
static double da[N] ALIGNED(16), db[N] ALIGNED(16);
static uint8_t ia[N * 4] ALIGNED(16), ib[N * 4] ALIGNED(16);

static void MakeInputs(void) {
  static const float fspecial[] = {0.0f, -0.0f, 1.0f, -1.5f, __builtin_inff(), -__builtin_inff(), __builtin_nanf(""),
                                   1e-40f, -3e-39f, 3.4e38f, 1e-7f, 65504.0f, 0.1f, 123456.789f, -2.0f, 0.5f};
  static const double dspecial[] = {0.0, -0.0, 1.0, -1.5, __builtin_inf(), -__builtin_inf(), __builtin_nan(""),
                                    1e-310, -3e-320, 1.7e308, 1e-17, 0.1, 3.141592653589793, -2.0, 1e100, 0.5};
  Rng r = {77};
  for (int i = 0; i < N; i++) {
    uint64_t x = RngNext(&r);
    fa[i] = i < 16 ? fspecial[i] : (float)(int64_t)x / 1e15f;
    fb[i] = i < 16 ? fspecial[(i * 7 + 3) % 16] : (float)(int32_t)(x >> 32) / 1e5f;
    da[i] = i < 16 ? dspecial[i] : (double)(int64_t)x / 1e12;
    db[i] = i < 16 ? dspecial[(i * 5 + 1) % 16] : (double)(int32_t)(x >> 16) / 3.0;
  }
  FillRandom(ia, sizeof ia, 5);
  FillRandom(ib, sizeof ib, 6);
}

#define HASH_VEC(h, v) h = Mix(h, Fnv1a(&(v), sizeof(v)))

static void SseFloat(void) {
  uint64_t h = 0;
  for (int i = 0; i < N; i += 4) {
    __m128 a = _mm_load_ps(fa + i), b = _mm_load_ps(fb + i);
    __m128 r[16] = {_mm_add_ps(a, b),     _mm_sub_ps(a, b),      _mm_mul_ps(a, b),      _mm_div_ps(a, b),
                    _mm_sqrt_ps(a),       _mm_min_ps(a, b),      _mm_max_ps(a, b),      _mm_rcp_ps(b),
                    _mm_rsqrt_ps(a),      _mm_add_ss(a, b),      _mm_sqrt_ss(b),        _mm_shuffle_ps(a, b, 0x1b),
                    _mm_unpacklo_ps(a, b), _mm_unpackhi_ps(a, b), _mm_movehl_ps(a, b),   _mm_and_ps(a, b)};
    HASH_VEC(h, r);
    __m128 c[8] = {_mm_cmpeq_ps(a, b),  _mm_cmplt_ps(a, b),  _mm_cmple_ps(a, b),   _mm_cmpunord_ps(a, b),
                   _mm_cmpneq_ps(a, b), _mm_cmpnlt_ps(a, b), _mm_cmpnle_ps(a, b), _mm_cmpord_ps(a, b)};
    HASH_VEC(h, c);
    __m128i cv[3] = {_mm_cvtps_epi32(a), _mm_cvttps_epi32(b), _mm_castps_si128(_mm_cvtepi32_ps(_mm_cvttps_epi32(a)))};
    HASH_VEC(h, cv);
    h = Mix(h, (uint64_t)_mm_movemask_ps(a) | (uint64_t)_mm_comilt_ss(a, b) << 8 | (uint64_t)_mm_ucomieq_ss(a, b) << 9);
    h = Mix(h, (uint64_t)(int64_t)_mm_cvtss_si64(b) ^ (uint64_t)_mm_cvttss_si32(a));
  }
  REPORT("sse-float", h);
}

static void Sse2Double(void) {
  uint64_t h = 0;
  for (int i = 0; i < N; i += 2) {
    __m128d a = _mm_load_pd(da + i), b = _mm_load_pd(db + i);
    __m128d r[12] = {_mm_add_pd(a, b),  _mm_sub_pd(a, b),          _mm_mul_pd(a, b),         _mm_div_pd(a, b),
                     _mm_sqrt_pd(a),    _mm_min_pd(a, b),          _mm_max_pd(a, b),         _mm_cmplt_pd(a, b),
                     _mm_cmpunord_pd(a, b), _mm_shuffle_pd(a, b, 1), _mm_unpackhi_pd(a, b), _mm_sqrt_sd(a, b)};
    HASH_VEC(h, r);
    __m128 ps = _mm_cvtpd_ps(a);
    __m128d back = _mm_cvtps_pd(ps);
    __m128i ci[2] = {_mm_cvtpd_epi32(a), _mm_cvttpd_epi32(b)};
    HASH_VEC(h, ps);
    HASH_VEC(h, back);
    HASH_VEC(h, ci);
    h = Mix(h, (uint64_t)_mm_cvtsd_si64(a) ^ (uint64_t)_mm_cvttsd_si64(b) * 3 ^ (uint64_t)_mm_movemask_pd(b) << 60);
    __m128d fromint = _mm_cvtsi64_sd(a, (int64_t)i * 123456789 - 4000000000ll);
    HASH_VEC(h, fromint);
  }
  REPORT("sse2-double", h);
}

static void Sse2Integer(void) {
  uint64_t h = 0;
  for (int i = 0; i < N * 4; i += 16) {
    __m128i a = _mm_load_si128((const __m128i*)(ia + i)), b = _mm_load_si128((const __m128i*)(ib + i));
    __m128i r[40] = {
        _mm_add_epi8(a, b),     _mm_add_epi16(a, b),    _mm_add_epi32(a, b),      _mm_add_epi64(a, b),
        _mm_adds_epi8(a, b),    _mm_adds_epu16(a, b),   _mm_subs_epi16(a, b),     _mm_subs_epu8(a, b),
        _mm_mullo_epi16(a, b),  _mm_mulhi_epi16(a, b),  _mm_mulhi_epu16(a, b),    _mm_mul_epu32(a, b),
        _mm_madd_epi16(a, b),   _mm_avg_epu8(a, b),     _mm_sad_epu8(a, b),       _mm_cmpeq_epi8(a, a),
        _mm_cmpgt_epi16(a, b),  _mm_cmpgt_epi32(a, b),  _mm_andnot_si128(a, b),   _mm_xor_si128(a, b),
        _mm_slli_epi16(a, 3),   _mm_srli_epi32(a, 7),   _mm_srai_epi16(b, 15),    _mm_slli_epi64(a, 33),
        _mm_sll_epi32(a, _mm_cvtsi32_si128(5)), _mm_srl_epi64(b, _mm_cvtsi32_si128(70)), _mm_srli_si128(a, 5),
        _mm_slli_si128(b, 11),  _mm_packs_epi16(a, b),  _mm_packs_epi32(a, b),    _mm_packus_epi16(a, b),
        _mm_unpacklo_epi8(a, b), _mm_unpackhi_epi16(a, b), _mm_unpacklo_epi64(a, b), _mm_shuffle_epi32(a, 0x9c),
        _mm_shufflelo_epi16(a, 0x1b), _mm_shufflehi_epi16(b, 0xe4), _mm_min_epu8(a, b), _mm_max_epi16(a, b),
        _mm_insert_epi16(a, i * 77, 5)};
    HASH_VEC(h, r);
    h = Mix(h, (uint64_t)_mm_movemask_epi8(a) << 16 | (uint64_t)_mm_extract_epi16(b, 3));
  }
  REPORT("sse2-integer", h);
}

static void Sse3Ssse3(void) {
  uint64_t h = 0;
  for (int i = 0; i < N; i += 4) {
    __m128 a = _mm_load_ps(fa + i), b = _mm_load_ps(fb + i);
    __m128d c = _mm_load_pd(da + (i & ~1)), d = _mm_load_pd(db + (i & ~1));
    __m128 r[5] = {_mm_addsub_ps(a, b), _mm_hadd_ps(a, b), _mm_hsub_ps(a, b), _mm_movehdup_ps(a), _mm_moveldup_ps(b)};
    __m128d s[3] = {_mm_addsub_pd(c, d), _mm_hadd_pd(c, d), _mm_movedup_pd(c)};
    HASH_VEC(h, r);
    HASH_VEC(h, s);
    __m128i u = _mm_lddqu_si128((const __m128i*)(ia + i * 4 + 3));
    HASH_VEC(h, u);
  }
  for (int i = 0; i < N * 4; i += 16) {
    __m128i a = _mm_load_si128((const __m128i*)(ia + i)), b = _mm_load_si128((const __m128i*)(ib + i));
    __m128i r[14] = {_mm_shuffle_epi8(a, b),    _mm_hadd_epi16(a, b),   _mm_hadd_epi32(a, b),  _mm_hsubs_epi16(a, b),
                     _mm_maddubs_epi16(a, b),   _mm_mulhrs_epi16(a, b), _mm_abs_epi8(a),       _mm_abs_epi16(b),
                     _mm_abs_epi32(a),          _mm_sign_epi8(a, b),    _mm_sign_epi16(a, b),  _mm_sign_epi32(b, a),
                     _mm_alignr_epi8(a, b, 3),  _mm_alignr_epi8(a, b, 17)};
    HASH_VEC(h, r);
  }
  REPORT("sse3-ssse3", h);
}

static void Sse41(void) {
  uint64_t h = 0;
  for (int i = 0; i < N; i += 4) {
    __m128 a = _mm_load_ps(fa + i), b = _mm_load_ps(fb + i);
    __m128d c = _mm_load_pd(da + (i & ~1)), d = _mm_load_pd(db + (i & ~1));
    __m128 r[9] = {_mm_blend_ps(a, b, 5),   _mm_blendv_ps(a, b, a), _mm_dp_ps(a, b, 0xf3),
                   _mm_insert_ps(a, b, 0x9c), _mm_round_ps(a, 0),   _mm_round_ps(b, 1),
                   _mm_round_ps(a, 2),       _mm_round_ps(b, 3),    _mm_round_ss(a, b, 4)};
    __m128d s[5] = {_mm_blend_pd(c, d, 2), _mm_blendv_pd(c, d, d), _mm_dp_pd(c, d, 0x31), _mm_round_pd(c, 1),
                    _mm_round_sd(c, d, 2)};
    HASH_VEC(h, r);
    HASH_VEC(h, s);
    h = Mix(h, (uint64_t)(uint32_t)_mm_extract_ps(a, 2));
  }
  for (int i = 0; i < N * 4; i += 16) {
    __m128i a = _mm_load_si128((const __m128i*)(ia + i)), b = _mm_load_si128((const __m128i*)(ib + i));
    __m128i r[20] = {_mm_blend_epi16(a, b, 0x5a), _mm_blendv_epi8(a, b, a), _mm_mullo_epi32(a, b),
                     _mm_mul_epi32(a, b),         _mm_min_epi8(a, b),       _mm_max_epu32(a, b),
                     _mm_min_epu16(a, b),         _mm_max_epi32(a, b),      _mm_cvtepi8_epi32(a),
                     _mm_cvtepu16_epi64(b),       _mm_cvtepi32_epi64(a),    _mm_cvtepu8_epi16(b),
                     _mm_packus_epi32(a, b),      _mm_cmpeq_epi64(a, a),    _mm_mpsadbw_epu8(a, b, 5),
                     _mm_minpos_epu16(a),         _mm_insert_epi8(a, 0x7e, 9), _mm_insert_epi32(b, i, 2),
                     _mm_insert_epi64(a, -i, 1),  _mm_stream_load_si128((__m128i*)(ib + i))};
    HASH_VEC(h, r);
    h = Mix(h, (uint64_t)_mm_testz_si128(a, b) | (uint64_t)_mm_testc_si128(a, a) << 1 |
                   (uint64_t)_mm_testnzc_si128(a, b) << 2 | (uint64_t)(uint8_t)_mm_extract_epi8(a, 13) << 8 |
                   (uint64_t)(uint32_t)_mm_extract_epi32(b, 1) << 16);
    h = Mix(h, (uint64_t)_mm_extract_epi64(a, 1));
  }
  REPORT("sse41", h);
}

static void Sse42(void) {
  uint64_t h = 0;
  static const char text[64] ALIGNED(16) = "The quick brown fox jumps over the lazy dog; 0123456789 xlat!";
  static const char set[16] ALIGNED(16) = "aeiouAZ09xyz";
  __m128i needle = _mm_load_si128((const __m128i*)set);
  for (int i = 0; i < 48; i += 16) {
    __m128i hay = _mm_load_si128((const __m128i*)(text + i));
    h = Mix(h, (uint64_t)_mm_cmpistri(needle, hay, _SIDD_CMP_EQUAL_ANY));
    h = Mix(h, (uint64_t)_mm_cmpistri(needle, hay, _SIDD_CMP_RANGES | _SIDD_MOST_SIGNIFICANT));
    h = Mix(h, (uint64_t)_mm_cmpestri(needle, 5, hay, 16 - i / 4, _SIDD_CMP_EQUAL_ORDERED));
    h = Mix(h, (uint64_t)_mm_cmpistrc(needle, hay, _SIDD_CMP_EQUAL_EACH) | (uint64_t)_mm_cmpistrz(needle, hay, 0) << 1 |
                   (uint64_t)_mm_cmpestrs(needle, 3, hay, 9, _SIDD_UWORD_OPS) << 2);
    __m128i m1 = _mm_cmpistrm(needle, hay, _SIDD_CMP_EQUAL_ANY | _SIDD_UNIT_MASK);
    __m128i m2 = _mm_cmpestrm(needle, 12, hay, 16, _SIDD_CMP_RANGES | _SIDD_BIT_MASK | _SIDD_NEGATIVE_POLARITY);
    HASH_VEC(h, m1);
    HASH_VEC(h, m2);
  }
  for (int i = 0; i < N * 4; i += 16) {
    __m128i a = _mm_load_si128((const __m128i*)(ia + i)), b = _mm_load_si128((const __m128i*)(ib + i));
    __m128i r = _mm_cmpgt_epi64(a, b);
    HASH_VEC(h, r);
  }
  REPORT("sse42-strings", h);
  // crc32 of every width, from registers and from memory.
  uint64_t crc = ~0ull;
  for (int i = 0; i < N * 4 - 8; i++) {
    crc = _mm_crc32_u8((uint32_t)crc, ia[i]);
    crc = _mm_crc32_u16((uint32_t)crc, *(const uint16_t*)(ib + i));
    crc = _mm_crc32_u32((uint32_t)crc, *(const uint32_t*)(ia + i));
    crc = _mm_crc32_u64(crc, *(const uint64_t*)(ib + i));
  }
  uint64_t crcm = 0;
  __asm__("crc32b 1(%1), %k0\n\tcrc32w 3(%1), %k0\n\tcrc32l 5(%1), %k0\n\tcrc32q 7(%1), %0" : "+r"(crcm) : "r"(ia) : "memory");
  REPORT("sse42-crc32", Mix(crc, crcm));
}

// AES-128: key expansion with aeskeygenassist, ten rounds, then the inverse
// cipher with aesimc'd keys must give the plaintext back.
#define EXPAND(k, rcon)                                                          \
  do {                                                                           \
    __m128i t = _mm_aeskeygenassist_si128(k, rcon);                              \
    t = _mm_shuffle_epi32(t, 0xff);                                              \
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));                                  \
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));                                  \
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));                                  \
    k = _mm_xor_si128(k, t);                                                     \
  } while (0)

static void Aes(void) {
  __m128i keys[11], dkeys[11];
  __m128i k = _mm_set_epi32(0x09cf4f3c, 0xabf71588, 0x28aed2a6, 0x2b7e1516);  // FIPS-197 key, little-endian words
  keys[0] = k;
  EXPAND(k, 0x01); keys[1] = k;
  EXPAND(k, 0x02); keys[2] = k;
  EXPAND(k, 0x04); keys[3] = k;
  EXPAND(k, 0x08); keys[4] = k;
  EXPAND(k, 0x10); keys[5] = k;
  EXPAND(k, 0x20); keys[6] = k;
  EXPAND(k, 0x40); keys[7] = k;
  EXPAND(k, 0x80); keys[8] = k;
  EXPAND(k, 0x1b); keys[9] = k;
  EXPAND(k, 0x36); keys[10] = k;
  dkeys[0] = keys[10];
  for (int i = 1; i < 10; i++) dkeys[i] = _mm_aesimc_si128(keys[10 - i]);
  dkeys[10] = keys[0];
  uint64_t h = Fnv1a(keys, sizeof keys);
  int roundtrip = 1;
  for (int blk = 0; blk < N * 4; blk += 16) {
    __m128i p = _mm_load_si128((const __m128i*)(ia + blk));
    __m128i c = _mm_xor_si128(p, keys[0]);
    for (int i = 1; i < 10; i++) c = _mm_aesenc_si128(c, keys[i]);
    c = _mm_aesenclast_si128(c, keys[10]);
    HASH_VEC(h, c);
    __m128i d = _mm_xor_si128(c, dkeys[0]);
    for (int i = 1; i < 10; i++) d = _mm_aesdec_si128(d, dkeys[i]);
    d = _mm_aesdeclast_si128(d, dkeys[10]);
    roundtrip &= _mm_movemask_epi8(_mm_cmpeq_epi8(d, p)) == 0xffff;
  }
  REPORT("aes-128", Mix(h, roundtrip));
}

static void Pclmul(void) {
  uint64_t h = 0;
  for (int i = 0; i < N * 4; i += 16) {
    __m128i a = _mm_load_si128((const __m128i*)(ia + i)), b = _mm_load_si128((const __m128i*)(ib + i));
    __m128i r[4] = {_mm_clmulepi64_si128(a, b, 0x00), _mm_clmulepi64_si128(a, b, 0x01),
                    _mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x11)};
    HASH_VEC(h, r);
  }
  // With a memory operand.
  __m128i m;
  __asm__("movdqa %1, %0\n\tpclmulqdq $0x11, 16(%2), %0" : "=&x"(m) : "m"(*(const __m128i*)ia), "r"(ib) : "memory");
  HASH_VEC(h, m);
  REPORT("pclmulqdq", h);
}

static void Mxcsr(void) {
  uint64_t h = 0;
  uint32_t saved = _mm_getcsr();
  for (uint32_t mode = 0; mode < 4; mode++) {
    _mm_setcsr((saved & ~0x6000u) | mode << 13);  // RC: nearest, down, up, toward zero
    for (int i = 16; i < 32; i++) {
      __m128d q = _mm_div_pd(_mm_load_pd(da + (i & ~1)), _mm_set1_pd(3.0));
      HASH_VEC(h, q);
      h = Mix(h, (uint64_t)_mm_cvtsd_si64(_mm_set_sd(da[i])) ^ (uint64_t)_mm_cvtss_si32(_mm_set_ss(fb[i])));
    }
  }
  // FTZ and DAZ: denormal inputs read as zero, denormal results flush to zero.
  // (Inputs come through volatile so that nothing is folded at compile time.)
  static volatile float kIn[6] = {1e-30f, 1e-10f, 1e-40f, 0.0f, 1.0f, 3.0f};
  _mm_setcsr(saved | 0x8040);
  __m128 tiny = _mm_mul_ps(_mm_set1_ps(kIn[0]), _mm_set1_ps(kIn[1]));
  __m128 den = _mm_add_ps(_mm_set1_ps(kIn[2]), _mm_set1_ps(kIn[3]));
  HASH_VEC(h, tiny);
  HASH_VEC(h, den);
  // Sticky exception flags: clear them, raise some, read them back.
  _mm_setcsr(saved & ~0x3fu);
  __m128 inv = _mm_div_ps(_mm_set1_ps(kIn[4]), _mm_set1_ps(kIn[3]));   // divide by zero
  uint32_t after_div = _mm_getcsr() & 0x3f;
  __m128 nan = _mm_sqrt_ps(_mm_set1_ps(-kIn[4]));                        // invalid
  __m128 inex = _mm_div_ps(_mm_set1_ps(kIn[4]), _mm_set1_ps(kIn[5]));  // precision
  HASH_VEC(h, inv);
  HASH_VEC(h, nan);
  HASH_VEC(h, inex);
  h = Mix(h, after_div);
  uint32_t flags = _mm_getcsr() & 0x3f;
  _mm_setcsr(saved);
  guest_printf("mxcsr-exception-flags: %02x\n", flags);
  REPORT("mxcsr-rounding-ftz-daz", h);
}

int main(void) {
  MakeInputs();
  SseFloat();
  Sse2Double();
  Sse2Integer();
  Sse3Ssse3();
  Sse41();
  Sse42();
  Aes();
  Pclmul();
  Mxcsr();
  return 0;
}
