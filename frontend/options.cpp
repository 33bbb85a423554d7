#include "frontend/options.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

#include "frontend/log_categories.h"

namespace xlat {
namespace {

// Wide enough that no size arithmetic below can overflow before it is checked.
__extension__ typedef unsigned __int128 Uint128;

using Handler = bool (*)(Options& o, std::string_view value, std::string* error);

// One row per option: the option table is the parser and the help text.
struct OptionSpec {
  const char* section;   // help heading; a row with a new heading starts a group
  const char* names[2];  // without dashes; names[1] is an alias or nullptr
  const char* arg;       // value placeholder for the help, nullptr for a flag
  const char* help;
  Handler apply;
};

std::vector<std::string_view> SplitCommas(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

bool NotEmpty(std::string_view value, const char* what, std::string* error) {
  if (!value.empty()) return true;
  *error = std::string("empty ") + what;
  return false;
}

// Parses a decimal integer without sign or suffix; false if not one or > max.
bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  Uint128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

// ---- -m [size=]SIZE ----

bool ApplyMemory(Options& o, std::string_view value, std::string* error) {
  std::optional<std::string_view> size_text;
  bool first = true;
  for (std::string_view item : SplitCommas(value)) {
    if (item.empty()) {
      *error = "empty item in the memory description";
      return false;
    }
    size_t eq = item.find('=');
    std::string_view key = eq == std::string_view::npos ? std::string_view("size") : item.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? item : item.substr(eq + 1);
    if (eq == std::string_view::npos && !first) {
      *error = "'" + std::string(item) + "': expected key=value";
      return false;
    }
    first = false;
    if (key == "size") {
      size_text = val;
    } else if (key == "slots" || key == "maxmem") {
      *error = "memory hotplug ('" + std::string(key) + "') is not supported";
      return false;
    } else {
      *error = "unknown memory property '" + std::string(key) + "' (only size is supported)";
      return false;
    }
  }
  if (!size_text) {
    *error = "no RAM size given";
    return false;
  }
  uint64_t bytes = 0;
  std::string why;
  if (!ParseSize(*size_text, 1ull << 20, &bytes, &why)) {
    *error = "invalid RAM size: " + why;
    return false;
  }
  if (bytes == 0) {
    *error = "RAM size must be greater than 0";
  } else if (bytes < kMinRamBytes) {
    *error = "RAM size too small: the minimum is 1 MiB";
  } else if (bytes > kMaxRamBytes) {
    *error = "RAM size too large: the maximum is 1 TiB";
  } else if (bytes % 4096 != 0) {
    *error = "RAM size must be a multiple of 4 KiB";
  } else {
    o.ram_bytes = bytes;
    return true;
  }
  return false;
}

// ---- -accel tcg[,tb-size=N] ----

bool ApplyAccel(Options& o, std::string_view value, std::string* error) {
  // -accel is QEMU's fallback list (the first usable accelerator wins), not a
  // setting the last one overrides; with one accelerator a repeat is a mistake.
  if (o.accel_given) {
    *error = "-accel was already given; xlat has one accelerator (tcg)";
    return false;
  }
  std::optional<std::string_view> name;
  std::optional<uint64_t> tb_mib, spaces;
  bool first = true;
  for (std::string_view item : SplitCommas(value)) {
    if (item.empty()) {
      *error = "empty item in the accelerator description";
      return false;
    }
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (!first) {
        *error = "'" + std::string(item) + "': expected key=value";
        return false;
      }
      name = item;
    } else {
      std::string_view key = item.substr(0, eq), val = item.substr(eq + 1);
      if (key == "accel") {
        name = val;
      } else if (key == "tb-size") {
        uint64_t mib = 0;
        if (!ParseDecimal(val, std::numeric_limits<uint64_t>::max(), &mib) || mib < kMinCodeCacheMiB ||
            mib > kMaxCodeCacheMiB) {
          *error = "tb-size must be a whole number of MiB from 1 to 1024";
          return false;
        }
        tb_mib = mib;
      } else if (key == "shadow-spaces") {
        uint64_t n = 0;
        if (!ParseDecimal(val, std::numeric_limits<uint64_t>::max(), &n) || n > kMaxShadowSpaces) {
          *error = "shadow-spaces must be a whole number from 0 to " + std::to_string(kMaxShadowSpaces);
          return false;
        }
        spaces = n;
      } else if (key == "traces") {
        uint64_t n = 0;
        if (!ParseDecimal(val, std::numeric_limits<uint64_t>::max(), &n) || n > kMaxTraceThreshold) {
          *error = "traces must be a whole number from 0 (no traces) to " + std::to_string(kMaxTraceThreshold);
          return false;
        }
        o.trace_threshold = static_cast<uint32_t>(n);
      } else if (key == "precise-flags") {
        if (val == "on") {
          o.precise_flags = true;
        } else if (val == "off") {
          o.precise_flags = false;
        } else {
          *error = "precise-flags must be on or off";
          return false;
        }
      } else {
        *error = "unknown tcg property '" + std::string(key) +
                 "' (xlat's tcg has tb-size, shadow-spaces, traces and precise-flags)";
        return false;
      }
    }
    first = false;
  }
  if (!name) {
    *error = "no accelerator named (use -accel tcg[,tb-size=N])";
    return false;
  }
  if (*name == "help") {
    o.action = Options::Action::kListAccelerators;
    return true;
  }
  if (*name != "tcg") {
    *error = "accelerator '" + std::string(*name) +
             "' is not available: xlat translates code and uses no hardware virtualization (use tcg)";
    return false;
  }
  o.code_cache_bytes = (tb_mib ? *tb_mib : kDefaultCodeCacheMiB) << 20;
  if (spaces) o.shadow_spaces = static_cast<unsigned>(*spaces);
  o.accel_given = true;
  return true;
}

// ---- -serial DEV ----

bool ApplySerial(Options& o, std::string_view value, std::string* error) {
  if (o.serial_given) {
    *error = "only one serial port is emulated, and -serial was already given";
    return false;
  }
  if (value == "stdio") {
    o.serial = SerialBackend::kStdio;
  } else if (value == "mon:stdio") {
    o.serial = SerialBackend::kMonStdio;
  } else if (value == "none" || value == "null") {
    o.serial = SerialBackend::kNone;
  } else if (value.starts_with("file:")) {
    if (value.size() == 5) {
      *error = "file: needs a path (file:PATH)";
      return false;
    }
    o.serial = SerialBackend::kFile;
    o.serial_path = value.substr(5);
  } else {
    *error = "unsupported serial backend (xlat supports stdio, mon:stdio, file:PATH, null and none)";
    return false;
  }
  o.serial_given = true;
  return true;
}

// ---- -device isa-debug-exit[,iobase=0xf4][,iosize=N] ----

bool ApplyDevice(Options& o, std::string_view value, std::string* error) {
  std::vector<std::string_view> items = SplitCommas(value);
  std::string_view driver = items[0];
  if (driver.starts_with("driver=")) driver.remove_prefix(7);
  if (driver != "isa-debug-exit") {
    *error = "device '" + std::string(driver) +
             "' is not emulated (the board has a serial port on 0x3f8 and isa-debug-exit on 0xf4)";
    return false;
  }
  if (o.debug_exit_device) {
    *error = "isa-debug-exit was already given; the board has one";
    return false;
  }
  for (size_t i = 1; i < items.size(); ++i) {
    std::string_view item = items[i];
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    uint64_t n = 0;
    std::string why;
    bool number = ParseSize(val, 1, &n, &why);
    if (key == "iobase") {
      if (!number || n != 0xf4) {
        *error = "isa-debug-exit is fixed at iobase=0xf4";
        return false;
      }
    } else if (key == "iosize") {
      if (!number || (n != 1 && n != 2 && n != 4)) {
        *error = "isa-debug-exit iosize must be 1, 2 or 4";
        return false;
      }
    } else {
      *error = "unknown isa-debug-exit property '" + std::string(key) + "' (it has iobase and iosize)";
      return false;
    }
  }
  o.debug_exit_device = true;
  return true;
}

// ---- -d LIST ----

bool ApplyLog(Options& o, std::string_view value, std::string* error) {
  uint32_t mask = 0;
  for (std::string_view item : SplitCommas(value)) {
    if (item == "help") {
      o.action = Options::Action::kListLogCategories;
      return true;
    }
    bool found = false;
    for (const LogCategoryInfo& c : kLogCategories) {
      if (c.name == item) {
        mask |= c.bit;
        found = true;
      }
    }
    if (!found) {
      *error = item.empty() ? std::string("empty logging category")
                            : "unknown logging category '" + std::string(item) + "' (-d help lists them)";
      return false;
    }
  }
  o.log_mask = mask;
  return true;
}

// ---- The machine QEMU would build: xlat's is fixed ----
//
// A PC (i440FX host bridge, PIIX3) with one CPU of one model, a 16550 on COM1,
// isa-debug-exit, and no display, disk, network card, USB or sound. These
// options are accepted where they describe that machine.

constexpr const char* kNoKvm =
    "KVM is not available: xlat translates code and uses no hardware virtualization (use -accel tcg)";

// A decimal count from 1 to `max`.
bool ParseCount(std::string_view text, uint64_t max, uint64_t* n) {
  return ParseDecimal(text, max, n) && *n >= 1;
}

// Walks a QEMU property list, "[FIRST=]V,KEY=V,...": the first item may
// leave out its key (`first_key`, unless that is empty); every other one
// must be key=value. fn(key, value) returns false, with *error set, to stop.
template <typename Fn>
bool ForEachProperty(std::string_view value, std::string_view first_key, std::string* error, Fn&& fn) {
  bool first = true;
  for (std::string_view item : SplitCommas(value)) {
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos && (!first || first_key.empty())) {
      *error = "'" + std::string(item) + "': expected key=value";
      return false;
    }
    first = false;
    if (!fn(eq == std::string_view::npos ? first_key : item.substr(0, eq),
            eq == std::string_view::npos ? item : item.substr(eq + 1)))
      return false;
  }
  return true;
}

// -smp [cpus=]N[,maxcpus=N][,sockets=N][,dies=N][,clusters=N][,cores=N][,threads=N]
bool ApplySmp(Options&, std::string_view value, std::string* error) {
  std::optional<uint64_t> cpus, maxcpus;
  bool topology_of_one = true;  // every socket, die, cluster, core and thread count is 1
  const bool parsed = ForEachProperty(value, "cpus", error, [&](std::string_view key, std::string_view val) {
    uint64_t n = 0;
    if (!ParseCount(val, 1u << 20, &n)) {
      *error = "'" + std::string(val) + "': a count is a whole number from 1";
      return false;
    }
    if (key == "cpus") {
      cpus = n;
    } else if (key == "maxcpus") {
      maxcpus = n;
    } else if (key == "sockets" || key == "dies" || key == "clusters" || key == "cores" || key == "threads" ||
               key == "books" || key == "drawers") {
      topology_of_one = topology_of_one && n == 1;
    } else {
      *error = "unknown -smp property '" + std::string(key) + "'";
      return false;
    }
    return true;
  });
  if (!parsed) return false;
  if ((cpus && *cpus != 1) || (maxcpus && *maxcpus != 1) || !topology_of_one) {
    *error = "xlat emulates one CPU: only -smp 1 is possible";
    return false;
  }
  return true;
}

// -cpu MODEL: xlat's one model is what its translator supports (x86-64-v3,
// AES-NI, PCLMULQDQ; CPUID reports exactly that). "max" names it, as in
// QEMU's TCG; "host" too, since it runs on the host (a subset of its features).
bool ApplyCpu(Options& o, std::string_view value, std::string* error) {
  std::vector<std::string_view> items = SplitCommas(value);
  if (items[0] == "help") {
    o.action = Options::Action::kListCpus;
    return true;
  }
  if (items[0] != "max" && items[0] != "host") {
    *error = "CPU model '" + std::string(items[0]) +
             "' is not available: xlat has one model, max (the x86-64-v3 features it translates; host names it too)";
    return false;
  }
  if (items.size() > 1) {
    *error = "'" + std::string(items[1]) + "': the CPU's features are fixed (CPUID reports what xlat translates)";
    return false;
  }
  return true;
}

// -machine [type=]TYPE[,accel=tcg][,usb=off][,vmport=off][,hpet=off][,graphics=on|off]
bool ApplyMachine(Options& o, std::string_view value, std::string* error) {
  const bool parsed = ForEachProperty(value, "type", error, [&](std::string_view key, std::string_view val) {
    const bool off = val == "off" || val == "false" || val == "no";
    const bool on = val == "on" || val == "true" || val == "yes";
    if (key == "type") {
      if (val == "help") {
        o.action = Options::Action::kListMachines;  // (acts at once: the rest is not read)
        return false;
      }
      if (val != "pc" && !val.starts_with("pc-i440fx-")) {
        *error = "machine '" + std::string(val) + "' is not available: xlat's machine is pc (i440FX and PIIX3)";
        return false;
      }
    } else if (key == "accel") {
      if (val != "tcg") {
        *error = val == "kvm" ? std::string(kNoKvm) : "accelerator '" + std::string(val) + "' is not available (use accel=tcg)";
        return false;
      }
    } else if (key == "usb" || key == "vmport" || key == "hpet") {
      // (vmport's default, auto, means none under TCG.)
      if (!off && !(key == "vmport" && val == "auto")) {
        *error = "the machine has no " +
                 std::string(key == "usb" ? "USB controller" : key == "hpet" ? "HPET" : "VMware port") + " (" +
                 std::string(key) + "=off)";
        return false;
      }
    } else if (key == "graphics") {
      if (!on && !off) {
        *error = "graphics is on or off";
        return false;
      }
    } else {
      *error = "unknown machine property '" + std::string(key) +
               "' (xlat's pc takes accel, usb, vmport, hpet and graphics)";
      return false;
    }
    return true;
  });
  return parsed || o.action == Options::Action::kListMachines;
}

// -display none, -vga none, -nic none, -net none, -monitor none: the only
// choice the machine has (QEMU's "none" may carry options after a comma).
template <const char* kWhy>
bool OnlyNone(Options&, std::string_view value, std::string* error) {
  if (SplitCommas(value)[0] == "none") return true;
  *error = kWhy;
  return false;
}
constexpr char kNoDisplay[] =
    "xlat has no display: the guest's console is the serial port (use -display none or -nographic)";
constexpr char kNoVga[] = "no graphics card is emulated (use -vga none)";
constexpr char kNoNic[] = "no network card is emulated (use -nic none)";
constexpr char kNoMonitor[] = "xlat has no monitor (use -monitor none; Ctrl-A x quits from the serial console)";

// -rtc [base=utc][,clock=host][,driftfix=none]: the RTC keeps the host's UTC time.
bool ApplyRtc(Options&, std::string_view value, std::string* error) {
  return ForEachProperty(value, "", error, [&](std::string_view key, std::string_view val) {
    if (key == "base" && val != "utc") {
      *error = "the RTC keeps the host's time in UTC (base=utc)";
    } else if (key == "clock" && val != "host") {
      *error = "the RTC follows the host's clock (clock=host)";
    } else if (key == "driftfix" && val != "none") {
      *error = "no RTC drift correction is done (driftfix=none)";
    } else if (key != "base" && key != "clock" && key != "driftfix") {
      *error = "unknown -rtc property '" + std::string(key) + "' (base, clock and driftfix)";
    } else {
      return true;
    }
    return false;
  });
}

// QEMU options for what the machine does not have: each an error that says so.
struct Unsupported {
  const char* names[10];
  const char* why;
};
const Unsupported kUnsupported[] = {
    {{"drive", "hda", "hdb", "hdc", "hdd", "cdrom", "fda", "fdb", "sd", "mtdblock"},
     "no disks are emulated: the guest boots with -kernel and -initrd"},
    {{"snapshot", "pflash"}, "no disks are emulated: the guest boots with -kernel and -initrd"},
    {{"bios", "L", "option-rom"}, "no firmware: xlat boots the -kernel directly"},
    {{"netdev"}, "no network card is emulated"},
    {{"vnc", "spice", "full-screen"}, "xlat has no display: the guest's console is the serial port"},
    {{"usb", "usbdevice"}, "no USB controller is emulated"},
    {{"audiodev", "soundhw", "audio"}, "no sound card is emulated"},
    {{"chardev", "mon", "qmp", "qmp-pretty"}, "xlat has no monitor and no character devices but the serial port"},
    {{"incoming", "loadvm"}, "xlat has no snapshots or migration"},
    {{"no-shutdown"}, "xlat exits when the guest powers off (it has no monitor to keep it stopped)"},
    {{"enable-kvm"}, kNoKvm},
    {{"daemonize"}, "xlat runs in the foreground"},
};

const char* UnsupportedReason(std::string_view name) {
  for (const Unsupported& u : kUnsupported)
    for (const char* n : u.names)
      if (n && name == n) return u.why;
  return nullptr;
}

constexpr const char* kMachineSection = "Machine (QEMU's options, where they describe xlat's one machine)";

const OptionSpec kOptionTable[] = {
    {"Standard options", {"h", "help"}, nullptr, "print this help and exit",
     [](Options& o, std::string_view, std::string*) {
       o.action = Options::Action::kHelp;
       return true;
     }},
    {"Standard options", {"version", nullptr}, nullptr, "print the version and exit",
     [](Options& o, std::string_view, std::string*) {
       o.action = Options::Action::kVersion;
       return true;
     }},
    {"Standard options", {"m", nullptr}, "[size=]SIZE",
     "guest RAM (default 128M): MiB, or suffix K/M/G/T; 1M..1T, a multiple of 4K",
     ApplyMemory},
    {"Standard options", {"accel", nullptr}, "tcg[,tb-size=N][,shadow-spaces=N][,traces=N][,precise-flags=on|off]",
     "the translator; tb-size: code cache in MiB, 1..1024 (default 64); shadow-spaces: guest address "
     "spaces kept across CR3 writes, 0..64 (default 8; 0 flushes on every CR3 write); traces: entries "
     "after which an indirect jump's target starts a trace (default 20000; 0: none); precise-flags: "
     "exact arithmetic flags in every exception frame, also where no instruction reads them (default off: faster)",
     ApplyAccel},
    {"Standard options", {"nographic", nullptr}, nullptr, "no display; serial on the terminal (always the case)",
     [](Options& o, std::string_view, std::string*) {
       o.nographic = true;
       return true;
     }},
    {"Standard options", {"no-reboot", nullptr}, nullptr, "when the guest resets the machine, exit (status 0) instead of rebooting",
     [](Options& o, std::string_view, std::string*) {
       o.no_reboot = true;
       return true;
     }},
    {"Devices", {"serial", nullptr}, "DEV",
     "where COM1 goes: stdio (default), mon:stdio, file:PATH (output only), null or none", ApplySerial},
    {"Devices", {"device", nullptr}, "DEV",
     "only isa-debug-exit[,iobase=0xf4][,iosize=N], which the board always has", ApplyDevice},
    {kMachineSection, {"machine", "M"}, "TYPE[,PROP=VALUE...]",
     "pc (i440FX, PIIX3): the one machine; accel=tcg, usb/vmport/hpet=off and graphics=on|off are accepted "
     "('-machine help')",
     ApplyMachine},
    {kMachineSection, {"cpu", nullptr}, "MODEL",
     "max, or host: the one CPU model, with the x86-64-v3 features xlat translates ('-cpu help')", ApplyCpu},
    {kMachineSection, {"smp", nullptr}, "[cpus=]N[,...]",
     "number of CPUs: 1", ApplySmp},
    {kMachineSection, {"display", nullptr}, "none",
     "no display: the serial port is the console", OnlyNone<kNoDisplay>},
    {kMachineSection, {"vga", nullptr}, "none",
     "no graphics card", OnlyNone<kNoVga>},
    {kMachineSection, {"nic", "net"}, "none",
     "no network card", OnlyNone<kNoNic>},
    {kMachineSection, {"monitor", nullptr}, "none",
     "no monitor (Ctrl-A x quits)", OnlyNone<kNoMonitor>},
    {kMachineSection, {"nodefaults", nullptr}, nullptr,
     "no default devices: COM1 goes nowhere unless -serial names a backend",
     [](Options& o, std::string_view, std::string*) {
       o.no_defaults = true;
       return true;
     }},
    {kMachineSection, {"rtc", nullptr},
     "[base=utc][,clock=host][,driftfix=none]", "the RTC keeps the host's time, in UTC", ApplyRtc},
    {kMachineSection, {"boot", nullptr}, "OPTIONS",
     "the firmware's boot order: accepted, and without effect (the -kernel is booted directly)",
     [](Options&, std::string_view, std::string*) { return true; }},
    {kMachineSection, {"name", nullptr}, "NAME",
     "the guest's name: accepted, used nowhere yet",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "name", e)) return false;
       o.name = v;
       return true;
     }},
    {"Boot", {"kernel", nullptr}, "FILE", "the guest: a Linux bzImage, or a static ELF64 x86-64 program (required)",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "file name", e)) return false;
       o.kernel = v;
       return true;
     }},
    {"Boot", {"initrd", nullptr}, "FILE", "initial RAM disk, for a Linux kernel (not with an ELF -kernel)",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "file name", e)) return false;
       o.initrd = v;
       return true;
     }},
    {"Boot", {"append", nullptr}, "STRING", "kernel command line, for a Linux kernel (not with an ELF -kernel)",
     [](Options& o, std::string_view v, std::string*) {
       o.append = std::string(v);
       return true;
     }},
    {"Debugging", {"d", nullptr}, "LIST", "enable trace categories, comma-separated ('-d help' lists them)",
     ApplyLog},
    {"Debugging", {"D", nullptr}, "FILE", "write the -d trace to FILE instead of stderr",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "file name", e)) return false;
       o.log_file = v;
       return true;
     }},
    {"Debugging", {"dfilter", nullptr}, "RANGES",
     "trace only guest code in RANGES: ADDR+SIZE, ADDR-SIZE, ADDR..END or a symbol, comma-separated",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "range list", e)) return false;
       o.log_filter = v;
       return true;
     }},
    {"Debugging", {"trace-cpl", nullptr}, "N", "trace only events at privilege level N (0..3)",
     [](Options& o, std::string_view v, std::string* e) {
       if (v.size() != 1 || v[0] < '0' || v[0] > '3') {
         *e = "the privilege level is 0, 1, 2 or 3";
         return false;
       }
       o.trace_cpl = v[0] - '0';
       return true;
     }},
    {"Debugging", {"flight-recorder", nullptr}, "N",
     "keep the last N trace events in memory (-d, default int,exits,io) and write them out on a "
     "triple fault, panic, hang or SIGUSR1",
     [](Options& o, std::string_view v, std::string* e) {
       uint64_t n = 0;
       auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
       if (ec != std::errc() || end != v.data() + v.size() || n == 0 || n > 100'000'000) {
         *e = "the number of events is 1..100000000";
         return false;
       }
       o.flight_records = n;
       return true;
     }},
    {"Debugging", {"perf-map", nullptr}, nullptr, "write /tmp/perf-PID.map so perf(1) names translated code",
     [](Options& o, std::string_view, std::string*) {
       o.perf_map = true;
       return true;
     }},
    {"Debugging", {"gdb", nullptr}, "DEV", "accept a gdb connection on DEV (tcp::PORT or tcp:HOST:PORT)",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "device", e)) return false;
       o.gdb_dev = v;
       return true;
     }},
    {"Debugging", {"s", nullptr}, nullptr, "shorthand for -gdb tcp::1234",
     [](Options& o, std::string_view, std::string*) {
       o.gdb_default_port = true;
       return true;
     }},
    {"Debugging", {"S", nullptr}, nullptr, "do not start the CPU until gdb says so (with -s or -gdb)",
     [](Options& o, std::string_view, std::string*) {
       o.start_stopped = true;
       return true;
     }},
    {"Debugging", {"symbols", nullptr}, "FILE",
     "guest kernel symbols for gdb and traces: a System.map or vmlinux (default: the kernel's own kallsyms)",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "file name", e)) return false;
       o.symbols_path = v;
       return true;
     }},
    {"Statistics", {"stats", nullptr}, nullptr, "print translation statistics to stderr at exit",
     [](Options& o, std::string_view, std::string*) {
       o.stats = true;
       return true;
     }},
    {"Statistics", {"count-insns", nullptr}, nullptr,
     "count the guest instructions executed (a few host instructions per block), so that the statistics "
     "give exits per million instructions",
     [](Options& o, std::string_view, std::string*) {
       o.count_insns = true;
       return true;
     }},
    {"Statistics", {"stats-json", nullptr}, "PATH", "write the statistics as JSON to PATH at exit",
     [](Options& o, std::string_view v, std::string* e) {
       if (!NotEmpty(v, "path", e)) return false;
       o.stats_json_path = v;
       return true;
     }},
};

