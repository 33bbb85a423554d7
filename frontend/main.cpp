// xlat's entry point: read the command line, load the guest, run it, and turn
// how the run ended into the process exit status.
//
// Every error is one line on stderr, "xlat: <what went wrong>", and exit 1,
// before anything runs. The exit status of a run:
//   (V << 1) | 1  the guest wrote V to isa-debug-exit (port 0xf4), as in QEMU
//   0             the guest powered off (ACPI S5), reset the machine with
//                 -no-reboot, or halted with interrupts disabled (nothing can
//                 wake it; QEMU would hang, xlat says so on stderr and exits)
//   1             a VMM-internal error (the message says what)
//   2             an unhandled guest exception (message and registers on
//                 stderr), a triple fault, a kernel panic or hang, or a Linux
//                 boot stub that gave up
//   128 + N       stopped by signal N: SIGINT gives 130, SIGTERM 143. A second
//                 signal while the first is pending exits at once.
// --stats and --stats-json report on every one of these paths; a JSON file
// that cannot be written then turns a status of 0 into 1.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "cpu/trace.h"
#include "cpu/vcpu.h"
#include "devices/board.h"
#include "devices/pc_board.h"
#include "devices/uart16550.h"
#include "frontend/elf_loader.h"
#include "frontend/gdb_stub.h"
#include "frontend/linux_boot.h"
#include "frontend/terminal.h"
#include "frontend/trace_symbols.h"
#include "frontend/options.h"
#include "frontend/stats.h"
#include "mmu/guest_ram.h"

namespace xlat {
namespace {

constexpr int kExitError = 1;
constexpr int kExitGuestFault = 2;
// A kernel file may be larger than what it loads (symbols, debug info), but not without bound.
constexpr uint64_t kKernelFileSlack = 64ull << 20;

int Fail(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "xlat: %s\n", message.c_str());
  return kExitError;
}

// ---- Stopping on SIGINT/SIGTERM ----

std::atomic<Vcpu*> g_vcpu{nullptr};
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<Vcpu*>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void OnStopSignal(int sig) {
  const int saved_errno = errno;
  int none = 0;
  if (!g_stop_signal.compare_exchange_strong(none, sig)) {
    static const char kMsg[] = "xlat: second signal, exiting at once\n";
    ssize_t ignored = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    (void)ignored;
    RestoreTerminalBeforeExit();  // _exit skips the atexit handler that would
    ::_exit(128 + sig);
  }
  if (Vcpu* vcpu = g_vcpu.load()) vcpu->RequestStop();  // async-signal-safe by contract
  errno = saved_errno;
}

// While translated code runs, host rsp holds the guest's rsp, so a signal
// must not be delivered on the current stack: handlers run on an alternate
// stack (SA_ONSTACK). The vCPU may install its own; this one is installed
// only if the thread has none, and removed only if it is still the current one.
class AltSignalStack {
 public:
  AltSignalStack() = default;
  AltSignalStack(const AltSignalStack&) = delete;
  AltSignalStack& operator=(const AltSignalStack&) = delete;
  ~AltSignalStack() {
    if (!mem_) return;
    stack_t cur;
    if (::sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == mem_) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
    ::munmap(mem_, kBytes);
  }

  bool Install(std::string* error) {
    stack_t cur;
    if (::sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return true;
    void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      *error = std::string("cannot allocate the signal stack: ") + std::strerror(errno);
      return false;
    }
    mem_ = p;
    stack_t st{};
    st.ss_sp = p;
    st.ss_size = kBytes;
    if (::sigaltstack(&st, nullptr) != 0) {
      *error = std::string("cannot install the signal stack: ") + std::strerror(errno);
      return false;
    }
    return true;
  }

