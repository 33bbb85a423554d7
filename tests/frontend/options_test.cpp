// The option parser: every option in every spelling, and every error.
#include "frontend/options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "frontend/log_categories.h"

namespace xlat {
namespace {

constexpr uint64_t KiB = 1ull << 10, MiB = 1ull << 20, GiB = 1ull << 30, TiB = 1ull << 40;

Options Parse(std::initializer_list<const char*> args) {
  std::vector<const char*> v(args);
  Options o;
  std::string error;
  EXPECT_TRUE(ParseOptions(v, &o, &error)) << error;
  EXPECT_EQ(error, "");
  return o;
}

std::string ParseError(std::initializer_list<const char*> args) {
  std::vector<const char*> v(args);
  Options o;
  std::string error;
  EXPECT_FALSE(ParseOptions(v, &o, &error));
  EXPECT_EQ(error.find('\n'), std::string::npos) << "error is not one line: " << error;
  return error;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED2(Contains, haystack, needle)

// ---- Defaults and spellings ----

TEST(Options, Defaults) {
  Options o = Parse({});
  EXPECT_EQ(o.action, Options::Action::kRun);
  EXPECT_EQ(o.kernel, "");
  EXPECT_EQ(o.ram_bytes, 128 * MiB);
  EXPECT_EQ(o.code_cache_bytes, 64 * MiB);
  EXPECT_EQ(o.serial, SerialBackend::kStdio);
  EXPECT_FALSE(o.stats);
  EXPECT_EQ(o.stats_json_path, "");
  EXPECT_EQ(o.log_mask, 0u);
  EXPECT_FALSE(o.append.has_value());
  EXPECT_FALSE(o.no_reboot);
  EXPECT_FALSE(o.nographic);
  EXPECT_FALSE(o.gdb_default_port);
  EXPECT_FALSE(o.start_stopped);
  EXPECT_EQ(o.gdb_dev, "");
  std::string error;
  EXPECT_TRUE(CheckImplemented(o, &error));
}

TEST(Options, KernelInEverySpelling) {
  EXPECT_EQ(Parse({"-kernel", "a.elf"}).kernel, "a.elf");
  EXPECT_EQ(Parse({"--kernel", "a.elf"}).kernel, "a.elf");
  EXPECT_EQ(Parse({"-kernel=a.elf"}).kernel, "a.elf");
  EXPECT_EQ(Parse({"--kernel=a.elf"}).kernel, "a.elf");
  EXPECT_EQ(Parse({"-kernel=x=y"}).kernel, "x=y");
}

TEST(Options, KernelLastWins) { EXPECT_EQ(Parse({"-kernel", "a", "-kernel", "b"}).kernel, "b"); }

TEST(Options, KernelErrors) {
  EXPECT_EQ(ParseError({"-kernel"}), "-kernel: requires an argument");
  EXPECT_EQ(ParseError({"--kernel"}), "--kernel: requires an argument");
  EXPECT_EQ(ParseError({"-kernel", ""}), "-kernel: empty file name");
  EXPECT_EQ(ParseError({"-kernel="}), "-kernel: empty file name");
}

TEST(Options, ValueMayStartWithADash) {
  Options o = Parse({"-append", "-v", "-kernel", "-weird-name"});
  EXPECT_EQ(o.append, "-v");
  EXPECT_EQ(o.kernel, "-weird-name");
}

// ---- Unknown options and stray arguments ----

TEST(Options, UnknownOption) {
  EXPECT_EQ(ParseError({"-foo"}), "-foo: invalid option");
  EXPECT_EQ(ParseError({"--foo"}), "--foo: invalid option");
  EXPECT_EQ(ParseError({"-foo=1"}), "-foo=1: invalid option");
  EXPECT_EQ(ParseError({"--"}), "--: invalid option");
  EXPECT_EQ(ParseError({"---kernel", "x"}), "---kernel: invalid option");
  EXPECT_EQ(ParseError({"-no-such-option"}), "-no-such-option: invalid option");
  // Option names are case-sensitive, as in QEMU (-d and -D are different options).
  EXPECT_EQ(ParseError({"-KERNEL", "x"}), "-KERNEL: invalid option");
}

TEST(Options, StrayArgument) {
  EXPECT_CONTAINS(ParseError({"disk.img"}), "disk.img: unexpected argument");
  EXPECT_CONTAINS(ParseError({"disk.img"}), "-kernel FILE");
  EXPECT_CONTAINS(ParseError({"-"}), "-: unexpected argument");
  EXPECT_CONTAINS(ParseError({""}), "unexpected argument");
  EXPECT_CONTAINS(ParseError({"-kernel", "a", "b"}), "b: unexpected argument");
}

TEST(Options, FlagWithValue) {
  EXPECT_EQ(ParseError({"--stats=1"}), "--stats: does not take an argument");
  EXPECT_EQ(ParseError({"-nographic=yes"}), "-nographic: does not take an argument");
}

TEST(Options, FirstErrorIsReported) {
  EXPECT_EQ(ParseError({"-foo", "-bar"}), "-foo: invalid option");
}

// ---- -h, -version: act at once ----

TEST(Options, Help) {
  EXPECT_EQ(Parse({"-h"}).action, Options::Action::kHelp);
  EXPECT_EQ(Parse({"-help"}).action, Options::Action::kHelp);
  EXPECT_EQ(Parse({"--help"}).action, Options::Action::kHelp);
  // What follows -h is not parsed (QEMU prints the help at once).
  EXPECT_EQ(Parse({"-h", "-bogus"}).action, Options::Action::kHelp);
  // What precedes it is.
  EXPECT_EQ(ParseError({"-bogus", "-h"}), "-bogus: invalid option");
}

TEST(Options, Version) {
  EXPECT_EQ(Parse({"-version"}).action, Options::Action::kVersion);
  EXPECT_EQ(Parse({"--version"}).action, Options::Action::kVersion);
  EXPECT_EQ(Parse({"--version", "-m", "0"}).action, Options::Action::kVersion);
  EXPECT_CONTAINS(VersionText(), std::string("xlat version ") + kXlatVersion);
}

TEST(Options, HelpListsEveryOptionOnItsOwnLine) {
  const std::string help = HelpText();
  for (const char* line_start : {"-h, -help", "-version", "-m [size=]SIZE", "-accel tcg[,tb-size=N]", "-nographic",
                                 "-no-reboot", "-serial DEV", "-device DEV", "-kernel FILE",
                                 "-initrd FILE", "-append STRING", "-d LIST", "-D FILE", "-gdb DEV", "-s ", "-S ", "-symbols FILE",
                                 "-stats ", "-stats-json PATH"}) {
    EXPECT_CONTAINS(help, std::string("\n") + line_start) << line_start;
  }
  for (const char* line_start : {"-h", "-version", "-m", "-accel", "-nographic", "-no-reboot", "-serial", "-device",
                                 "-kernel", "-initrd", "-append", "-d", "-D", "-gdb", "-s", "-S", "-stats",
                                 "-stats-json"}) {
    // Every option the help names is accepted by the parser.
    std::string name = line_start;
    std::vector<const char*> args{name.c_str(), "stdio"};
    Options o;
    std::string error;
    ParseOptions(args, &o, &error);
    EXPECT_FALSE(Contains(error, "invalid option")) << name;
  }
}

// ---- -m ----

uint64_t Ram(const char* value) { return Parse({"-m", value}).ram_bytes; }

TEST(Options, MemorySizes) {
  EXPECT_EQ(Ram("512"), 512 * MiB);  // plain number: MiB
  EXPECT_EQ(Ram("512M"), 512 * MiB);
  EXPECT_EQ(Ram("512m"), 512 * MiB);
  EXPECT_EQ(Ram("1G"), 1 * GiB);
  EXPECT_EQ(Ram("1g"), 1 * GiB);
  EXPECT_EQ(Ram("2048K"), 2 * MiB);
  EXPECT_EQ(Ram("2048k"), 2 * MiB);
  EXPECT_EQ(Ram("1T"), 1 * TiB);
  EXPECT_EQ(Ram("1048576B"), 1 * MiB);
  EXPECT_EQ(Ram("1.5G"), 1536 * MiB);
  EXPECT_EQ(Ram("1.5"), 1536 * KiB);
  EXPECT_EQ(Ram("0x100"), 256 * MiB);
  EXPECT_EQ(Ram("1"), 1 * MiB);  // the minimum
  EXPECT_EQ(Ram("size=512M"), 512 * MiB);
  EXPECT_EQ(Ram("size=256"), 256 * MiB);
  EXPECT_EQ(Ram("4100K"), 4100 * KiB);  // a multiple of 4 KiB
  EXPECT_EQ(Parse({"--m=64"}).ram_bytes, 64 * MiB);
  EXPECT_EQ(Parse({"-m", "256", "-m", "512"}).ram_bytes, 512 * MiB);  // last wins
}

TEST(Options, MemoryErrors) {
  EXPECT_EQ(ParseError({"-m"}), "-m: requires an argument");
  EXPECT_EQ(ParseError({"-m", "0"}), "-m 0: RAM size must be greater than 0");
  EXPECT_EQ(ParseError({"-m", "0M"}), "-m 0M: RAM size must be greater than 0");
  EXPECT_EQ(ParseError({"-m", "size=0"}), "-m size=0: RAM size must be greater than 0");
  EXPECT_EQ(ParseError({"-m", "512K"}), "-m 512K: RAM size too small: the minimum is 1 MiB");
  EXPECT_EQ(ParseError({"-m", "2T"}), "-m 2T: RAM size too large: the maximum is 1 TiB");
  EXPECT_EQ(ParseError({"-m", "1E"}), "-m 1E: RAM size too large: the maximum is 1 TiB");
  EXPECT_EQ(ParseError({"-m", "4097K"}), "-m 4097K: RAM size must be a multiple of 4 KiB");
  EXPECT_EQ(ParseError({"-m", "1.1"}), "-m 1.1: RAM size must be a multiple of 4 KiB");
  EXPECT_CONTAINS(ParseError({"-m", "abc"}), "-m abc: invalid RAM size: 'abc' is not a size");
  EXPECT_CONTAINS(ParseError({"-m", "12Q"}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", "12MB"}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", "-5"}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", " 5"}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", "1."}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", ".5"}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", "0x"}), "invalid RAM size");
  EXPECT_CONTAINS(ParseError({"-m", "1.0000000001G"}), "too many decimal places");
  EXPECT_CONTAINS(ParseError({"-m", "99999999999999999999999"}), "too large");
  EXPECT_CONTAINS(ParseError({"-m", "0x1ffffffffffffffff"}), "too large");
  EXPECT_CONTAINS(ParseError({"-m", "17592186044416T"}), "too large");  // 2^44 T overflows 64 bits
  EXPECT_EQ(ParseError({"-m", ""}), "-m: empty item in the memory description");
  EXPECT_EQ(ParseError({"-m", "size="}), "-m size=: invalid RAM size: empty size");
  EXPECT_EQ(ParseError({"-m", "512M,"}), "-m 512M,: empty item in the memory description");
  EXPECT_EQ(ParseError({"-m", "slots=2"}), "-m slots=2: memory hotplug ('slots') is not supported");
  EXPECT_EQ(ParseError({"-m", "512M,maxmem=1G"}), "-m 512M,maxmem=1G: memory hotplug ('maxmem') is not supported");
  EXPECT_EQ(ParseError({"-m", "512M,foo=1"}),
            "-m 512M,foo=1: unknown memory property 'foo' (only size is supported)");
  EXPECT_EQ(ParseError({"-m", "512M,1G"}), "-m 512M,1G: '1G': expected key=value");
}

