// The machine the guest-code fuzzer runs arbitrary bytes on, and the checks
// that every run must pass.
//
// An input is a fixed header followed by guest code. The header chooses the
// machine: CPL 0 or 3, an IDT or none, which of the code and data pages are
// present, writable, user, executable and where they point (RAM, page tables,
// code through an alias, just past the end of RAM, an MMIO page, the top of
// physical memory, reserved bits), a 1 GiB and a 2 MiB large page, control
// register bits, RFLAGS, every GPR (raw, or aimed at one of the areas, at a
// non-canonical address, at the host addresses of xlat's own structures),
// MXCSR, the x87 control word and the vector registers, and how the
// translator works (a tiny code cache, precise flags, traces from the
// second entry). A header of zeros is
// a sane machine: CPL 0, an IDT, everything mapped, registers in the data
// area, the stack on the stack. Inputs shorter than the header are padded
// with zeros, so every byte string is an input.
//
// Each input gets a fresh vCPU (no state leaks from one input to the next;
// see README.md for the cost). Exceptions go through the IDT to a handler
// stub per vector at CPL 0 (`hlt`), or, without an IDT, end the run; a run
// that does not end by itself is stopped by the watchdog.
//
// Layout (guest physical):           (guest virtual)
//   0x010000 page-table pool          --
//   0x060000 GDT, IDT, TSS, handlers, kSysVa (0xffffffff80000000), supervisor
//            kernel and IST stacks
//   0x100000 code, 4 pages            kCodeVa 0x400000 (the input's code)
//   0x200000 data, 8 pages            kDataVa 0x600000 (each page chosen by data_map)
//   0x300000 user stack, 2 pages      kStackVa 0x7fe000
//   --                                kWindowVa 0x40000000: a 1 GiB page
//   --                                kBigVa 0x1000000: a 2 MiB page
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "cpu/vcpu.h"
#include "devices/mmio_bus.h"
#include "devices/port_bus.h"
#include "frontend/stats.h"
#include "mmu/guest_ram.h"

namespace xlat::fuzz {

inline constexpr uint64_t kRamBytes = 8ull << 20;
inline constexpr uint64_t kPtPoolPa = 0x10000, kPtPoolBytes = 0x40000;
inline constexpr uint64_t kSysPa = 0x60000;
inline constexpr uint64_t kCodePa = 0x100000, kCodePages = 4;
inline constexpr uint64_t kDataPa = 0x200000, kDataPages = 8;
inline constexpr uint64_t kStackPa = 0x300000, kStackPages = 2;

inline constexpr uint64_t kSysVa = 0xffffffff80000000ull;
inline constexpr uint64_t kCodeVa = 0x400000, kDataVa = 0x600000, kStackVa = 0x7fe000;
inline constexpr uint64_t kWindowVa = 0x40000000, kBigVa = 0x1000000;

// Offsets in the system area (kSysPa / kSysVa).
inline constexpr uint64_t kGdtOff = 0x0000, kIdtOff = 0x1000, kTssOff = 0x2000, kHandlerOff = 0x3000;
inline constexpr uint64_t kKernelStackTopOff = 0x8000, kIstStackTopOff = 0xa000, kSysBytes = 0xa000;
inline constexpr uint64_t kHandlerStride = 8;        // stub of vector v at kHandlerOff + v * 8
inline constexpr uint64_t kSyscallStubOff = 0x3800;  // LSTAR / CSTAR

// The MMIO test device: a page that reads as a pattern and counts writes.
inline constexpr uint64_t kMmioPa = 0xfee00000;

// Header bits. Every field is XORed with its default, so zeros are the sane machine.
enum ModeBits : uint8_t {
  kModeCpl3 = 1 << 0,
  kModeNoIdt = 1 << 1,        // idtr_limit = 0: the first exception ends the run
  kModeTrapGates = 1 << 2,    // IF stays set in handlers
  kModeIst = 1 << 3,          // #PF, #GP and #SS on IST1
  kModeShortIdt = 1 << 4,     // only the 32 exception vectors
  kModeNoAm = 1 << 5,         // CR0.AM clear
  kModeNoWp = 1 << 6,         // CR0.WP clear
  kModeNoNxe = 1 << 7,        // EFER.NXE clear: NX bits become reserved
};
enum PagingBits : uint8_t {
  kPagingWindow = 1 << 0,     // the 1 GiB page at kWindowVa
  kPagingWindowPaShift = 1,   // 2 bits: which GiB of physical memory
  kPagingWindowUser = 1 << 3,
  kPagingWindowWrite = 1 << 4,
  kPagingBig = 1 << 5,        // the 2 MiB page at kBigVa
  kPagingBigPaShift = 6,      // 2 bits: which 2 MiB
};
enum MiscBits : uint8_t {
  kMiscNoPge = 1 << 0,        // CR4.PGE clear (else code pages are global)
  kMiscTsd = 1 << 1,          // CR4.TSD
  kMiscGsBaseRaw = 1 << 2,    // GS base = reg_val[0] (else 0)
  kMiscPreciseFlags = 1 << 3, // VcpuConfig::precise_fault_flags
  kMiscTinyCache = 1 << 4,    // a 64 KiB code cache: flushes when full
  kMiscNoMmio = 1 << 5,       // no MMIO device: kMmioPa reads all-ones
  kMiscTraces = 1 << 6,       // traces from the second entry (-accel tcg,traces=1)
};

// What a GPR starts as (reg_kind XOR the default; the value comes from reg_val).
enum RegKind : uint8_t {
  kRegRaw, kRegCode, kRegData, kRegStack, kRegWindow, kRegSys, kRegSmall, kRegZero,
  kRegNonCanonicalLow,   // around 0x0000800000000000 (the first non-canonical address)
  kRegNonCanonicalHigh,  // around 0xffff800000000000 (the first canonical high address)
  kRegTop,               // just below 2^64: accesses wrap
  kRegBig,
  kRegHostContext,       // the host address of the vCPU context (a guest that guessed it)
  kRegHostCodeCache,     // the host address of the code cache
  kRegHostRam,           // the host address of guest RAM
  kRegLow32,
};
inline uint8_t DefaultRegKind(unsigned r) { return r == 4 /* rsp */ ? kRegStack : kRegData; }

// Data page targets (high nibble of data_map).
enum DataTarget : uint8_t {
  kDataOwn, kDataCodeAlias, kDataPageTables, kDataSys, kDataLastRamPage, kDataPastRam, kDataMmio,
  kDataTop4G, kDataTopPhys, kDataPage0, kDataStackAlias, kDataNeighbour, kDataReservedBit,
  kDataIgnoredBits, kDataOwn2, kDataOwn3,
};
// Data page flag bits (low nibble of data_map), toggles of the default P W U NX.
inline constexpr uint8_t kDataNotPresent = 1, kDataReadOnly = 2, kDataSupervisor = 4, kDataExec = 8;
// Code page flag bits (4 per page in code_flags), toggles of the default P U X read-only.
inline constexpr uint16_t kCodeNotPresent = 1, kCodeWritable = 2, kCodeSupervisor = 4, kCodeNx = 8;

struct __attribute__((packed)) Header {
  uint8_t mode;
  uint8_t paging;
  uint8_t misc;
  uint8_t reserved0;
  uint16_t code_flags;   // per code page, 4 bits: not present, writable, supervisor, NX
  uint16_t mxcsr;        // XOR 0x1f80
  uint16_t fcw;          // XOR 0x037f
  uint16_t reserved1;
  uint32_t rflags;       // OR 0x2, masked to the flags a guest may hold
  uint8_t data_map[8];   // per data page: low nibble flags as code_flags (writable means read-only), high nibble target
  uint8_t reg_kind[16];  // XOR the default kind (rsp: stack, others: data)
  uint64_t reg_val[16];
  uint64_t vec_seed;     // ymm0..15 from a splitmix64 stream
};
static_assert(sizeof(Header) == 176);

inline constexpr size_t kMaxCode = kCodePages * 4096;

struct Input {
  Header h{};
  std::span<const uint8_t> code;
};
Input ParseInput(const uint8_t* data, size_t size);

// What a run ended with, plus what the checks need.
struct RunResult {
  RunOutcome outcome;
  bool watchdog_fired = false;
  bool debug_exit_by_guest = false;
};

// One guest machine: RAM, ports, an MMIO page, a vCPU. Built per input.
class Machine {
 public:
  static std::unique_ptr<Machine> Create(const Header& h, std::string* error);
  ~Machine();

