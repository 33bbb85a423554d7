// The libFuzzer entry point: arbitrary bytes become a guest machine and its
// code (fuzz_machine.h), the guest runs until it halts, faults, triple-faults
// or the watchdog stops it, and then every invariant is checked. A violation
// or a host crash aborts, which libFuzzer reports with the input.
//
// Host signals. xlat's handler (cpu/host_signals.cpp) turns faults of guest
// code into guest exceptions and kills the process with the signal's default
// action when a fault is the VMM's own. A process killed that way would take
// the input with it, so the handler is wrapped: the signal is blocked while
// xlat's handler runs; if that handler redirected the context (a guest
// exception, a poll), all is well; if it gave up (its re-raise is now
// pending), the handler that was installed before xlat's -- AddressSanitizer's
// or libFuzzer's crash handler -- gets the signal, reports it and saves the
// input.
//
// libFuzzer's own asynchronous signals (SIGALRM for -timeout, SIGINT, SIGUSR1)
// are installed without SA_ONSTACK; delivered while guest code runs, their
// frame would be pushed at the guest's rsp, a guest address, in host memory.
// They get SA_ONSTACK here (xlat's vCPU thread has an alternate stack).
#include <fcntl.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/fuzz/fuzz_machine.h"
#include "tests/fuzz/fuzz_target.h"

namespace xlat::fuzz {

namespace {

constexpr int kXlatSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr int kAsyncSignals[] = {SIGALRM, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGXFSZ, SIGABRT, SIGHUP, SIGQUIT};

struct sigaction g_before_xlat[65];
struct sigaction g_xlat[65];
const char* g_current_input = nullptr;
// Where this process keeps a copy of the input it is running
// (XLAT_FUZZ_KEEP_INPUT_DIR/input-PID.bin): a fault in the VMM ends the
// process through a sanitizer's report, which saves no artifact.
char g_kept_input[256];
int g_kept_fd = -1;

void WriteErr(const char* s) { (void)!write(2, s, std::strlen(s)); }

// The kernel keeps RFLAGS.AC on signal delivery: after a CPL 3 guest with AC
// set, any unaligned access here (the dynamic linker resolving sigaddset,
// ASan poisoning this frame's shadow) would raise SIGBUS again, recursively.
// So AC is cleared first, as xlat's own handler does, and this frame is not
// instrumented; what it calls may be.
extern "C" __attribute__((no_sanitize("address"))) void OnHostSignalWrapper(int sig, siginfo_t* si, void* uc_void) {
  asm volatile("pushfq\n\tandq %0, (%%rsp)\n\tpopfq" : : "i"(~(1 << 18)) : "cc", "memory");
  ucontext_t* uc = static_cast<ucontext_t*>(uc_void);
  const greg_t pc_before = uc->uc_mcontext.gregs[REG_RIP];
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_BLOCK, &one, nullptr);
  g_xlat[sig].sa_sigaction(sig, si, uc_void);
  if (uc->uc_mcontext.gregs[REG_RIP] != pc_before) {
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    return;  // a guest exception or a poll: translated code resumes at signal_exit
  }
  WriteErr("xlat-fuzz: CRASH: the VMM died of a host signal (xlat's message above)");
  if (g_current_input) {
    WriteErr(" while running ");
    WriteErr(g_current_input);
  } else if (g_kept_fd >= 0) {
    WriteErr(" while running the input kept in ");
    WriteErr(g_kept_input);
  }
  WriteErr("\n");
  sigaction(sig, &g_before_xlat[sig], nullptr);
  if ((g_before_xlat[sig].sa_flags & SA_SIGINFO) && g_before_xlat[sig].sa_sigaction) {
    g_before_xlat[sig].sa_sigaction(sig, si, uc_void);  // the sanitizer's or libFuzzer's report
  } else if (g_before_xlat[sig].sa_handler != SIG_DFL && g_before_xlat[sig].sa_handler != SIG_IGN) {
    g_before_xlat[sig].sa_handler(sig);
  } else if (HaveLibFuzzer()) {
    abort();  // libFuzzer's SIGABRT handler saves the input
  }
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);  // the pending re-raise, default action
}