TEST(Options, ParseSize) {
  uint64_t v = 0;
  std::string e;
  EXPECT_TRUE(ParseSize("10", 1, &v, &e));
  EXPECT_EQ(v, 10u);
  EXPECT_TRUE(ParseSize("0xf4", 1, &v, &e));
  EXPECT_EQ(v, 0xf4u);
  EXPECT_TRUE(ParseSize("0X10k", 1, &v, &e));
  EXPECT_EQ(v, 16 * KiB);
  EXPECT_TRUE(ParseSize("1P", 1, &v, &e));
  EXPECT_EQ(v, 1ull << 50);
  EXPECT_TRUE(ParseSize("15E", 1, &v, &e));
  EXPECT_EQ(v, 15ull << 60);
  EXPECT_FALSE(ParseSize("16E", 1, &v, &e));
  EXPECT_CONTAINS(e, "too large");
  EXPECT_TRUE(ParseSize("18446744073709551615", 1, &v, &e));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(ParseSize("18446744073709551616", 1, &v, &e));
  EXPECT_TRUE(ParseSize("0.5K", 1, &v, &e));
  EXPECT_EQ(v, 512u);
  EXPECT_FALSE(ParseSize("1.5x", 1, &v, &e));
  EXPECT_FALSE(ParseSize("0x1.8", 1, &v, &e));
}