const OptionSpec* FindOption(std::string_view name) {
  for (const OptionSpec& spec : kOptionTable) {
    for (const char* n : spec.names) {
      if (n && name == n) return &spec;
    }
  }
  return nullptr;
}

}  // namespace

bool ParseSize(std::string_view text, uint64_t default_unit, uint64_t* bytes, std::string* error) {
  const std::string quoted = "'" + std::string(text) + "'";
  if (text.empty()) {
    *error = "empty size";
    return false;
  }
  size_t i = 0;
  Uint128 whole = 0;
  uint64_t frac = 0, frac_den = 1;
  auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  constexpr Uint128 kMax = std::numeric_limits<uint64_t>::max();
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    i = 2;
    size_t start = i;
    for (; i < text.size() && hex_digit(text[i]) >= 0; ++i) {
      whole = whole * 16 + static_cast<unsigned>(hex_digit(text[i]));
      if (whole > kMax) break;
    }
    if (i == start) {
      *error = quoted + " is not a size";
      return false;
    }
  } else {
    size_t start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
      if (whole > kMax) break;
    }
    if (i == start) {
      *error = quoted + " is not a size";
      return false;
    }
    if (i < text.size() && text[i] == '.') {
      size_t fstart = ++i;
      for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        if (i - fstart >= 9) {
          *error = quoted + " has too many decimal places";
          return false;
        }
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_den *= 10;
      }
      if (i == fstart) {
        *error = quoted + " is not a size";
        return false;
      }
    }
  }
  if (whole > kMax) {
    *error = quoted + " is too large";
    return false;
  }
  uint64_t unit = default_unit;
  if (i < text.size()) {
    static constexpr std::string_view kSuffixes = "BKMGTPE";
    char c = text[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    size_t pos = kSuffixes.find(c);
    if (pos == std::string_view::npos || i + 1 != text.size()) {
      *error = quoted + " is not a size (suffixes: K, M, G, T)";
      return false;
    }
    unit = uint64_t{1} << (10 * pos);
  }
  // whole < 2^64 and unit <= 2^60, frac < 10^9: no 128-bit overflow.
  Uint128 value = whole * unit + static_cast<Uint128>(frac) * unit / frac_den;
  if (value > kMax) {
    *error = quoted + " is too large";
    return false;
  }
  *bytes = static_cast<uint64_t>(value);
  return true;
}

