// sha256.c — SHA-256 (FIPS 180-4, plain scalar C) over 64 MiB of generated
// data, several passes: integer ALU, rotates, and sequential loads.
// Checks itself against the FIPS "abc" test vector first.
#include "common.h"

#define DATA_BYTES (64u << 20)
#define PASSES 4

static uint8_t data[DATA_BYTES] __attribute__((aligned(64)));

typedef struct {
  uint32_t h[8];
} Sha256;

static const uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t Ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void Init(Sha256* s) {
  static const uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (int i = 0; i < 8; i++) s->h[i] = kInit[i];
}

static void Block(Sha256* s, const uint8_t* p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = Ror(w[i - 15], 7) ^ Ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = Ror(w[i - 2], 17) ^ Ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (Ror(e, 6) ^ Ror(e, 11) ^ Ror(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    uint32_t t2 = (Ror(a, 2) ^ Ror(a, 13) ^ Ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s->h[0] += a;
  s->h[1] += b;
  s->h[2] += c;
  s->h[3] += d;
  s->h[4] += e;
  s->h[5] += f;
  s->h[6] += g;
  s->h[7] += h;
}

// Hashes a whole message (padding included); writes the 32-byte digest.
static NOINLINE void Sha256Digest(const uint8_t* msg, uint64_t len, uint8_t out[32]) {
  Sha256 s;
  Init(&s);
  uint64_t full = len / 64 * 64;
  for (uint64_t off = 0; off < full; off += 64) Block(&s, msg + off);
  uint8_t tail[128];
  uint64_t rest = len - full;
  memset(tail, 0, sizeof tail);
  memcpy(tail, msg + full, rest);
  tail[rest] = 0x80;
  uint64_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = len * 8;
  for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (uint64_t off = 0; off < tail_len; off += 64) Block(&s, tail + off);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s.h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(s.h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s.h[i] >> 8);
    out[4 * i + 3] = (uint8_t)s.h[i];
  }
}

static void PrintDigest(const char* label, const uint8_t d[32]) {
  guest_printf("%s: ", label);
  for (int i = 0; i < 32; i++) guest_printf("%02x", d[i]);
  guest_printf("\n");
}

int main(void) {
  uint8_t digest[32];
  Sha256Digest((const uint8_t*)"abc", 3, digest);
  static const uint8_t kAbc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                   0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                   0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  if (memcmp(digest, kAbc, 32) != 0) {
    PrintDigest("sha256-selftest-FAILED", digest);
    return 1;
  }
  uint64_t state = 0x5a256;
  uint64_t* words = (uint64_t*)data;
  for (uint64_t i = 0; i < DATA_BYTES / 8; i++) words[i] = SplitMix(&state);
  // Each pass hashes the data with the previous digest written at its start.
  for (int pass = 0; pass < PASSES; pass++) {
    if (pass) memcpy(data, digest, 32);
    Sha256Digest(data, DATA_BYTES, digest);
  }
  PrintDigest("sha256-64MiB-x4", digest);
  return 0;
}