// ---- -accel ----

TEST(Options, Accel) {
  EXPECT_EQ(Parse({"-accel", "tcg"}).code_cache_bytes, 64 * MiB);
  EXPECT_EQ(Parse({"-accel", "tcg,tb-size=1"}).code_cache_bytes, 1 * MiB);
  EXPECT_EQ(Parse({"-accel", "tcg,tb-size=1024"}).code_cache_bytes, 1024 * MiB);
  EXPECT_EQ(Parse({"-accel", "accel=tcg,tb-size=8"}).code_cache_bytes, 8 * MiB);
  EXPECT_EQ(Parse({"-accel", "tcg"}).shadow_spaces, 8u);
  EXPECT_EQ(Parse({"-accel", "tcg,shadow-spaces=0"}).shadow_spaces, 0u);
  EXPECT_EQ(Parse({"-accel", "tcg,tb-size=8,shadow-spaces=64"}).shadow_spaces, 64u);
  EXPECT_FALSE(Parse({"-accel", "tcg"}).precise_flags);
  EXPECT_TRUE(Parse({"-accel", "tcg,precise-flags=on"}).precise_flags);
  EXPECT_FALSE(Parse({"-accel", "tcg,precise-flags=on,precise-flags=off"}).precise_flags);
  EXPECT_EQ(Parse({"-accel", "tcg"}).trace_threshold, kDefaultTraceThreshold);
  EXPECT_EQ(Parse({"-accel", "tcg,traces=0"}).trace_threshold, 0u);
  EXPECT_EQ(Parse({"-accel", "tcg,traces=1"}).trace_threshold, 1u);
  EXPECT_EQ(Parse({"--accel=tcg,tb-size=16"}).code_cache_bytes, 16 * MiB);
  EXPECT_EQ(Parse({"-accel", "help"}).action, Options::Action::kListAccelerators);
  EXPECT_CONTAINS(AcceleratorsText(), "tcg");
}

