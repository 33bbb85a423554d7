// Segment descriptors in long mode: reading them from the GDT/LDT, and the
// checks of segment loads (mov to a segment register, far transfers, ltr,
// lldt). In 64-bit mode only CS's attributes, SS's DPL and the FS/GS bases
// matter, but the loads keep their architectural faults.
#pragma once

#include <cstdint>

namespace xlat {

class VcpuRuntime;
struct GuestFault;

struct Descriptor {
  uint64_t base = 0;
  uint32_t limit = 0;   // in bytes (granularity applied)
  uint8_t type = 0;     // 4-bit type
  bool s = false;       // code/data (true) or system (false)
  uint8_t dpl = 0;
  bool present = false;
  bool l = false;       // 64-bit code
  bool db = false;
  uint64_t raw_lo = 0;
  uint64_t raw_hi = 0;  // the upper half of a 16-byte system descriptor (0 otherwise)
  uint64_t addr = 0;    // linear address of the descriptor (for setting busy/accessed bits)

  bool code() const { return s && (type & 8); }
  bool data() const { return s && !(type & 8); }
  bool writable_data() const { return data() && (type & 2); }
  bool readable_code() const { return code() && (type & 2); }
  bool conforming() const { return code() && (type & 4); }
};

// Segment register numbers in ctx.sel.
enum SegReg : unsigned { kSegEs = 0, kSegCs = 1, kSegSs = 2, kSegDs = 3, kSegFs = 4, kSegGs = 5 };

// Reads the descriptor a selector names (GDT or LDT). `system16`: a 16-byte
// long-mode system descriptor (TSS, LDT). False with a #GP(selector) fault
// when the selector is outside its table, or the table read faults.
bool ReadDescriptor(VcpuRuntime& rt, uint16_t selector, bool system16, Descriptor* d, GuestFault* f);

// mov to DS/ES/FS/GS/SS with architectural checks; FS/GS bases come from
// the descriptor (a null selector leaves the base alone, as Intel CPUs do).
bool LoadDataSegment(VcpuRuntime& rt, unsigned seg, uint16_t selector, GuestFault* f);

// ltr and lldt.
bool LoadTaskRegister(VcpuRuntime& rt, uint16_t selector, GuestFault* f);
bool LoadLdtr(VcpuRuntime& rt, uint16_t selector, GuestFault* f);

}  // namespace xlat
