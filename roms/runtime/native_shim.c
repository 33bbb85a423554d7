// native_shim.c — guest.h for an ordinary Linux process. The native build of
// a guest program is the reference its xlat run is compared against.
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#include "guest.h"

void guest_putc(char c) { putchar((unsigned char)c); }

void guest_exit(int code) {
  fflush(stdout);
  exit(code);
}

uint64_t guest_rdtsc(void) { return __rdtsc(); }