TEST(Options, AccelErrors) {
  EXPECT_EQ(ParseError({"-accel"}), "-accel: requires an argument");
  EXPECT_CONTAINS(ParseError({"-accel", "kvm"}), "-accel kvm: accelerator 'kvm' is not available");
  EXPECT_CONTAINS(ParseError({"-accel", "hvf"}), "(use tcg)");
  EXPECT_CONTAINS(ParseError({"-accel", "accel=kvm"}), "'kvm' is not available");
  const std::string range = "tb-size must be a whole number of MiB from 1 to 1024";
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size=0"}), "-accel tcg,tb-size=0: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size=1025"}), "-accel tcg,tb-size=1025: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size=abc"}), "-accel tcg,tb-size=abc: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size=-1"}), "-accel tcg,tb-size=-1: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size="}), "-accel tcg,tb-size=: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size=64M"}), "-accel tcg,tb-size=64M: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,tb-size=99999999999999999999999"}),
            "-accel tcg,tb-size=99999999999999999999999: " + range);
  EXPECT_EQ(ParseError({"-accel", "tcg,thread=single"}),
            "-accel tcg,thread=single: unknown tcg property 'thread' (xlat's tcg has tb-size, shadow-spaces, traces "
            "and precise-flags)");
  const std::string traces = "traces must be a whole number from 0 (no traces) to 1000000000";
  EXPECT_EQ(ParseError({"-accel", "tcg,traces=1000000001"}), "-accel tcg,traces=1000000001: " + traces);
  EXPECT_EQ(ParseError({"-accel", "tcg,traces=-1"}), "-accel tcg,traces=-1: " + traces);
  EXPECT_EQ(ParseError({"-accel", "tcg,traces="}), "-accel tcg,traces=: " + traces);
  const std::string spaces = "shadow-spaces must be a whole number from 0 to 64";
  EXPECT_EQ(ParseError({"-accel", "tcg,shadow-spaces=65"}), "-accel tcg,shadow-spaces=65: " + spaces);
  EXPECT_EQ(ParseError({"-accel", "tcg,shadow-spaces=x"}), "-accel tcg,shadow-spaces=x: " + spaces);
  EXPECT_EQ(ParseError({"-accel", "tcg,shadow-spaces="}), "-accel tcg,shadow-spaces=: " + spaces);
  EXPECT_EQ(ParseError({"-accel", "tcg,precise-flags=yes"}),
            "-accel tcg,precise-flags=yes: precise-flags must be on or off");
  EXPECT_EQ(ParseError({"-accel", "tb-size=8"}), "-accel tb-size=8: no accelerator named (use -accel tcg[,tb-size=N])");
  EXPECT_EQ(ParseError({"-accel", ""}), "-accel: empty item in the accelerator description");
  EXPECT_EQ(ParseError({"-accel", "tcg,,tb-size=8"}), "-accel tcg,,tb-size=8: empty item in the accelerator description");
  EXPECT_EQ(ParseError({"-accel", "tcg,kvm"}), "-accel tcg,kvm: 'kvm': expected key=value");
  EXPECT_EQ(ParseError({"-accel", "tcg", "-accel", "tcg,tb-size=8"}),
            "-accel tcg,tb-size=8: -accel was already given; xlat has one accelerator (tcg)");
}

// ---- Statistics ----

TEST(Options, Stats) {
  EXPECT_TRUE(Parse({"--stats"}).stats);
  EXPECT_TRUE(Parse({"-stats"}).stats);
  EXPECT_EQ(Parse({"--stats-json", "out.json"}).stats_json_path, "out.json");
  EXPECT_EQ(Parse({"--stats-json=out.json"}).stats_json_path, "out.json");
  EXPECT_EQ(Parse({"-stats-json", "a", "-stats-json", "b"}).stats_json_path, "b");
  EXPECT_FALSE(Parse({"--stats-json", "out.json"}).stats);  // independent of --stats
  EXPECT_EQ(ParseError({"--stats-json"}), "--stats-json: requires an argument");
  EXPECT_EQ(ParseError({"--stats-json", ""}), "--stats-json: empty path");
}

// ---- Flags accepted for QEMU compatibility ----

TEST(Options, NographicAndNoReboot) {
  EXPECT_TRUE(Parse({"-nographic"}).nographic);
  EXPECT_TRUE(Parse({"--nographic"}).nographic);
  EXPECT_TRUE(Parse({"-no-reboot"}).no_reboot);
  EXPECT_TRUE(Parse({"--no-reboot"}).no_reboot);
}

// ---- -serial ----

TEST(Options, Serial) {
  Options o = Parse({"-serial", "stdio"});
  EXPECT_EQ(o.serial, SerialBackend::kStdio);
  EXPECT_TRUE(o.serial_given);
  EXPECT_EQ(Parse({"-serial", "mon:stdio"}).serial, SerialBackend::kMonStdio);
  EXPECT_EQ(Parse({"-serial", "none"}).serial, SerialBackend::kNone);
  EXPECT_EQ(Parse({"--serial=none"}).serial, SerialBackend::kNone);
  EXPECT_EQ(Parse({"-serial", "null"}).serial, SerialBackend::kNone);
  o = Parse({"-serial", "file:console.log"});
  EXPECT_EQ(o.serial, SerialBackend::kFile);
  EXPECT_EQ(o.serial_path, "console.log");
  EXPECT_EQ(Parse({"-serial", "file:a:b"}).serial_path, "a:b");
}