  // Writes page tables, descriptor tables, handlers and the code into RAM and
  // sets the vCPU's state. False (with *error) if the harness itself failed.
  bool Load(const Input& in, std::string* error);

  // Runs the guest; `timeout_ms` later the watchdog stops it.
  RunResult Run(unsigned timeout_ms);

  // Everything that must hold after any run, whatever the guest did. Empty
  // when all is well, else what went wrong (one line per violation).
  std::string Check(const RunResult& r) const;

  // The machine and the run in a few lines (XLAT_FUZZ_VERBOSE, reports).
  std::string Describe(const Input& in) const;
  static std::string DescribeOutcome(const RunResult& r, const Vcpu& v);

  Vcpu& vcpu() { return *vcpu_; }
  GuestRam& ram() { return *ram_; }
  uint64_t mmio_writes() const { return mmio_writes_; }

 private:
  Machine() = default;
  uint64_t RegValue(unsigned i, uint8_t kind, uint64_t val) const;
  bool BuildPageTables(const Header& h, uint64_t* cr3, std::string* error);
  void BuildSystemArea(const Header& h);

  std::unique_ptr<GuestRam> ram_;
  PortBus ports_;
  MmioBus mmio_;
  Stats stats_;
  std::unique_ptr<Vcpu> vcpu_;
  bool debug_exit_ = false;
  uint64_t mmio_writes_ = 0;
  // Invariants of the context that the guest must never change.
  uint64_t ctx_self_ = 0;
};

// Host memory at the guest's own virtual addresses (code, data, stack,
// windows), filled with a pattern: a guest access that ever went to the host
// address equal to its guest address, instead of through the TLB, changes
// it (or reads it). Mapped once per process, before any guest runs; Check()
// is cheap.
class HostCanaries {
 public:
  static HostCanaries& Get();
  std::string Check() const;
  size_t pages() const { return pages_; }

 private:
  HostCanaries();
  struct Area {
    uint8_t* at;
    size_t bytes;
  };
  Area areas_[8];
  size_t count_ = 0;
  size_t pages_ = 0;
};

// Host thread state that a guest run must leave as it found it.
struct HostThreadState {
  uint64_t fs_base = 0, gs_base = 0;
  uint32_t mxcsr = 0;
  uint16_t fcw = 0;
  uint64_t rflags_df = 0;
  static HostThreadState Capture();
  std::string Compare(const HostThreadState& after) const;
};

}  // namespace xlat::fuzz
