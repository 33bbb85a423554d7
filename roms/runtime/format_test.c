// format_test.c — checks the shared printf subset (format.c) against the C
// library's snprintf on the conversions guest programs use. Native only.
#include <stdio.h>
#include <string.h>

#include "guest.h"

static int failures;

#define CHECK(...)                                                                   \
  do {                                                                               \
    char want[128], got[128];                                                        \
    snprintf(want, sizeof want, __VA_ARGS__);                                        \
    guest_snprintf(got, sizeof got, __VA_ARGS__);                                    \
    if (strcmp(want, got) != 0) {                                                    \
      printf("FAIL %s: want \"%s\" got \"%s\"\n", #__VA_ARGS__, want, got);          \
      failures++;                                                                    \
    }                                                                                \
  } while (0)

int main(void) {
  CHECK("plain text %%");
  CHECK("%d %d %d %d", 0, -1, 2147483647, -2147483647 - 1);
  CHECK("%i|%5d|%-5d|%05d|%05d", 42, 42, 42, 42, -42);
  CHECK("%u %u", 0u, 4294967295u);
  CHECK("%+d %+d %+ld %+05d %+5d|%-+5d|", 0, -3, 7L, 42, 42, -42);
  CHECK("%x %X %08x %8x %-8x|", 0xdeadbeefu, 0xdeadbeefu, 0xbeefu, 0xbeefu, 0xbeefu);
  CHECK("%ld %ld %lu", (long)-9223372036854775807L - 1, 9223372036854775807L, 18446744073709551615UL);
  CHECK("%lx %016lx %16lx", 0x123456789abcdefUL, 0x1UL, 0xffUL);
  CHECK("%lld %llu %llx", -5LL, 5ULL, 0xabcULL);
  CHECK("%zu %zx", (size_t)12345, (size_t)0xfff);
  CHECK("%s|%8s|%-8s|%c|%3c", "abc", "abc", "abc", 'z', 'y');
  CHECK("%s", "");
  char small[4];
  int n = guest_snprintf(small, sizeof small, "%d", 123456);
  if (n != 6 || strcmp(small, "123") != 0) {
    printf("FAIL truncation: n=%d s=%s\n", n, small);
    failures++;
  }
  printf("format_test: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures != 0;
}