TEST(Options, SerialErrors) {
  EXPECT_EQ(ParseError({"-serial"}), "-serial: requires an argument");
  const std::string supported =
      "unsupported serial backend (xlat supports stdio, mon:stdio, file:PATH, null and none)";
  EXPECT_EQ(ParseError({"-serial", "tcp::4444"}), "-serial tcp::4444: " + supported);
  EXPECT_EQ(ParseError({"-serial", "pty"}), "-serial pty: " + supported);
  EXPECT_EQ(ParseError({"-serial", "file:"}), "-serial file:: file: needs a path (file:PATH)");
  EXPECT_EQ(ParseError({"-serial", ""}), "-serial: " + supported);
  EXPECT_EQ(ParseError({"-serial", "STDIO"}), "-serial STDIO: " + supported);
  EXPECT_EQ(ParseError({"-serial", "stdio", "-serial", "none"}),
            "-serial none: only one serial port is emulated, and -serial was already given");
}

// ---- -device ----

TEST(Options, Device) {
  EXPECT_TRUE(Parse({"-device", "isa-debug-exit"}).debug_exit_device);
  EXPECT_TRUE(Parse({"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"}).debug_exit_device);
  EXPECT_TRUE(Parse({"-device", "isa-debug-exit,iosize=1"}).debug_exit_device);
  EXPECT_TRUE(Parse({"-device", "driver=isa-debug-exit,iobase=244"}).debug_exit_device);
}

TEST(Options, DeviceErrors) {
  EXPECT_EQ(ParseError({"-device"}), "-device: requires an argument");
  EXPECT_CONTAINS(ParseError({"-device", "e1000"}), "-device e1000: device 'e1000' is not emulated");
  EXPECT_CONTAINS(ParseError({"-device", ""}), "device '' is not emulated");
  EXPECT_EQ(ParseError({"-device", "isa-debug-exit,iobase=0x501"}),
            "-device isa-debug-exit,iobase=0x501: isa-debug-exit is fixed at iobase=0xf4");
  EXPECT_EQ(ParseError({"-device", "isa-debug-exit,iosize=3"}),
            "-device isa-debug-exit,iosize=3: isa-debug-exit iosize must be 1, 2 or 4");
  EXPECT_EQ(ParseError({"-device", "isa-debug-exit,iosize"}),
            "-device isa-debug-exit,iosize: isa-debug-exit iosize must be 1, 2 or 4");
  EXPECT_CONTAINS(ParseError({"-device", "isa-debug-exit,foo=1"}), "unknown isa-debug-exit property 'foo'");
  EXPECT_CONTAINS(ParseError({"-device", "isa-debug-exit", "-device", "isa-debug-exit"}), "already given");
}

// ---- Boot: -initrd, -append ----

TEST(Options, InitrdAndAppend) {
  Options o = Parse({"-initrd", "root.cpio", "-append", "console=ttyS0 quiet"});
  EXPECT_EQ(o.initrd, "root.cpio");
  EXPECT_EQ(o.append, "console=ttyS0 quiet");
  EXPECT_EQ(Parse({"-append", ""}).append, "");  // given, empty: still "given"
  EXPECT_EQ(Parse({"-append=a=b"}).append, "a=b");
  EXPECT_EQ(Parse({"-initrd", "a", "-initrd", "b"}).initrd, "b");
  EXPECT_EQ(ParseError({"-initrd"}), "-initrd: requires an argument");
  EXPECT_EQ(ParseError({"-initrd", ""}), "-initrd: empty file name");
  EXPECT_EQ(ParseError({"-append"}), "-append: requires an argument");
}

// ---- -d, -D ----

TEST(Options, LogCategories) {
  EXPECT_EQ(Parse({"-d", "in_asm"}).log_mask, kLogInAsm);
  EXPECT_EQ(Parse({"-d", "in_asm,out_asm,exec,int,exits,mmu,io,cpu"}).log_mask,
            kLogInAsm | kLogOutAsm | kLogExec | kLogInt | kLogExits | kLogMmu | kLogIo | kLogCpu);
  EXPECT_EQ(Parse({"-d", "int,int"}).log_mask, kLogInt);
  EXPECT_EQ(Parse({"-d", "int", "-d", "mmu"}).log_mask, kLogMmu);  // last wins, as in QEMU
  EXPECT_EQ(Parse({"-d=exits"}).log_mask, kLogExits);
  // QEMU's names for what xlat has too.
  EXPECT_EQ(Parse({"-d", "int,guest_errors,cpu_reset,nochain"}).log_mask,
            kLogInt | kLogGuestErrors | kLogCpuReset | kLogNoChain);
  for (const LogCategoryInfo& c : kLogCategories) {
    std::string name(c.name);
    EXPECT_EQ(Parse({"-d", name.c_str()}).log_mask, c.bit) << name;
    EXPECT_CONTAINS(LogCategoriesText(), "\n" + name + " ");
  }
}

