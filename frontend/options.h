// The command line of xlat, in QEMU's vocabulary.
//
// Spelling rules (QEMU's, plus one convenience):
//  - every option may be written with one or two dashes: -kernel, --kernel;
//  - an option's value is the next argument, whatever it starts with
//    (`-append -v` gives "-v"); `-opt=value` is accepted as well;
//  - an argument that is not an option is an error (QEMU would take it as a
//    disk image; xlat has no disks yet);
//  - -h/-help and -version act at once, as in QEMU: what follows is not parsed.
// Repeated options: the last one wins (-kernel, -m, -d, -D, -initrd, -append,
// -gdb, --stats-json), as in QEMU.
// The options that describe the machine QEMU would build (-machine, -cpu,
// -smp, -display, -vga, -nic, -monitor, -rtc, -boot, ...) are accepted where
// they ask for what xlat's one machine is (a PC with one CPU, a serial port
// and no display, disk or network card), so that a QEMU command line for a
// direct kernel boot runs unchanged; asking for anything else is an error
// that says what the machine has. QEMU options for hardware xlat does not
// emulate (-drive, -netdev, -usb, -vnc, ...) are errors that say so. A second -serial, -accel or
// -device isa-debug-exit is an error: the board has one serial port and one
// debug-exit device, and QEMU reads repeated -accel as a fallback list, which
// with one accelerator can only be a mistake.
//
// ParseOptions() only reads the arguments: it touches no file. Options that
// are understood but not implemented yet are stored, and CheckImplemented()
// turns them into a clear error in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace xlat {

inline constexpr const char* kXlatVersion = "0.1.0";

inline constexpr uint64_t kDefaultRamBytes = 128ull << 20;
inline constexpr uint64_t kMinRamBytes = 1ull << 20;
inline constexpr uint64_t kMaxRamBytes = 1ull << 40;
inline constexpr uint64_t kDefaultCodeCacheMiB = 64;
inline constexpr uint64_t kMinCodeCacheMiB = 1;
inline constexpr uint64_t kMaxCodeCacheMiB = 1024;
inline constexpr unsigned kDefaultShadowSpaces = 8;
inline constexpr unsigned kMaxShadowSpaces = 64;
inline constexpr uint32_t kDefaultTraceThreshold = 20000;
inline constexpr uint32_t kMaxTraceThreshold = 1000000000;

// Where the guest's serial port (COM1) goes.
enum class SerialBackend {
  kStdio,     // stdout (the default, as with QEMU's -nographic)
  kMonStdio,  // QEMU's monitor multiplexed on stdio; no monitor yet: same as stdio
  kNone,      // output dropped (also QEMU's "null")
  kFile,      // file:PATH: output written to PATH (truncated), no input
};

struct Options {
  // What to do: run a guest, or print something and exit 0.
  enum class Action { kRun, kHelp, kVersion, kListLogCategories, kListAccelerators, kListMachines, kListCpus };
  Action action = Action::kRun;

  std::string kernel;                 // -kernel FILE
  std::string initrd;                 // -initrd FILE (Linux boot, later)
  std::optional<std::string> append;  // -append STRING (Linux boot, later); "" is a valid value
  uint64_t ram_bytes = kDefaultRamBytes;                    // -m
  uint64_t code_cache_bytes = kDefaultCodeCacheMiB << 20;  // -accel tcg,tb-size=N (MiB)
  unsigned shadow_spaces = kDefaultShadowSpaces;  // -accel tcg,shadow-spaces=N
  uint32_t trace_threshold = kDefaultTraceThreshold;  // -accel tcg,traces=N (0: none)
  bool precise_flags = false;                     // -accel tcg,precise-flags=on
  bool accel_given = false;

  SerialBackend serial = SerialBackend::kStdio;  // -serial
  bool serial_given = false;
  std::string serial_path;  // -serial file:PATH
  // -nodefaults: no default devices; COM1 then goes nowhere unless -serial
  // names a backend (as in QEMU, where it has no serial port at all).
  bool no_defaults = false;
  std::string name;  // -name NAME: accepted for QEMU command lines; names nothing yet
  bool nographic = false;  // -nographic: accepted; it is what xlat always does
  bool no_reboot = false;  // -no-reboot: stored (xlat never reboots: a triple fault ends the run)
  bool debug_exit_device = false;  // -device isa-debug-exit: the board always has it

  bool stats = false;           // --stats: report to stderr at exit
  bool count_insns = false;     // --count-insns: count guest instructions (for per-instruction rates)
  std::string stats_json_path;  // --stats-json PATH

  uint32_t log_mask = 0;      // -d LIST (LogCategory bits)
  std::string log_file;       // -D FILE
  std::string log_filter;     // -dfilter RANGES (resolved against symbols once the guest is loaded)
  int trace_cpl = -1;         // --trace-cpl N: only events at this privilege level; -1: any
  uint64_t flight_records = 0;  // --flight-recorder N: keep the last N events, dump them on a crash
  bool perf_map = false;      // --perf-map: write /tmp/perf-PID.map for perf(1)

  // Debugging: the gdb stub (frontend/gdb_stub.h).
  bool gdb_default_port = false;  // -s: shorthand for -gdb tcp::1234
  bool start_stopped = false;     // -S: do not start the CPU (needs -s or -gdb)
  std::string gdb_dev;            // -gdb DEV
  std::string symbols_path;       // --symbols FILE: guest kernel symbols (System.map or vmlinux)

  // The -gdb device the options ask for ("tcp::1234" for -s), or "" for none.
  std::string GdbDevice() const { return !gdb_dev.empty() ? gdb_dev : gdb_default_port ? "tcp::1234" : ""; }
  // Whether traces or the perf map name guest addresses (then symbols are prepared).
  bool WantsTraceSymbols() const { return log_mask || flight_records || perf_map || !log_filter.empty(); }
};

// Parses argv[1..] (args excludes the program name). False with *error set to
// a one-line message (without the "xlat: " prefix) on the first problem.
bool ParseOptions(std::span<const char* const> args, Options* out, std::string* error);

// False with *error for options that are parsed but not implemented yet.
bool CheckImplemented(const Options& options, std::string* error);

// Parses a size in QEMU's syntax: a decimal number (a fraction is allowed,
// "1.5G") or a 0x hex integer, optionally followed by one of B K M G T P E
// (either case; binary units). `default_unit` applies without a suffix.
// False with *error (the reason only) when the text is not such a size or the
// value does not fit in 64 bits.
bool ParseSize(std::string_view text, uint64_t default_unit, uint64_t* bytes, std::string* error);

// The texts printed for the Action values other than kRun.
std::string HelpText();
std::string VersionText();
std::string LogCategoriesText();
std::string AcceleratorsText();
std::string MachinesText();
std::string CpusText();

}  // namespace xlat
