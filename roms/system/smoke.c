#include "ktest.h"
SNIPPET(s_ud2, "ud2\n int $0x81");
static void t_ud2(void) {
  struct run run; struct event ev;
  run_init(&run, 0, s_ud2);
  xrun(&run, &ev);
  expect_event(&ev, V_UD, 0, ADDR(s_ud2)) && expect_regs(&ev, &run.r, 0);
}
static void t_ud2_user(void) {
  struct run run; struct event ev;
  run_init(&run, 3, s_ud2);
  xrun(&run, &ev);
  expect_event(&ev, V_UD, 0, ADDR(s_ud2)) && expect_regs(&ev, &run.r, 0) && expect_eq("cs", UCS, ev.cs);
}
static void t_crash(void) { *(volatile int*)0 = 1; }
static uint64_t ufn(uint64_t a) { return a * 3; }
static void t_fn(void) {
  struct event ev;
  xrun_fn(3, ufn, 14, 0, &ev);
  expect_vector(&ev, V_END) && expect_eq("rax", 42, ev.r.rax);
}
static const struct kcase cases[] = {{"smoke.ud2", t_ud2}, {"smoke.ud2-user", t_ud2_user}, {"smoke.crash", t_crash}, {"smoke.fn", t_fn}};
int main(void) { ktest_init(); return run_cases(cases, ARRAY_SIZE(cases)); }