TEST(Options, LogHelp) {
  EXPECT_EQ(Parse({"-d", "help"}).action, Options::Action::kListLogCategories);
  EXPECT_EQ(Parse({"-d", "in_asm,help"}).action, Options::Action::kListLogCategories);
  EXPECT_EQ(Parse({"-d", "help", "-bogus"}).action, Options::Action::kListLogCategories);
}

TEST(Options, LogErrors) {
  EXPECT_EQ(ParseError({"-d"}), "-d: requires an argument");
  EXPECT_EQ(ParseError({"-d", "foo"}), "-d foo: unknown logging category 'foo' (-d help lists them)");
  EXPECT_EQ(ParseError({"-d", "in_asm,foo"}), "-d in_asm,foo: unknown logging category 'foo' (-d help lists them)");
  EXPECT_EQ(ParseError({"-d", "IN_ASM"}), "-d IN_ASM: unknown logging category 'IN_ASM' (-d help lists them)");
  EXPECT_EQ(ParseError({"-d", ""}), "-d: empty logging category");
  EXPECT_EQ(ParseError({"-d", "in_asm,"}), "-d in_asm,: empty logging category");
}

TEST(Options, LogFile) {
  EXPECT_EQ(Parse({"-D", "trace.log"}).log_file, "trace.log");
  EXPECT_EQ(Parse({"-D", "a", "-D", "b"}).log_file, "b");
  EXPECT_EQ(ParseError({"-D"}), "-D: requires an argument");
  EXPECT_EQ(ParseError({"-D", ""}), "-D: empty file name");
}

// ---- -s, -S, -gdb, --symbols: the gdb stub ----

TEST(Options, Gdb) {
  std::string error;
  Options o = Parse({"-gdb", "tcp::1234"});
  EXPECT_EQ(o.gdb_dev, "tcp::1234");
  EXPECT_EQ(o.GdbDevice(), "tcp::1234");
  EXPECT_TRUE(CheckImplemented(o, &error)) << error;

  o = Parse({"-s"});
  EXPECT_TRUE(o.gdb_default_port);
  EXPECT_EQ(o.GdbDevice(), "tcp::1234");
  EXPECT_TRUE(CheckImplemented(o, &error)) << error;
  EXPECT_EQ(Parse({"-s", "-gdb", "tcp::4321"}).GdbDevice(), "tcp::4321");
  EXPECT_EQ(Parse({}).GdbDevice(), "");

  o = Parse({"-S", "-s"});
  EXPECT_TRUE(o.start_stopped);
  EXPECT_TRUE(CheckImplemented(o, &error)) << error;
  // Without a debugger nothing could start the CPU (there is no monitor).
  o = Parse({"-S"});
  EXPECT_FALSE(CheckImplemented(o, &error));
  EXPECT_EQ(error, "-S: needs -s or -gdb DEV (only gdb can start the CPU)");

  o = Parse({"--symbols", "System.map", "-s"});
  EXPECT_EQ(o.symbols_path, "System.map");
  EXPECT_TRUE(CheckImplemented(o, &error)) << error;
  o = Parse({"--symbols", "System.map"});
  EXPECT_FALSE(CheckImplemented(o, &error));
  EXPECT_EQ(error, "--symbols System.map: names addresses for gdb and traces; give -s, -gdb DEV, -d or --perf-map too");
  o = Parse({"--symbols", "System.map", "-d", "in_asm"});
  EXPECT_TRUE(CheckImplemented(o, &error)) << error;
  EXPECT_EQ(ParseError({"--symbols", ""}), "--symbols: empty file name");

  EXPECT_EQ(ParseError({"-gdb"}), "-gdb: requires an argument");
  EXPECT_EQ(ParseError({"-gdb", ""}), "-gdb: empty device");
}

// ---- The machine: QEMU's options where they describe xlat's one machine ----

TEST(Options, MachineAcceptsThePc) {
  Parse({"-machine", "pc"});
  Parse({"-M", "pc"});
  Parse({"--machine=pc-i440fx-7.2"});
  Parse({"-machine", "type=pc,accel=tcg,usb=off,vmport=off,hpet=off,graphics=off"});
  Parse({"-machine", "pc,vmport=auto,graphics=on", "-machine", "accel=tcg"});
  EXPECT_EQ(Parse({"-machine", "help", "-bogus"}).action, Options::Action::kListMachines);
  EXPECT_CONTAINS(MachinesText(), "pc ");
  EXPECT_CONTAINS(MachinesText(), "i440FX");
}

