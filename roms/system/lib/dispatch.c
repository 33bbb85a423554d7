// dispatch.c — where every interrupt, exception and syscall lands (kdispatch),
// and how a case runs code and gets the event that ended it (xrun).
//
// The "catch" stack: a case harness and each xrun push a catcher (a ksetjmp
// context). An event that no hook resumes is copied into the innermost
// catcher, and the dispatcher rewrites the frame so that its iretq "returns"
// from that catcher's ksetjmp a second time (CPL 0, kernel stack, RFLAGS 2,
// callee-saved registers restored). That is how a user-mode run ends, and how
// a case survives an exception nobody expected.
#include "ktest.h"

struct kjmp {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};
struct catcher {
  struct kjmp j;
  struct event ev;
  int depth;
  struct catcher* prev;
};
int ksetjmp(struct kjmp* j) __attribute__((returns_twice));
void xrun_enter(void) __attribute__((noreturn));
extern const char fn_trampoline[];

struct catcher* g_catch;
int g_depth;
hook_fn g_hook;
struct event g_log[EVENT_LOG_SIZE];
int g_nlog;
// Events since the case started: a hook that resumes the same fault over and
// over (because the processor does not do what the case expects) must not
// hang the program, so past MAX_EVENTS_PER_CASE hooks are no longer asked.
long g_nevents;
#define MAX_EVENTS_PER_CASE 100000
USED struct run g_run;  // what xrun_enter loads
USED uint64_t g_sys_user_rsp, g_sys_stack_top;

static void fill_event(struct event* ev, const struct frame* f, const uint8_t* fx, uint64_t cr2, int depth) {
  ev->vector = f->vector;
  ev->error = f->error;
  ev->cr2 = cr2;
  ev->r.rax = f->rax;
  ev->r.rcx = f->rcx;
  ev->r.rdx = f->rdx;
  ev->r.rbx = f->rbx;
  ev->r.rsp = f->rsp;
  ev->r.rbp = f->rbp;
  ev->r.rsi = f->rsi;
  ev->r.rdi = f->rdi;
  ev->r.r8 = f->r8;
  ev->r.r9 = f->r9;
  ev->r.r10 = f->r10;
  ev->r.r11 = f->r11;
  ev->r.r12 = f->r12;
  ev->r.r13 = f->r13;
  ev->r.r14 = f->r14;
  ev->r.r15 = f->r15;
  ev->rip = f->rip;
  ev->cs = f->cs;
  ev->rflags = f->rflags;
  ev->rsp = f->rsp;
  ev->ss = f->ss;
  ev->frame_addr = (uint64_t)(uintptr_t)&f->rip;
  ev->handler_rflags = f->handler_rflags;
  ev->handler_cs = read_cs();
  ev->handler_ss = read_ss();
  ev->depth = depth;
  // fxsave64 layout: FCW 0, FSW 2, FTW 4, FOP 6, FIP 8, FDP 16, MXCSR 24.
  memcpy(&ev->fsw, fx + 2, 2);
  memcpy(&ev->fop, fx + 6, 2);
  memcpy(&ev->fip, fx + 8, 8);
  memcpy(&ev->mxcsr, fx + 24, 4);
  memcpy(ev->xmm0, fx + 160, 16);
}

static void land(struct frame* f, struct catcher* c) {
  f->rip = c->j.rip;
  f->rsp = c->j.rsp;
  f->cs = KCS;
  f->ss = KDS;
  f->rflags = FL_FIXED;
  f->rbx = c->j.rbx;
  f->rbp = c->j.rbp;
  f->r12 = c->j.r12;
  f->r13 = c->j.r13;
  f->r14 = c->j.r14;
  f->r15 = c->j.r15;
  f->rax = 1;
  f->restore_cr0 = 0;  // the kernel goes on with x87/SSE usable
  f->restore_cr4 = 0;
  g_depth = c->depth;
}

// Called by entry.S with interrupts off. Returns 1 to leave a syscall frame
// with sysretq, 0 for iretq.
USED int kdispatch(struct frame* f, uint8_t* fx) {
  uint64_t cr2 = read_cr2();
  int depth = ++g_depth;
  struct event ev;
  fill_event(&ev, f, fx, cr2, depth);
  if (g_nlog < EVENT_LOG_SIZE) g_log[g_nlog++] = ev;
  if (depth > 8) {
    guest_printf("FAIL fatal: events nested %d deep (last %s at rip 0x%lx)\n", depth, vector_name(ev.vector), ev.rip);
    guest_exit(3);
  }
  if (g_hook && ++g_nevents <= MAX_EVENTS_PER_CASE) {
    int r = g_hook(f, &ev);
    if (r != HOOK_DECLINE) {
      g_depth--;
      return r == HOOK_SYSRET;
    }
  }
  if (g_catch) {
    g_catch->ev = ev;
    land(f, g_catch);
    return 0;
  }
  guest_printf("FAIL fatal: %s error 0x%lx at rip 0x%lx cs 0x%lx cr2 0x%lx outside any case\n", vector_name(ev.vector),
               ev.error, ev.rip, ev.cs, ev.cr2);
  guest_exit(3);
}

// Runs fn under a catcher; returns 0 when fn returned, 1 when an event
// landed (*ev gets it).
int kcatch(void (*fn)(uint64_t), uint64_t arg, struct event* ev) {
  struct catcher c;
  c.depth = g_depth;
  c.prev = g_catch;
  if (ksetjmp(&c.j) == 0) {
    g_catch = &c;
    fn(arg);
    g_catch = c.prev;
    return 0;
  }
  g_catch = c.prev;
  *ev = c.ev;
  return 1;
}

void run_init(struct run* run, int cpl, const void* rip) {
  uint64_t* r = (uint64_t*)&run->r;
  for (int i = 0; i < 16; i++) r[i] = 0x1111111111111111ull * (uint64_t)(i + 1) + 0x10000000000ull;
  run->r.rsp = cpl == 3 ? user_stack_top() : run_stack_top();
  run->rip = (uint64_t)(uintptr_t)rip;
  run->rflags = FL_FIXED;
  run->cs = cpl == 3 ? UCS : KCS;
  run->ss = cpl == 3 ? UDS : KDS;
}

uint64_t xrun(const struct run* run, struct event* ev) {
  struct catcher c;
  c.depth = g_depth;
  c.prev = g_catch;
  if (ksetjmp(&c.j) == 0) {
    g_catch = &c;
    g_run = *run;
    xrun_enter();
  }
  g_catch = c.prev;
  *ev = c.ev;
  return ev->vector;
}

uint64_t xrun_fn(int cpl, uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t rflags, struct event* ev) {
  struct run run;
  run_init(&run, cpl, fn_trampoline);
  run.r.rbx = (uint64_t)(uintptr_t)fn;
  run.r.rdi = arg;
  run.rflags = rflags | FL_FIXED;
  return xrun(&run, ev);
}
