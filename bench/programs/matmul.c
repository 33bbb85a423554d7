// matmul.c — double-precision matrix multiply, C = A * B for 2048x2048
// matrices, blocked i-k-j loops (the inner loop vectorizes to AVX2/FMA):
// floating-point throughput and streaming memory access.
#include "common.h"

#define N 2048
#define BLOCK 64
static double a[N][N] __attribute__((aligned(64)));
static double b[N][N] __attribute__((aligned(64)));
static double c[N][N] __attribute__((aligned(64)));

static NOINLINE void Multiply(void) {
  for (int ii = 0; ii < N; ii += BLOCK)
    for (int kk = 0; kk < N; kk += BLOCK)
      for (int i = ii; i < ii + BLOCK; i++)
        for (int k = kk; k < kk + BLOCK; k++) {
          double aik = a[i][k];
          for (int j = 0; j < N; j++) c[i][j] += aik * b[k][j];
        }
}

int main(void) {
  uint64_t state = 1414213562;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i][j] = (double)(SplitMix(&state) >> 40) / (double)(1 << 24) - 0.5;
      b[i][j] = (double)(SplitMix(&state) >> 40) / (double)(1 << 24) - 0.5;
    }
  Multiply();
  // Checksum: trace and a weighted sum, and the raw bits of a few entries
  // (the same code on the same CPU gives the same rounding).
  double trace = 0, weighted = 0;
  uint64_t h = 0;
  for (int i = 0; i < N; i++) {
    trace += c[i][i];
    for (int j = 0; j < N; j += 97) weighted += c[i][j] * (double)((i + j) % 7 + 1);
    uint64_t bits;
    memcpy(&bits, &c[i][(i * 31) % N], 8);
    h = MixIn(h, bits);
  }
  guest_printf("matmul-2048-f64: trace*1e6=%ld weighted*1e6=%ld bits-hash=%016lx\n", (long)(trace * 1e6),
               (long)(weighted * 1e6), h);
  return 0;
}