TEST(Options, MachineErrors) {
  EXPECT_EQ(ParseError({"-machine", "q35"}),
            "-machine q35: machine 'q35' is not available: xlat's machine is pc (i440FX and PIIX3)");
  EXPECT_CONTAINS(ParseError({"-M", "microvm"}), "machine 'microvm' is not available");
  EXPECT_EQ(ParseError({"-machine", "pc,accel=kvm"}),
            "-machine pc,accel=kvm: KVM is not available: xlat translates code and uses no hardware "
            "virtualization (use -accel tcg)");
  EXPECT_EQ(ParseError({"-machine", "pc,usb=on"}), "-machine pc,usb=on: the machine has no USB controller (usb=off)");
  EXPECT_EQ(ParseError({"-machine", "pc,hpet=on"}), "-machine pc,hpet=on: the machine has no HPET (hpet=off)");
  EXPECT_CONTAINS(ParseError({"-machine", "pc,vmport=on"}), "no VMware port");
  EXPECT_CONTAINS(ParseError({"-machine", "pc,graphics=maybe"}), "graphics is on or off");
  EXPECT_CONTAINS(ParseError({"-machine", "pc,smm=off"}), "unknown machine property 'smm'");
  EXPECT_CONTAINS(ParseError({"-machine", "pc,q35"}), "'q35': expected key=value");
  EXPECT_EQ(ParseError({"-machine"}), "-machine: requires an argument");
}

TEST(Options, Cpu) {
  Parse({"-cpu", "max"});
  Parse({"-cpu", "host"});
  EXPECT_EQ(Parse({"-cpu", "help"}).action, Options::Action::kListCpus);
  EXPECT_CONTAINS(CpusText(), "max");
  EXPECT_CONTAINS(CpusText(), "host");
  EXPECT_EQ(ParseError({"-cpu", "qemu64"}),
            "-cpu qemu64: CPU model 'qemu64' is not available: xlat has one model, max (the x86-64-v3 "
            "features it translates; host names it too)");
  EXPECT_CONTAINS(ParseError({"-cpu", "Skylake-Client"}), "'Skylake-Client' is not available");
  EXPECT_EQ(ParseError({"-cpu", "max,+avx512f"}),
            "-cpu max,+avx512f: '+avx512f': the CPU's features are fixed (CPUID reports what xlat translates)");
  EXPECT_CONTAINS(ParseError({"-cpu", "host,-avx2"}), "'-avx2': the CPU's features are fixed");
}

TEST(Options, Smp) {
  Parse({"-smp", "1"});
  Parse({"-smp", "cpus=1"});
  Parse({"-smp", "1,sockets=1,cores=1,threads=1,maxcpus=1"});
  Parse({"-smp", "sockets=1,dies=1,clusters=1,cores=1,threads=1"});
  const std::string one = "xlat emulates one CPU: only -smp 1 is possible";
  EXPECT_EQ(ParseError({"-smp", "2"}), "-smp 2: " + one);
  EXPECT_EQ(ParseError({"-smp", "1,maxcpus=4"}), "-smp 1,maxcpus=4: " + one);
  EXPECT_EQ(ParseError({"-smp", "cores=2"}), "-smp cores=2: " + one);
  EXPECT_EQ(ParseError({"-smp", "1,threads=2"}), "-smp 1,threads=2: " + one);
  // (No product of counts is formed: none can wrap around to 1.)
  EXPECT_EQ(ParseError({"-smp", "sockets=65536,dies=65536,clusters=65536,cores=65536,threads=65537"}),
            "-smp sockets=65536,dies=65536,clusters=65536,cores=65536,threads=65537: " + one);
  EXPECT_EQ(ParseError({"-smp", "0"}), "-smp 0: '0': a count is a whole number from 1");
  EXPECT_CONTAINS(ParseError({"-smp", "x"}), "a count is a whole number from 1");
  EXPECT_CONTAINS(ParseError({"-smp", "1,numa=2"}), "unknown -smp property 'numa'");
  EXPECT_CONTAINS(ParseError({"-smp", "1,2"}), "'2': expected key=value");
}

TEST(Options, NoDisplayNoCardsNoMonitor) {
  Parse({"-display", "none"});
  Parse({"-vga", "none"});
  Parse({"-nic", "none"});
  Parse({"-net", "none"});
  Parse({"-monitor", "none"});
  EXPECT_EQ(ParseError({"-display", "gtk"}),
            "-display gtk: xlat has no display: the guest's console is the serial port (use -display none or "
            "-nographic)");
  EXPECT_EQ(ParseError({"-vga", "std"}), "-vga std: no graphics card is emulated (use -vga none)");
  EXPECT_EQ(ParseError({"-nic", "user"}), "-nic user: no network card is emulated (use -nic none)");
  EXPECT_EQ(ParseError({"-net", "nic"}), "-net nic: no network card is emulated (use -nic none)");
  EXPECT_EQ(ParseError({"-monitor", "stdio"}),
            "-monitor stdio: xlat has no monitor (use -monitor none; Ctrl-A x quits from the serial console)");
}

TEST(Options, NoDefaultsDropsTheDefaultSerialOnly) {
  EXPECT_EQ(Parse({"-nodefaults"}).serial, SerialBackend::kNone);
  // A -serial before or after still names COM1's backend.
  EXPECT_EQ(Parse({"-nodefaults", "-serial", "stdio"}).serial, SerialBackend::kStdio);
  EXPECT_EQ(Parse({"-serial", "mon:stdio", "-nodefaults"}).serial, SerialBackend::kMonStdio);
}