bool ParseOptions(std::span<const char* const> args, Options* out, std::string* error) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view token = args[i];
    if (token.size() < 2 || token[0] != '-') {
      *error = (token.empty() ? std::string("''") : std::string(token)) +
               ": unexpected argument (give the guest program with -kernel FILE)";
      return false;
    }
    // QEMU treats --foo as -foo.
    std::string_view name = token.substr(token[1] == '-' ? 2 : 1);
    std::string_view spelling = token;
    std::optional<std::string_view> inline_value;
    const OptionSpec* spec = FindOption(name);
    if (!spec) {
      size_t eq = name.find('=');
      if (eq != std::string_view::npos && (spec = FindOption(name.substr(0, eq)))) {
        inline_value = name.substr(eq + 1);
        spelling = token.substr(0, token.size() - name.size() + eq);
      }
    }
    if (!spec) {
      const size_t eq = name.find('=');
      if (const char* why = UnsupportedReason(name.substr(0, eq))) {
        *error = std::string(token.substr(0, token.size() - name.size() + std::min(eq, name.size()))) +
                 ": not supported: " + why;
      } else {
        *error = std::string(token) + ": invalid option";
      }
      return false;
    }
    std::string_view value;
    if (spec->arg) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        *error = std::string(spelling) + ": requires an argument";
        return false;
      }
    } else if (inline_value) {
      *error = std::string(spelling) + ": does not take an argument";
      return false;
    }
    std::string why;
    if (!spec->apply(o, value, &why)) {
      // "-m 0: ...", as QEMU names the option and its value; "-kernel: ..." when the value is empty.
      *error = std::string(spelling) + (value.empty() ? std::string() : " " + std::string(value)) + ": " + why;
      return false;
    }
    // -h, -version, -d help, -accel help, -machine help and -cpu help act
    // at once, as in QEMU.
    if (o.action != Options::Action::kRun) break;
  }
  if (o.no_defaults && !o.serial_given) o.serial = SerialBackend::kNone;
  *out = std::move(o);
  return true;
}

