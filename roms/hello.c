// hello.c — the first guest: a greeting and a few values computed three ways
// (integer, floating point, memory), so a broken translation shows at once.
#include "guest.h"

static unsigned Fib(unsigned n) { return n < 2 ? n : Fib(n - 1) + Fib(n - 2); }

static unsigned CountPrimes(unsigned limit) {
  static unsigned char composite[100000];
  unsigned count = 0;
  for (unsigned i = 2; i < limit; i++) {
    if (composite[i]) continue;
    count++;
    for (unsigned j = i * 2; j < limit; j += i) composite[j] = 1;
  }
  return count;
}

static double Leibniz(int terms) {
  double sum = 0, sign = 1;
  for (int i = 0; i < terms; i++, sign = -sign) sum += sign / (2 * i + 1);
  return 4 * sum;
}

int main(void) {
  guest_printf("Hello from a guest running on xlat!\n");
  guest_printf("fib(27) = %u\n", Fib(27));
  guest_printf("primes below 100000 = %u\n", CountPrimes(100000));
  double pi = Leibniz(1000000);
  guest_printf("pi * 1e9 ~= %ld\n", (long)(pi * 1e9));
  uint64_t h = 1469598103934665603ull;
  for (const char* s = "xlat"; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  guest_printf("fnv1a(\"xlat\") = %016lx\n", h);
  guest_printf("bye\n");
  return 0;
}