TEST(Options, RtcBootName) {
  Parse({"-rtc", "base=utc"});
  Parse({"-rtc", "base=utc,clock=host,driftfix=none"});
  EXPECT_EQ(ParseError({"-rtc", "base=localtime"}), "-rtc base=localtime: the RTC keeps the host's time in UTC (base=utc)");
  EXPECT_CONTAINS(ParseError({"-rtc", "base=2006-06-17T16:01:21"}), "base=utc");
  EXPECT_CONTAINS(ParseError({"-rtc", "clock=vm"}), "the RTC follows the host's clock (clock=host)");
  EXPECT_CONTAINS(ParseError({"-rtc", "driftfix=slew"}), "driftfix=none");
  EXPECT_EQ(ParseError({"-rtc", "utc"}), "-rtc utc: 'utc': expected key=value");
  EXPECT_CONTAINS(ParseError({"-rtc", "base=utc,tz=x"}), "unknown -rtc property 'tz'");
  Parse({"-boot", "c"});
  Parse({"-boot", "order=dc,menu=off"});
  EXPECT_EQ(Parse({"-name", "guest1"}).name, "guest1");
  EXPECT_EQ(ParseError({"-name", ""}), "-name: empty name");
}

TEST(Options, HardwareXlatDoesNotHave) {
  const std::string disks = "not supported: no disks are emulated: the guest boots with -kernel and -initrd";
  EXPECT_EQ(ParseError({"-drive", "file=disk.img,format=raw"}), "-drive: " + disks);
  EXPECT_EQ(ParseError({"-hda", "disk.img"}), "-hda: " + disks);
  EXPECT_EQ(ParseError({"--cdrom=x.iso"}), "--cdrom: " + disks);
  EXPECT_EQ(ParseError({"-snapshot"}), "-snapshot: " + disks);
  EXPECT_EQ(ParseError({"-enable-kvm"}),
            "-enable-kvm: not supported: KVM is not available: xlat translates code and uses no hardware "
            "virtualization (use -accel tcg)");
  EXPECT_EQ(ParseError({"-netdev", "user,id=n0"}), "-netdev: not supported: no network card is emulated");
  EXPECT_CONTAINS(ParseError({"-vnc", ":0"}), "xlat has no display");
  EXPECT_CONTAINS(ParseError({"-usb"}), "no USB controller");
  EXPECT_CONTAINS(ParseError({"-bios", "bios.bin"}), "no firmware");
  EXPECT_CONTAINS(ParseError({"-no-shutdown"}), "exits when the guest powers off");
  EXPECT_CONTAINS(ParseError({"-chardev", "stdio,id=c"}), "no monitor");
  EXPECT_CONTAINS(ParseError({"-loadvm", "s1"}), "no snapshots");
  EXPECT_CONTAINS(ParseError({"-daemonize"}), "foreground");
  // Not QEMU's, or not known: the plain message.
  EXPECT_EQ(ParseError({"-frobnicate"}), "-frobnicate: invalid option");
}

// ---- A realistic command line ----

TEST(Options, QemuStyleCommandLine) {
  Options o = Parse({"-nographic", "-no-reboot", "-m", "256M", "-accel", "tcg,tb-size=32", "-serial", "mon:stdio",
                     "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", "guest.elf", "--stats",
                     "--stats-json", "s.json", "-d", "int,exits", "-D", "log.txt"});
  EXPECT_EQ(o.action, Options::Action::kRun);
  EXPECT_EQ(o.ram_bytes, 256 * MiB);
  EXPECT_EQ(o.code_cache_bytes, 32 * MiB);
  EXPECT_EQ(o.serial, SerialBackend::kMonStdio);
  EXPECT_EQ(o.kernel, "guest.elf");
  EXPECT_TRUE(o.stats);
  EXPECT_EQ(o.stats_json_path, "s.json");
  EXPECT_EQ(o.log_mask, kLogInt | kLogExits);
  EXPECT_EQ(o.log_file, "log.txt");
  EXPECT_TRUE(o.no_reboot && o.nographic && o.debug_exit_device);
  std::string error;
  EXPECT_TRUE(CheckImplemented(o, &error));
}

// What a QEMU user writes for a direct kernel boot, as xlat's bench runs
// QEMU, and with the options of the machine spelled out.
TEST(Options, QemuDirectKernelBootCommandLine) {
  Options o = Parse({"-machine", "pc,accel=tcg", "-cpu", "max", "-smp", "1", "-m", "512M", "-kernel", "vmlinuz",
                     "-initrd", "initrd.gz", "-append", "console=ttyS0 quiet", "-display", "none", "-vga", "none",
                     "-monitor", "none", "-serial", "stdio", "-nic", "none", "-no-reboot", "-nodefaults",
                     "-rtc", "base=utc", "-name", "test", "-boot", "c"});
  EXPECT_EQ(o.action, Options::Action::kRun);
  EXPECT_EQ(o.kernel, "vmlinuz");
  EXPECT_EQ(o.initrd, "initrd.gz");
  EXPECT_EQ(o.ram_bytes, 512 * MiB);
  EXPECT_EQ(o.serial, SerialBackend::kStdio);
  EXPECT_TRUE(o.no_reboot);
  std::string error;
  EXPECT_TRUE(CheckImplemented(o, &error));
}

}  // namespace
}  // namespace xlat
