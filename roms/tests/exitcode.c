// exitcode.c — the exit path: output, then guest_exit(42) from deep inside
// the program (not a return from main). Native status 42; under xlat the
// isa-debug-exit device makes it (42 << 1) | 1 = 85.
#include "check.h"

// Every path through Leave ends in guest_exit: that is the point.
#pragma GCC diagnostic ignored "-Winfinite-recursion"

static NOINLINE void Leave(int depth) {
  if (depth > 0) {
    Leave(depth - 1);
    guest_printf("not reached\n");
    return;
  }
  guest_printf("leaving-with: 42\n");
  guest_exit(42);
}

int main(void) {
  guest_printf("before-exit: ok\n");
  Leave(10);
  return 7;
}