void SetUpProcess() {
  HostCanaries::Get();
  for (int sig : kXlatSignals) sigaction(sig, nullptr, &g_before_xlat[sig]);
  for (int sig : kAsyncSignals) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) != 0) continue;
    const bool has_handler = (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != nullptr
                                                         : (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
    if (!has_handler || (sa.sa_flags & SA_ONSTACK)) continue;
    sa.sa_flags |= SA_ONSTACK;
    sigaction(sig, &sa, nullptr);
  }
}

void WrapXlatHandlers() {
  for (int sig : kXlatSignals) {
    sigaction(sig, nullptr, &g_xlat[sig]);
    if (!(g_xlat[sig].sa_flags & SA_SIGINFO) || !g_xlat[sig].sa_sigaction) {
      std::fprintf(stderr, "xlat-fuzz: xlat installed no handler for signal %d\n", sig);
      abort();
    }
    struct sigaction sa = g_xlat[sig];
    sa.sa_sigaction = OnHostSignalWrapper;
    sigaction(sig, &sa, nullptr);
  }
}

unsigned TimeoutMs() {
  static const unsigned ms = [] {
    const char* e = std::getenv("XLAT_FUZZ_TIMEOUT_MS");
    return e ? static_cast<unsigned>(std::strtoul(e, nullptr, 10)) : 50u;
  }();
  return ms;
}

bool Verbose() {
  static const bool v = std::getenv("XLAT_FUZZ_VERBOSE") != nullptr;
  return v;
}

}  // namespace

void SetCurrentInputName(const char* name) { g_current_input = name; }

int RunOneInput(const uint8_t* data, size_t size) {
  static bool process_ready = (SetUpProcess(), true);
  static bool handlers_wrapped = false;
  (void)process_ready;
  const Input in = ParseInput(data, size);
  std::string err;
  std::unique_ptr<Machine> m = Machine::Create(in.h, &err);
  if (!m) {
    std::fprintf(stderr, "xlat-fuzz: cannot create the machine: %s\n", err.c_str());
    abort();
  }
  if (!handlers_wrapped) {
    WrapXlatHandlers();  // xlat installed its handlers in Vcpu::Init
    handlers_wrapped = true;
  }
  if (!m->Load(in, &err)) {
    std::fprintf(stderr, "xlat-fuzz: cannot load the machine: %s\n", err.c_str());
    abort();
  }
  const HostThreadState before = HostThreadState::Capture();
  const RunResult r = m->Run(TimeoutMs());
  const HostThreadState after = HostThreadState::Capture();
  const std::string bad = m->Check(r) + HostCanaries::Get().Check() + before.Compare(after);
  if (Verbose() || !bad.empty()) {
    std::fprintf(stderr, "%s%s%s\n", g_current_input ? g_current_input : "", g_current_input ? ":\n" : "",
                 m->Describe(in).c_str());
    std::fprintf(stderr, "%s\n", Machine::DescribeOutcome(r, m->vcpu()).c_str());
    if (Verbose() && !r.outcome.message.empty()) std::fprintf(stderr, "%s\n", r.outcome.message.c_str());
  }
  if (!bad.empty()) {
    std::fprintf(stderr, "xlat-fuzz: VIOLATION:\n%s", bad.c_str());
    abort();
  }
  return 0;
}

// Keeps a copy of the input about to run (see g_kept_input).
static void KeepInput(const uint8_t* data, size_t size) {
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (const char* dir = std::getenv("XLAT_FUZZ_KEEP_INPUT_DIR"); dir && *dir) {
      std::snprintf(g_kept_input, sizeof g_kept_input, "%s/input-%d.bin", dir, static_cast<int>(getpid()));
      g_kept_fd = open(g_kept_input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
  }
  if (g_kept_fd < 0) return;
  if (ftruncate(g_kept_fd, 0) != 0 || pwrite(g_kept_fd, data, size, 0) != static_cast<ssize_t>(size)) {
    close(g_kept_fd);
    g_kept_fd = -1;
  }
}

}  // namespace xlat::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xlat::fuzz::KeepInput(data, size);
  return xlat::fuzz::RunOneInput(data, size);
}