bool CheckImplemented(const Options& o, std::string* error) {
  if (o.start_stopped && o.GdbDevice().empty()) {
    // QEMU would wait for its monitor's "cont"; xlat has no monitor.
    *error = "-S: needs -s or -gdb DEV (only gdb can start the CPU)";
  } else if (!o.symbols_path.empty() && o.GdbDevice().empty() && !o.WantsTraceSymbols()) {
    *error = "--symbols " + o.symbols_path + ": names addresses for gdb and traces; give -s, -gdb DEV, -d or --perf-map too";
  } else {
    return true;
  }
  return false;
}

std::string HelpText() {
  std::string s = "usage: xlat [options] -kernel FILE\n"
                  "Runs an x86-64 guest by dynamic binary translation. Options take one dash or two;\n"
                  "a value follows as the next argument or after '='.\n";
  const char* section = nullptr;
  for (const OptionSpec& spec : kOptionTable) {
    if (!section || std::string_view(section) != spec.section) {
      section = spec.section;
      s += "\n";
      s += section;
      s += ":\n";
    }
    std::string left = std::string("-") + spec.names[0];
    if (spec.names[1]) left += std::string(", -") + spec.names[1];
    if (spec.arg) left += std::string(" ") + spec.arg;
    // Names and placeholders in a 24-column field; a longer one pushes the text right.
    if (left.size() < 24) left.resize(24, ' ');
    else left += "  ";
    s += left + spec.help + "\n";
  }
  s += "\nExit status: the guest's isa-debug-exit value (V << 1) | 1; 0 when the guest powers off,\n"
       "halts with interrupts off or resets with -no-reboot; 1 on errors; 2 on an unhandled guest\n"
       "exception, a triple fault, a kernel panic or hang, or a kernel that fails to boot;\n"
       "128+N when stopped by signal N.\n";
  return s;
}

std::string VersionText() {
  return std::string("xlat version ") + kXlatVersion + " (x86-64 dynamic binary translator)\n";
}

std::string LogCategoriesText() {
  std::string s = "Log items (comma separated):\n";
  for (const LogCategoryInfo& c : kLogCategories) {
    std::string name(c.name);
    name.resize(std::max<size_t>(name.size() + 1, 14), ' ');
    s += name + std::string(c.help) + "\n";
  }
  return s;
}

std::string AcceleratorsText() { return "Accelerators supported in xlat:\ntcg\n"; }

std::string MachinesText() {
  return "Supported machines are:\n"
         "pc                   Standard PC (i440FX + PIIX3) with one CPU, a 16550 serial port and\n"
         "                     isa-debug-exit; no display, disk, network card, USB or sound\n";
}

std::string CpusText() {
  return "Available CPUs:\n"
         "x86 max              the CPU xlat translates for: x86-64-v3 (AVX2, FMA, BMI1/2, F16C, MOVBE,\n"
         "                     LZCNT), ADX, AES-NI and PCLMULQDQ, as CPUID reports\n"
         "x86 host             the same model (it runs on the host)\n";
}

}  // namespace xlat