 private:
  static constexpr size_t kBytes = 256 * 1024;  // far above MINSIGSTKSZ, even with AVX-512 frames
  void* mem_ = nullptr;
};

// SIGUSR1: write the flight recorder and the guest registers to stderr (or
// the -D file) without stopping the guest.
extern "C" void OnDumpSignal(int) {
  const int saved_errno = errno;
  Tracer::Get().RequestDump();
  if (Vcpu* vcpu = g_vcpu.load()) vcpu->Kick();
  errno = saved_errno;
}

bool InstallStopHandlers(std::string* error) {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sa.sa_flags = SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction dump = sa;
  dump.sa_handler = OnDumpSignal;
  for (auto [sig, action] : {std::pair{SIGINT, &sa}, std::pair{SIGTERM, &sa}, std::pair{SIGUSR1, &dump}}) {
    if (::sigaction(sig, action, nullptr) != 0) {
      *error = std::string("cannot install a signal handler: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// ---- -d, -D, -dfilter, --trace-cpl, --flight-recorder, --perf-map ----

using SymbolLookup = std::function<bool(const std::string&, uint64_t*)>;

// -dfilter once names may be known. `names_later`: a Linux kernel's symbols
// are at their run-time addresses only once it runs, so a filter that names
// one traces nothing until then (and is parsed again, by the caller).
bool ApplyTraceFilter(const Options& opt, const SymbolLookup& lookup, bool names_later, std::string* error) {
  if (opt.log_filter.empty()) return true;
  std::vector<TraceRange> ranges;
  if (!ParseTraceFilter(opt.log_filter, lookup, &ranges, error)) {
    if (!names_later) {
      *error = "-dfilter " + opt.log_filter + ": " + *error;
      return false;
    }
    ranges = {TraceRange{0, 0}};  // nothing passes yet
  }
  Tracer::Get().SetAddressFilter(std::move(ranges));
  return true;
}

// Called once the guest is loaded, so that -dfilter can name its symbols.
// `lookup` resolves a symbol name (nullptr: the guest has none).
bool SetUpTracing(const Options& opt, const SymbolLookup& lookup, bool names_later, std::string* error) {
  Tracer& t = Tracer::Get();
  FILE* out = nullptr;
  if (!opt.log_file.empty()) {
    out = std::fopen(opt.log_file.c_str(), "w");
    if (!out) {
      *error = "-D " + opt.log_file + ": cannot write: " + std::strerror(errno);
      return false;
    }
    std::setvbuf(out, nullptr, _IOFBF, 1 << 20);
  }
  uint32_t mask = opt.log_mask;
  // A flight recorder without -d records what is cheap to keep on for a whole run.
  if (opt.flight_records && !mask) mask = kLogInt | kLogExits | kLogIo;
  if (!ApplyTraceFilter(opt, lookup, names_later, error)) return false;
  t.SetCplFilter(opt.trace_cpl);
  if (opt.perf_map && !t.OpenPerfMap(error)) return false;
  t.Configure(mask, out, opt.flight_records);
  return true;
}

// Events kept by --flight-recorder are written out when the run ends badly.
void DumpFlightRecorderFor(const RunOutcome& outcome) {
  Tracer& t = Tracer::Get();
  if (!t.flight_recorder()) return;
  switch (outcome.kind) {
    case RunOutcome::Kind::kTripleFault: t.DumpFlightRecorder("triple fault"); break;
    case RunOutcome::Kind::kPanic: t.DumpFlightRecorder("guest panic"); break;
    case RunOutcome::Kind::kHung: t.DumpFlightRecorder("guest hung"); break;
    case RunOutcome::Kind::kFatalException: t.DumpFlightRecorder("unhandled guest exception"); break;
    case RunOutcome::Kind::kError: t.DumpFlightRecorder("VMM error"); break;
    default: break;
  }
}

// Whether open file `fd` is the file at `path` (an output about to be
// truncated that is one of the run's inputs).
bool IsFile(int fd, const std::string& path) {
  struct stat open_file, named;
  return ::fstat(fd, &open_file) == 0 && ::stat(path.c_str(), &named) == 0 && open_file.st_dev == named.st_dev &&
         open_file.st_ino == named.st_ino;
}

// ---- --stats-json: opened at start-up so that a bad path fails at once ----

class StatsJsonFile {
 public:
  StatsJsonFile() = default;
  StatsJsonFile(const StatsJsonFile&) = delete;
  StatsJsonFile& operator=(const StatsJsonFile&) = delete;
  // A file created by Open() but never written (xlat failed before running
  // the guest) is removed again.
  ~StatsJsonFile() {
    if (fd_ < 0) return;
    ::close(fd_);
    if (created_) ::unlink(path_.c_str());
  }

  // Opens without truncating: an existing file is not lost if the run never
  // gets to write it.
  bool Open(const std::string& path, const std::string& kernel_path, std::string* error) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    created_ = fd_ >= 0;
    if (fd_ < 0 && errno == EEXIST) fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) {
      *error = "--stats-json " + path + ": cannot write: " + std::strerror(errno);
      return false;
    }
    if (IsFile(fd_, kernel_path)) {
      *error = "--stats-json " + path + ": is the -kernel file; it would be overwritten";
      return false;
    }
    return true;
  }

  bool is_open() const { return fd_ >= 0; }

  bool Write(const std::string& text, std::string* error) {
    if (::ftruncate(fd_, 0) != 0) return Broken(error);
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Broken(error);
      done += static_cast<size_t>(n);
    }
    if (::close(fd_) != 0) {
      fd_ = -1;
      return Broken(error);
    }
    fd_ = -1;
    return true;
  }

 private:
  bool Broken(std::string* error) {
    *error = "--stats-json " + path_ + ": write failed: " + std::strerror(errno);
    return false;
  }
  std::string path_;
  int fd_ = -1;
  bool created_ = false;
};

// -serial file:PATH: COM1's output, written through a line-buffered stream.
// The file is truncated only once it is known not to be the -kernel or
// -initrd file, which a slip of the keyboard would otherwise destroy.
class SerialFile {
 public:
  SerialFile() = default;
  SerialFile(const SerialFile&) = delete;
  SerialFile& operator=(const SerialFile&) = delete;
  ~SerialFile() {
    if (file_) std::fclose(file_);
  }

  bool Open(const Options& opt, std::string* error) {
    const std::string what = "-serial file:" + opt.serial_path;
    const int fd = ::open(opt.serial_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
      *error = what + ": cannot write: " + std::strerror(errno);
      return false;
    }
    for (const std::string* input : {&opt.kernel, &opt.initrd}) {
      if (!input->empty() && IsFile(fd, *input)) {
        ::close(fd);
        *error = what + ": is the " + (input == &opt.kernel ? "-kernel" : "-initrd") + " file; it would be overwritten";
        return false;
      }
    }
    if (::ftruncate(fd, 0) != 0 || !(file_ = ::fdopen(fd, "w"))) {
      *error = what + ": cannot write: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    std::setvbuf(file_, nullptr, _IOLBF, 0);  // a line at a time, as a log is read
    return true;
  }

  // The UART's output callback (empty when not open).
  std::function<void(uint8_t)> Sink() {
    FILE* f = file_;
    return [f](uint8_t c) { std::fputc(c, f); };
  }

 private:
  FILE* file_ = nullptr;
};

// ---- The run ----

int ExitStatusFor(const RunOutcome& outcome) {
  switch (outcome.kind) {
    case RunOutcome::Kind::kDebugExit:
      return outcome.exit_status;
    case RunOutcome::Kind::kHalted:
      std::fprintf(stderr, "xlat: %s\n", outcome.message.c_str());
      return 0;
    case RunOutcome::Kind::kFatalException:
      std::fprintf(stderr, "xlat: %s\n", outcome.message.c_str());
      return kExitGuestFault;
    case RunOutcome::Kind::kStopped:
      if (int sig = g_stop_signal.load()) {
        std::fprintf(stderr, "xlat: stopped by signal %d (SIG%s)\n", sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        return 128 + sig;
      }
      std::fprintf(stderr, "xlat: stopped%s%s\n", outcome.message.empty() ? "" : ": ", outcome.message.c_str());
      return kExitError;
    case RunOutcome::Kind::kError:
      std::fprintf(stderr, "xlat: %s\n", outcome.message.empty() ? "internal error" : outcome.message.c_str());
      return kExitError;
    case RunOutcome::Kind::kPowerOff:
      return 0;
    case RunOutcome::Kind::kReboot:
      std::fprintf(stderr, "xlat: %s\n", outcome.message.c_str());
      return 0;
    case RunOutcome::Kind::kPanic:
    case RunOutcome::Kind::kHung:
      std::fprintf(stderr, "xlat: %s\n", outcome.message.c_str());
      return kExitGuestFault;
    case RunOutcome::Kind::kTripleFault:
      std::fprintf(stderr, "xlat: %s\n", outcome.message.c_str());
      return kExitGuestFault;
    case RunOutcome::Kind::kDebugStop:  // only the gdb stub asks for these, and it runs on
      std::fprintf(stderr, "xlat: the guest stopped for a debugger that is not there\n");
      return kExitError;
  }
  std::fprintf(stderr, "xlat: the run ended in an unknown way\n");
  return kExitError;
}

// After the run: the exit status, --stats, --stats-json.
int Finish(const Options& opt, const RunOutcome& outcome, Stats& stats, StatsJsonFile& json,
           std::chrono::steady_clock::time_point start) {
  stats.run_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  std::fflush(stdout);  // the guest's output first, then what xlat says about it
  DumpFlightRecorderFor(outcome);
  int status = ExitStatusFor(outcome);
  std::string err;
  if (opt.stats) std::fputs(FormatStats(stats).c_str(), stderr);
  if (json.is_open() && !json.Write(FormatStatsJson(stats), &err)) {
    std::fprintf(stderr, "xlat: %s\n", err.c_str());
    if (status == 0) status = kExitError;
  }
  std::fflush(stdout);
  return status;
}

// -s, -gdb DEV: the gdb stub listens now (a port in use fails before the
// guest starts); nullptr without them. False in *ok with *error set on failure.
std::unique_ptr<GdbStub> StartGdbStub(const Options& opt, std::span<const uint8_t> kernel_file, bool* ok,
                                      std::string* error) {
  *ok = true;
  if (opt.GdbDevice().empty()) return nullptr;
  GdbStubOptions g;
  g.device = opt.GdbDevice();
  g.start_stopped = opt.start_stopped;
  g.symbols_path = opt.symbols_path;
  std::unique_ptr<GdbStub> stub = GdbStub::Create(g, kernel_file, opt.kernel, error);
  if (!stub) {
    *ok = false;
    return nullptr;
  }
  stub->SetStopCheck([] { return g_stop_signal.load() != 0; });
  return stub;
}

// A freestanding ELF64 on the minimal machine (roms/README.md).
int RunElf(const Options& opt, std::vector<uint8_t> kernel_file, StatsJsonFile& json, SerialFile& serial_file) {
  std::string err;
  ElfImage image;
  if (!ParseElf(kernel_file, &image, &err)) return Fail(opt.kernel + ": " + err);
  if (!opt.initrd.empty())
    return Fail("-initrd: needs a Linux kernel; " + opt.kernel + " is an ELF executable, which takes no initrd");
  if (opt.append)
    return Fail("-append: needs a Linux kernel; " + opt.kernel + " is an ELF executable, which takes no command line");

  BoardConfig config;
  config.ram_bytes = opt.ram_bytes;
  config.code_cache_bytes = opt.code_cache_bytes;
  config.shadow_spaces = opt.shadow_spaces;
  config.precise_fault_flags = opt.precise_flags;
  config.trace_threshold = opt.trace_threshold;
  config.count_guest_insns = opt.count_insns;
  if (opt.serial == SerialBackend::kNone) config.serial_out = [](uint8_t) {};
  if (opt.serial == SerialBackend::kFile) config.serial_out = serial_file.Sink();
  std::unique_ptr<Board> board = Board::Create(config, &err);
  if (!board) return Fail(err);
  if (!PlaceElf(kernel_file, image, board->ram(), board->flat_tables_base(), &err))
    return Fail(opt.kernel + ": " + err);
  bool gdb_ok = true;
  std::unique_ptr<GdbStub> gdb = StartGdbStub(opt, kernel_file, &gdb_ok, &err);
  if (!gdb_ok) return Fail(err);
  std::unique_ptr<TraceSymbols> symbols = opt.WantsTraceSymbols() ? TraceSymbols::ForElf(kernel_file) : nullptr;
  std::vector<uint8_t>().swap(kernel_file);  // the file is in guest RAM now
  if (!board->SetupFlatLongMode(image.entry, &err)) return Fail(err);
  SymbolLookup lookup;
  if (symbols && symbols->ready()) {
    TraceSymbols* s = symbols.get();
    Tracer::Get().SetSymbolizer([s](uint64_t va) { return s->Describe(va); });
    lookup = [s](const std::string& name, uint64_t* va) { return s->Lookup(name, va); };
  }
  if (!SetUpTracing(opt, lookup, /*names_later=*/false, &err)) return Fail(err);

  AltSignalStack alt_stack;
  if (!alt_stack.Install(&err)) return Fail(err);
  g_vcpu.store(&board->vcpu());
  if (!InstallStopHandlers(&err)) return Fail(err);
  const auto start = std::chrono::steady_clock::now();
  RunOutcome outcome = gdb ? RunWithDebugger(board->vcpu(), *gdb, [&board] { return board->Run(); }) : board->Run();
  g_vcpu.store(nullptr);
  return Finish(opt, outcome, board->stats(), json, start);
}

// Linux halts with interrupts off when asked to (halt -f), always in its own
// mapping at the top of the address space. A halt in the low half is the boot
// stub giving up before the kernel ran -- a damaged compressed kernel, most
// often -- and it says why only on an early console (console=ttyS0 is not
// one for it): that is a failed boot, not a clean end.
void ExplainLinuxHalt(uint64_t rip, RunOutcome* outcome) {
  if (outcome->kind != RunOutcome::Kind::kHalted || rip >= (1ull << 47)) return;
  outcome->kind = RunOutcome::Kind::kPanic;
  outcome->message =
      "guest kernel failed to boot: its boot stub halted before the kernel ran (a damaged compressed kernel?); "
      "earlyprintk=ttyS0 in -append shows the stub's message";
}

// A Linux bzImage on the PC, with the serial console on the terminal.
int RunLinux(const Options& opt, std::vector<uint8_t> kernel_file, StatsJsonFile& json, SerialFile& serial_file) {
  std::string err;
  BzImage bz;
  if (!ParseBzImage(kernel_file, &bz, &err)) return Fail(opt.kernel + ": " + err);
  const std::string cmdline = opt.append.value_or("");
  if (!CheckCommandLine(bz, cmdline, &err)) return Fail("-append: " + err);
  std::vector<uint8_t> initrd;
  if (!opt.initrd.empty() && !ReadFileBounded(opt.initrd, opt.ram_bytes, &initrd, &err))
    return Fail(opt.initrd + ": " + err);

  Terminal terminal;
  PcConfig config;
  config.ram_bytes = opt.ram_bytes;
  config.code_cache_bytes = opt.code_cache_bytes;
  config.shadow_spaces = opt.shadow_spaces;
  config.precise_fault_flags = opt.precise_flags;
  config.trace_threshold = opt.trace_threshold;
  config.count_guest_insns = opt.count_insns;
  config.no_reboot = opt.no_reboot;
  if (opt.serial == SerialBackend::kNone)
    config.serial_out = [](uint8_t) {};
  else if (opt.serial == SerialBackend::kFile)
    config.serial_out = serial_file.Sink();
  else
    config.serial_out = [&terminal](uint8_t c) { terminal.WriteByte(c); };
  bool gdb_ok = true;
  std::unique_ptr<GdbStub> gdb = StartGdbStub(opt, kernel_file, &gdb_ok, &err);
  if (!gdb_ok) return Fail(err);
  std::unique_ptr<PcBoard> board = PcBoard::Create(config, &err);
  if (!board) return Fail(err);
  GdbStub* gdb_stub = gdb.get();
  // Names for traces: the gdb stub's symbols when there is one, else our own search.
  std::unique_ptr<TraceSymbols> symbols;
  if (opt.WantsTraceSymbols() && !gdb_stub) {
    symbols = TraceSymbols::ForLinux(kernel_file, opt.symbols_path, &err);
    if (!symbols) return Fail(err);
  }
  TraceSymbols* trace_symbols = symbols.get();
  auto loader = [&kernel_file, &initrd, &cmdline, gdb_stub, trace_symbols](PcBoard& pc, std::string* error) {
    LinuxBootConfig boot;
    boot.cmdline = cmdline;
    boot.initrd = initrd;
    boot.acpi_rsdp = pc.rsdp_pa();
    for (const ReservedRegion& r : pc.reserved())
      boot.reserved.push_back({r.base, r.size, r.acpi ? E820Type::kAcpi : E820Type::kReserved});
    LinuxBootInfo info;
    if (!LoadLinux(pc.ram(), kernel_file, boot, &info, error)) return false;
    Vcpu& vcpu = pc.vcpu();
    vcpu.ResetToLongMode(info.entry_rip, info.cr3);
    vcpu.ctx().gdtr_base = info.gdt_base;
    vcpu.ctx().gdtr_limit = info.gdt_limit;
    vcpu.ctx().gpr[kRsi] = info.boot_params;
    vcpu.ctx().gpr[kRsp] = info.stack_top;
    if (gdb_stub) gdb_stub->OnKernelLoaded(vcpu);  // at every (re)load: where will the kernel run?
    if (trace_symbols) trace_symbols->OnKernelLoaded(vcpu, pc.ram().size());
    return true;
  };
  SymbolLookup lookup;
  if (gdb_stub && opt.WantsTraceSymbols()) {
    Tracer::Get().SetSymbolizer([gdb_stub](uint64_t va) {
      const SymbolTable* s = gdb_stub->kernel_symbols();
      return s ? s->Describe(va) : std::string();
    });
  } else if (trace_symbols) {
    Tracer::Get().SetSymbolizer([trace_symbols](uint64_t va) { return trace_symbols->Describe(va); });
    lookup = [trace_symbols](const std::string& name, uint64_t* va) { return trace_symbols->Lookup(name, va); };
  }
  // SetUpTracing before the loader runs: the -D file must be open for the first event.
  if (!SetUpTracing(opt, lookup, /*names_later=*/true, &err)) return Fail(err);
  if (!board->SetBootLoader(loader, &err)) return Fail(opt.kernel + ": " + err);

  AltSignalStack alt_stack;
  if (!alt_stack.Install(&err)) return Fail(err);
  g_vcpu.store(&board->vcpu());
  if (!InstallStopHandlers(&err)) return Fail(err);
  if (opt.serial == SerialBackend::kStdio || opt.serial == SerialBackend::kMonStdio) {
    TerminalOptions t;
    t.escapes = opt.serial == SerialBackend::kMonStdio;
    Uart16550* uart = &board->uart();
    t.to_guest = [uart](std::span<const uint8_t> bytes) { uart->input().Push(bytes); };
    t.send_break = [uart] { uart->input().PushBreak(); };
    Vcpu* vcpu = &board->vcpu();
    t.quit = [vcpu] { vcpu->RequestStop(); };
    if (!terminal.Start(std::move(t), &err)) return Fail(err);
    InstallTerminalRestoreHandlers();
  }
  const auto start = std::chrono::steady_clock::now();
  auto run = [&board] { return board->Run(); };
  auto symbols_ready = [&opt, &lookup] {
    std::string why;
    if (!ApplyTraceFilter(opt, lookup, /*names_later=*/false, &why))
      std::fprintf(stderr, "xlat: warning: %s; nothing is traced\n", why.c_str());
  };
  RunOutcome outcome = gdb             ? RunWithDebugger(board->vcpu(), *gdb, run)
                       : trace_symbols ? RunFindingKernelSymbols(board->vcpu(), *trace_symbols, run, symbols_ready)
                                       : run();
  g_vcpu.store(nullptr);
  terminal.Stop();
  ExplainLinuxHalt(board->vcpu().ctx().rip, &outcome);
  return Finish(opt, outcome, board->stats(), json, start);
}

// Guest RAM is reserved lazily (MAP_NORESERVE), so a size beyond the host's
// memory would not fail at start but when the guest touches it, as the OOM
// killer ending the process. Refuse it up front instead.
bool CheckHostHasRam(uint64_t ram_bytes, std::string* error) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return true;  // unknown: let the mapping decide
  const uint64_t host = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  if (ram_bytes <= host) return true;
  char line[160];
  std::snprintf(line, sizeof line, "RAM size too large: -m %.1f GiB is more than this host's %.1f GiB of memory",
                ram_bytes / double(1ull << 30), host / double(1ull << 30));
  *error = line;
  return false;
}

int Main(int argc, char** argv) {
  std::vector<const char*> args(argv + 1, argv + argc);
  Options opt;
  std::string err;
  if (!ParseOptions(args, &opt, &err)) return Fail(err);
  switch (opt.action) {
    case Options::Action::kRun: break;
    case Options::Action::kHelp: std::fputs(HelpText().c_str(), stdout); return 0;
    case Options::Action::kVersion: std::fputs(VersionText().c_str(), stdout); return 0;
    case Options::Action::kListLogCategories: std::fputs(LogCategoriesText().c_str(), stdout); return 0;
    case Options::Action::kListAccelerators: std::fputs(AcceleratorsText().c_str(), stdout); return 0;
    case Options::Action::kListMachines: std::fputs(MachinesText().c_str(), stdout); return 0;
    case Options::Action::kListCpus: std::fputs(CpusText().c_str(), stdout); return 0;
  }
  if (!CheckImplemented(opt, &err)) return Fail(err);
  if (opt.kernel.empty()) return Fail("no guest program: give one with -kernel FILE (xlat -h lists the options)");
  if (!CheckHostHasRam(opt.ram_bytes, &err)) return Fail(err);

  StatsJsonFile json;
  if (!opt.stats_json_path.empty() && !json.Open(opt.stats_json_path, opt.kernel, &err)) return Fail(err);

  SerialFile serial_file;
  if (opt.serial == SerialBackend::kFile && !serial_file.Open(opt, &err)) return Fail(err);

  std::vector<uint8_t> kernel_file;
  if (!ReadFileBounded(opt.kernel, opt.ram_bytes + kKernelFileSlack, &kernel_file, &err))
    return Fail(opt.kernel + ": " + err);
  if (LooksLikeBzImage(kernel_file)) return RunLinux(opt, std::move(kernel_file), json, serial_file);
  return RunElf(opt, std::move(kernel_file), json, serial_file);
}

}  // namespace
}  // namespace xlat

int main(int argc, char** argv) {
  try {
    return xlat::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "xlat: internal error: %s\n", e.what());
    return 1;
  }
}
