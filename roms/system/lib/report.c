// report.c — the case harness: one line per case ("PASS name" or
// "FAIL name: expected X got Y"), "DONE n" at the end, and recovery from an
// event that a case did not expect.
#include <stdarg.h>

#include "ktest.h"

int kcatch(void (*fn)(uint64_t), uint64_t arg, struct event* ev);

static const char* case_name;
static int failed, ncases, nfailed;

static const char* const kNames[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "vector 22", "vector 23", "vector 24", "vector 25", "vector 26",
    "vector 27", "#HV", "#VC", "#SX", "vector 31"};

const char* vector_name(uint64_t v) {
  static char buf[24];
  if (v < 32) return kNames[v];
  if (v == V_SYSCALL) return "syscall";
  if (v == V_NONE) return "no event";
  guest_snprintf(buf, sizeof buf, "int 0x%lx", v);
  return buf;
}

void fail_msg(const char* fmt, ...) {
  if (failed) return;
  failed = 1;
  va_list ap;
  va_start(ap, fmt);
  guest_printf("FAIL %s: ", case_name);
  guest_vprintf(fmt, ap);
  guest_printf("\n");
  va_end(ap);
}

int case_failed(void) { return failed; }

int expect_eq(const char* what, uint64_t want, uint64_t got) {
  if (want == got) return 1;
  fail_msg("expected %s 0x%lx got 0x%lx", what, want, got);
  return 0;
}

int expect_true(const char* what, int cond) {
  if (cond) return 1;
  fail_msg("expected %s", what);
  return 0;
}

int expect_vector(const struct event* ev, uint64_t vector) {
  if (ev->vector == vector) return 1;
  char want[24];
  guest_snprintf(want, sizeof want, "%s", vector_name(vector));
  fail_msg("expected %s got %s (error 0x%lx rip 0x%lx cr2 0x%lx)", want, vector_name(ev->vector), ev->error, ev->rip,
           ev->cr2);
  return 0;
}

int expect_event(const struct event* ev, uint64_t vector, uint64_t error, uint64_t rip) {
  return expect_vector(ev, vector) && expect_eq("error code", error, ev->error) && expect_eq("rip", rip, ev->rip);
}

int expect_regs(const struct event* ev, const struct regs* r, uint32_t except_mask) {
  static const char* const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  const uint64_t* want = (const uint64_t*)r;
  const uint64_t* got = (const uint64_t*)&ev->r;
  for (int i = 0; i < 16; i++) {
    if (except_mask & (1u << i)) continue;
    if (want[i] != got[i]) {
      fail_msg("expected %s 0x%lx got 0x%lx", names[i], want[i], got[i]);
      return 0;
    }
  }
  return 1;
}

struct case_call {
  void (*fn)(uint64_t);
  uint64_t arg;
};

static void reset_then(uint64_t p) {
  const struct case_call* call = (const struct case_call*)(uintptr_t)p;
  ktest_reset();
  call->fn(call->arg);
}

static void just_reset(uint64_t unused) {
  (void)unused;
  ktest_reset();
}

void run_case_arg(const char* name, void (*fn)(uint64_t), uint64_t arg) {
  case_name = name;
  failed = 0;
  ncases++;
  struct case_call call = {fn, arg};
  struct event ev;
  if (kcatch(reset_then, (uint64_t)(uintptr_t)&call, &ev))
    fail_msg("unexpected %s error 0x%lx at rip 0x%lx (cs 0x%lx cr2 0x%lx)", vector_name(ev.vector), ev.error, ev.rip,
             ev.cs, ev.cr2);
  if (failed) nfailed++;
  else guest_printf("PASS %s\n", name);
  // Leave the machine clean for what follows; a reset that faults means the
  // kernel cannot go on.
  if (kcatch(just_reset, 0, &ev)) {
    guest_printf("FAIL fatal: reset after %s: %s error 0x%lx at rip 0x%lx\n", name, vector_name(ev.vector), ev.error,
                 ev.rip);
    guest_exit(3);
  }
}

static void call_plain(uint64_t p) { ((void (*)(void))(uintptr_t)p)(); }

int cases_finish(void) {
  guest_printf("DONE %d\n", ncases);
  return nfailed ? 1 : 0;
}

void run_case(const char* name, void (*fn)(void)) { run_case_arg(name, call_plain, (uint64_t)(uintptr_t)fn); }

int run_cases(const struct kcase* cases, int n) {
  for (int i = 0; i < n; i++) run_case(cases[i].name, cases[i].fn);
  return cases_finish();
}
