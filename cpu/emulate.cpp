// Emulation of the instructions the translator sends to the VMM: sensitive
// instructions (which would be privileged or silently different in a host
// process) and the few with memory semantics the rewrites do not cover
// (gathers, masked stores, xsave/xrstor). Each runs on the architectural
// state in the context; on success rip moves past the instruction.
#include "cpu/emulate.h"

#include <x86intrin.h>

#include <algorithm>

#include <cstdio>
#include <cstring>

#include "cpu/cpuid.h"
#include "cpu/descriptors.h"
#include "cpu/fpu_save.h"
#include "devices/interrupts.h"
#include "mmu/page_walker.h"
#include "cpu/guest_regs.h"
#include "cpu/vcpu_runtime.h"
#include "devices/port_bus.h"
#include "frontend/stats.h"

namespace xlat {

namespace {

// MSR numbers.
constexpr uint32_t kMsrTsc = 0x10, kMsrApicBase = 0x1b, kMsrMtrrCap = 0xfe, kMsrSysenterCs = 0x174,
                   kMsrMiscEnable = 0x1a0, kMsrPat = 0x277, kMsrMtrrDefType = 0x2ff, kMsrEfer = 0xc0000080,
                   kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrCstar = 0xc0000083,
                   kMsrSfmask = 0xc0000084, kMsrFsBase = 0xc0000100, kMsrGsBase = 0xc0000101,
                   kMsrKernelGsBase = 0xc0000102, kMsrTscAux = 0xc0000103, kMsrAmdNbCfg = 0xc001001f;

constexpr uint64_t kCr0Ts = 1ull << 3, kCr0Pe = 1ull << 0, kCr0Nw = 1ull << 29, kCr0Cd = 1ull << 30;
constexpr uint64_t kEferLma = 1ull << 10;

class Emulator {
 public:
  Emulator(VcpuRuntime& rt, const DecodedInsn& d) : rt_(rt), c_(rt.ctx()), d_(d) {}

  void Run();

 private:
  // Completion helpers.
  void Next() { c_.rip = d_.next_rip(); }
  void Fault(uint8_t v) { rt_.Raise(v); }
  void Gp0() { rt_.RaiseWithError(kVecGP, 0); }
  bool RequireCpl0() {
    if (c_.cpl == 0) return true;
    Gp0();
    return false;
  }
  bool Read(uint64_t va, void* out, size_t n) {
    GuestFault f;
    if (rt_.ReadVirt(va, out, n, &f)) return true;
    rt_.Raise(f);
    return false;
  }
  bool Write(uint64_t va, const void* in, size_t n) {
    GuestFault f;
    if (rt_.WriteVirt(va, in, n, &f)) return true;
    rt_.Raise(f);
    return false;
  }
  uint64_t Ea(unsigned op) const { return EffectiveAddress(c_, d_, d_.ops[op]); }
  unsigned Iopl() const { return static_cast<unsigned>((c_.rflags >> 12) & 3); }

  void Cpuid();
  void InOut();
  void StringIo();
  void Pushf();
  void Popf();
  void MovCr();
  void MovDr();
  void Rdmsr();
  void Wrmsr();
  void DescriptorTable();
  void Xsave();
  void Xrstor();
  void FpuSave();
  void Gather();
  void MaskMove();
  void SegmentMove();
  void SegmentQuery();
  bool IoPermitted(uint16_t port, unsigned size);
  void Enter();
  void Iret();
  void FarTransfer();
  void FarTransferThroughGate(uint16_t gate_sel, bool call);
  bool PushFarReturn(uint64_t rsp, unsigned size, bool supervisor, uint64_t* new_rsp);
  bool PushStack(uint64_t rsp, uint64_t value, unsigned size, bool supervisor, uint64_t* new_rsp);
  bool PopStack(uint64_t va, unsigned size, uint64_t* value);
  void FarRet();
  void RaiseSel(uint8_t vector, uint16_t selector) { rt_.RaiseWithError(vector, selector & 0xfffc); }
  void NullOuterDataSegments(unsigned new_cpl);
  void Syscall();
  void Sysret();

  VcpuRuntime& rt_;
  VcpuContext& c_;
  const DecodedInsn& d_;
};

void Emulator::Run() {
  switch (d_.mnemonic()) {
    case ZYDIS_MNEMONIC_CPUID: Cpuid(); return;
    case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT: InOut(); return;
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
      StringIo();
      return;
    case ZYDIS_MNEMONIC_HLT:
      if (!RequireCpl0()) return;
      Next();
      // No interrupt source exists yet: a halted CPU stays halted.
      rt_.Halt();
      return;
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
      if (c_.cpl > Iopl()) return Gp0();
      if (d_.mnemonic() == ZYDIS_MNEMONIC_CLI) {
        c_.rflags &= ~kFlagIF;
      } else {
        // sti; hlt must not lose an interrupt: none is taken until after the
        // instruction that follows an sti that set IF.
        if (!(c_.rflags & kFlagIF)) rt_.SetInterruptShadow();
        c_.rflags |= kFlagIF;
      }
      return Next();
    case ZYDIS_MNEMONIC_SYSCALL: Syscall(); return;
    case ZYDIS_MNEMONIC_SYSRET: Sysret(); return;
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFQ: Pushf(); return;
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFQ: Popf(); return;
    case ZYDIS_MNEMONIC_RDMSR: Rdmsr(); return;
    case ZYDIS_MNEMONIC_WRMSR: Wrmsr(); return;
    case ZYDIS_MNEMONIC_RDTSC:
    case ZYDIS_MNEMONIC_RDTSCP: {
      if ((c_.cr4 & (1ull << 2)) && c_.cpl != 0) return Gp0();  // CR4.TSD
      const uint64_t tsc = __rdtsc() + c_.tsc_offset;
      c_.gpr[kRax] = tsc & 0xffffffffu;
      c_.gpr[kRdx] = tsc >> 32;
      if (d_.mnemonic() == ZYDIS_MNEMONIC_RDTSCP) c_.gpr[kRcx] = c_.tsc_aux & 0xffffffffu;
      return Next();
    }
    case ZYDIS_MNEMONIC_RDPID:
      WriteGpr(c_, d_.ops[0].reg.value, c_.tsc_aux);
      return Next();
    case ZYDIS_MNEMONIC_RDPMC:
      return Gp0();  // no performance counters are exposed
    case ZYDIS_MNEMONIC_XGETBV:
      if ((c_.gpr[kRcx] & 0xffffffffu) != 0 || !(c_.cr4 & (1ull << 18))) {
        if (!(c_.cr4 & (1ull << 18))) return Fault(kVecUD);
        return Gp0();
      }
      c_.gpr[kRax] = c_.xcr0 & 0xffffffffu;
      c_.gpr[kRdx] = c_.xcr0 >> 32;
      return Next();
    case ZYDIS_MNEMONIC_XSETBV: {
      if (!(c_.cr4 & (1ull << 18))) return Fault(kVecUD);
      if (!RequireCpl0()) return;
      const uint64_t v = (c_.gpr[kRdx] << 32) | (c_.gpr[kRax] & 0xffffffffu);
      // x87 must stay on, AVX needs SSE, nothing beyond x87|SSE|AVX exists.
      if ((c_.gpr[kRcx] & 0xffffffffu) != 0 || !(v & 1) || (v & ~kGuestXcr0) || ((v & 4) && !(v & 2)))
        return Gp0();
      c_.xcr0 = v;
      return Next();
    }
    case ZYDIS_MNEMONIC_XSAVE: case ZYDIS_MNEMONIC_XSAVE64: Xsave(); return;
    case ZYDIS_MNEMONIC_FNSTENV: case ZYDIS_MNEMONIC_FNSAVE: case ZYDIS_MNEMONIC_FXSAVE:
    case ZYDIS_MNEMONIC_FXSAVE64:
      FpuSave();
      return;
    case ZYDIS_MNEMONIC_XRSTOR: case ZYDIS_MNEMONIC_XRSTOR64: Xrstor(); return;
    case ZYDIS_MNEMONIC_VPGATHERDD: case ZYDIS_MNEMONIC_VPGATHERDQ: case ZYDIS_MNEMONIC_VPGATHERQD:
    case ZYDIS_MNEMONIC_VPGATHERQQ: case ZYDIS_MNEMONIC_VGATHERDPS: case ZYDIS_MNEMONIC_VGATHERDPD:
    case ZYDIS_MNEMONIC_VGATHERQPS: case ZYDIS_MNEMONIC_VGATHERQPD:
      Gather();
      return;
    case ZYDIS_MNEMONIC_MASKMOVQ: case ZYDIS_MNEMONIC_MASKMOVDQU: case ZYDIS_MNEMONIC_VMASKMOVDQU:
      MaskMove();
      return;
    case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT: case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT:
    case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_LTR: case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_SMSW: case ZYDIS_MNEMONIC_LMSW: case ZYDIS_MNEMONIC_CLTS:
      DescriptorTable();
      return;
    case ZYDIS_MNEMONIC_SWAPGS:
      if (!RequireCpl0()) return;
      std::swap(c_.gs_base, c_.kernel_gs_base);
      return Next();
    case ZYDIS_MNEMONIC_INVLPG:
      if (!RequireCpl0()) return;
      rt_.InvalidatePage(Ea(0));
      return Next();
    case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD:
      if (!RequireCpl0()) return;
      return Next();
    case ZYDIS_MNEMONIC_MONITOR:
    case ZYDIS_MNEMONIC_MWAIT:
      // Not exposed in CPUID; where used anyway they behave as a spurious wake-up.
      if (!RequireCpl0()) return;
      return Next();
    case ZYDIS_MNEMONIC_INT3:
      Next();
      rt_.RaiseSoftware(kVecBP, d_.rip);
      return;
    case ZYDIS_MNEMONIC_INT1:
      Next();
      rt_.RaiseSoftware(kVecDB, d_.rip, /*privileged=*/true);
      return;
    case ZYDIS_MNEMONIC_INT:
      Next();
      rt_.RaiseSoftware(static_cast<uint8_t>(d_.ops[0].imm.value.u), d_.rip);
      return;
    case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_VMCALL: case ZYDIS_MNEMONIC_VMMCALL:
      return Fault(kVecUD);
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
      SegmentQuery();
      return;
    case ZYDIS_MNEMONIC_MOV:
      for (unsigned i = 0; i < 2; ++i) {
        if (d_.ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
        const ZydisRegisterClass cls = ZydisRegisterGetClass(d_.ops[i].reg.value);
        if (cls == ZYDIS_REGCLASS_CONTROL) return MovCr();
        if (cls == ZYDIS_REGCLASS_DEBUG) return MovDr();
      }
      SegmentMove();
      return;
    case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP:
      SegmentMove();
      return;
    case ZYDIS_MNEMONIC_ENTER: Enter(); return;
    case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ: Iret(); return;
    case ZYDIS_MNEMONIC_RET: FarRet(); return;
    case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL: FarTransfer(); return;
    default:
      // Anything else the translator sends here has no emulation: #UD.
      return Fault(kVecUD);
  }
}

void Emulator::Cpuid() {
  CpuidResult r = GuestCpuid(static_cast<uint32_t>(c_.gpr[kRax]), static_cast<uint32_t>(c_.gpr[kRcx]),
                             (c_.cr4 >> 18) & 1, c_.xcr0);
  c_.gpr[kRax] = r.eax;
  c_.gpr[kRbx] = r.ebx;
  c_.gpr[kRcx] = r.ecx;
  c_.gpr[kRdx] = r.edx;
  Next();
}

// At CPL > IOPL a port access is allowed only when the TSS I/O permission
// bitmap has a clear bit for every port it touches (Intel SDM vol. 1, 19.5.2;
// AMD APM vol. 2, 13.3.2). The processor reads the two bytes holding the
// bits, at TSS.iomap_base + port / 8; if either lies beyond the TSS limit the
// access is refused. False when refused (the #GP(0), or the fault of reading
// the TSS, is raised).
bool Emulator::IoPermitted(uint16_t port, unsigned size) {
  if (c_.cpl <= Iopl()) return true;
  auto refuse = [this] {
    Gp0();
    return false;
  };
  // The TSS is read with supervisor rights, like any implicit system access.
  auto read_tss = [this](uint32_t offset, uint16_t* v) {
    GuestFault f;
    if (rt_.ReadVirt(c_.tr_base + offset, v, 2, &f, AccessKind::kRead, /*supervisor=*/true)) return true;
    rt_.Raise(f);
    return false;
  };
  uint16_t iomap_base = 0, bits = 0;
  if (c_.tr_limit < 0x67) return refuse();
  if (!read_tss(0x66, &iomap_base)) return false;
  const uint32_t offset = iomap_base + port / 8u;
  if (offset + 1 > c_.tr_limit) return refuse();
  if (!read_tss(offset, &bits)) return false;
  if (bits & (((1u << size) - 1) << (port & 7))) return refuse();
  return true;
}

void Emulator::InOut() {
  const bool in = d_.mnemonic() == ZYDIS_MNEMONIC_IN;
  const ZydisDecodedOperand& port_op = in ? d_.ops[1] : d_.ops[0];
  const ZydisDecodedOperand& data_op = in ? d_.ops[0] : d_.ops[1];
  const uint16_t port = port_op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? static_cast<uint16_t>(port_op.imm.value.u)
                                                                     : static_cast<uint16_t>(c_.gpr[kRdx]);
  const unsigned size = data_op.size / 8;
  if (!IoPermitted(port, size)) return;
  PortBus& bus = rt_.vcpu().ports();
  if (in)
    WriteGpr(c_, data_op.reg.value, bus.Read(port, size));
  else
    bus.Write(port, size, static_cast<uint32_t>(ReadGpr(c_, data_op.reg.value)));
  rt_.stats().port_io++;
  Next();
}

void Emulator::StringIo() {
  const ZydisMnemonic m = d_.mnemonic();
  const bool in = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
  const unsigned size = (m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_OUTSB)   ? 1
                        : (m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_OUTSW) ? 2
                                                                                  : 4;
  if (!IoPermitted(static_cast<uint16_t>(c_.gpr[kRdx]), size)) return;
  const bool rep = d_.HasPrefix(ZYDIS_ATTRIB_HAS_REP);
  const bool a32 = d_.insn.address_width == 32;
  const uint64_t amask = a32 ? 0xffffffffull : ~0ull;
  const int64_t step = (c_.rflags & kFlagDF) ? -static_cast<int64_t>(size) : static_cast<int64_t>(size);
  uint64_t seg = 0;
  if (d_.HasPrefix(ZYDIS_ATTRIB_HAS_SEGMENT_FS)) seg = c_.fs_base;
  if (d_.HasPrefix(ZYDIS_ATTRIB_HAS_SEGMENT_GS)) seg = c_.gs_base;
  const uint16_t port = static_cast<uint16_t>(c_.gpr[kRdx]);
  PortBus& bus = rt_.vcpu().ports();
  auto adv = [&](uint64_t& r) { r = a32 ? ((r + step) & 0xffffffffull) : r + step; };
  while (!rep || (c_.gpr[kRcx] & amask) != 0) {
    if (in) {
      uint32_t v = bus.Read(port, size);
      if (!Write(c_.gpr[kRdi] & amask, &v, size)) return;
      adv(c_.gpr[kRdi]);
    } else {
      uint32_t v = 0;
      if (!Read((c_.gpr[kRsi] & amask) + seg, &v, size)) return;
      bus.Write(port, size, v);
      adv(c_.gpr[kRsi]);
    }
    rt_.stats().port_io++;
    if (!rep) break;
    c_.gpr[kRcx] = a32 ? ((c_.gpr[kRcx] - 1) & 0xffffffffull) : c_.gpr[kRcx] - 1;
  }
  Next();
}

void Emulator::Pushf() {
  const unsigned size = d_.insn.operand_width / 8;
  // VM and RF read as zero in the image.
  const uint64_t image = c_.rflags & ~(kFlagVM | kFlagRF);
  const uint64_t rsp = c_.gpr[kRsp] - size;
  if (!Write(rsp, &image, size)) return;
  c_.gpr[kRsp] = rsp;
  Next();
}

void Emulator::Popf() {
  const unsigned size = d_.insn.operand_width / 8;
  uint64_t v = 0;
  if (!Read(c_.gpr[kRsp], &v, size)) return;
  uint64_t changeable = kArithFlags | kFlagTF | kFlagDF | kFlagNT | kFlagAC | kFlagID;
  if (c_.cpl == 0) changeable |= kFlagIOPL;
  if (c_.cpl <= Iopl()) changeable |= kFlagIF;
  if (size == 2) changeable &= 0xffff;
  c_.rflags = ((c_.rflags & ~changeable) | (v & changeable) | 2) & ~kFlagRF;
  c_.gpr[kRsp] += size;
  Next();
}

void Emulator::MovCr() {
  if (!RequireCpl0()) return;
  const bool to_cr = ZydisRegisterGetClass(d_.ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL;
  const ZydisRegister cr = to_cr ? d_.ops[0].reg.value : d_.ops[1].reg.value;
  const ZydisRegister gpr = to_cr ? d_.ops[1].reg.value : d_.ops[0].reg.value;
  const unsigned n = static_cast<unsigned>(cr - ZYDIS_REGISTER_CR0);
  if (!to_cr) {
    uint64_t v = 0;
    switch (n) {
      case 0: v = c_.cr0; break;
      case 2: v = c_.cr2; break;
      case 3: v = c_.cr3; break;
      case 4: v = c_.cr4; break;
      case 8: {
        // CR8 is the local APIC's task priority, bits 7:4 (whatever its mode).
        MsrDevice* apic = rt_.vcpu().msr_device();
        v = apic && apic->HasTaskPriority() ? apic->GetCr8() : c_.cr8;
        break;
      }
      default: return Fault(kVecUD);
    }
    WriteGpr(c_, gpr, v);
    return Next();
  }
  const uint64_t v = ReadGpr(c_, gpr);
  switch (n) {
    case 0:
      // Long mode needs PG and PE; reserved bits 63:32 must be zero; NW
      // without CD is an invalid combination (SDM vol. 3A, 2.5).
      if ((v >> 32) || !(v & kCr0Pe) || !(v & (1ull << 31))) return Gp0();
      if ((v & kCr0Nw) && !(v & kCr0Cd)) return Gp0();
      rt_.WriteCr0(v | (1ull << 4));  // ET is hardwired to 1
      break;
    case 2: c_.cr2 = v; break;
    case 3:
      if (v & 0xfff0000000000000ull) return Gp0();
      rt_.WriteCr3(v);
      break;
    case 4: {
      // PAE must stay set in long mode; only architecturally defined bits we expose.
      // TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT OSXSAVE: the bits of the
      // features CPUID reports (and those every long-mode CPU has).
      constexpr uint64_t kAllowed = (1ull << 2) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) |
                                    (1ull << 7) | (1ull << 8) | (1ull << 9) | (1ull << 10) | (1ull << 18);
      if ((v & ~kAllowed) || !(v & (1ull << 5))) return Gp0();
      rt_.WriteCr4(v);
      break;
    }
    case 8:
      if (v & ~0xfull) return Gp0();
      c_.cr8 = v;
      if (MsrDevice* apic = rt_.vcpu().msr_device(); apic && apic->HasTaskPriority()) apic->SetCr8(v);
      break;
    default: return Fault(kVecUD);
  }
  Next();
}

void Emulator::MovDr() {
  if (!RequireCpl0()) return;
  const bool to_dr = ZydisRegisterGetClass(d_.ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
  const ZydisRegister dr = to_dr ? d_.ops[0].reg.value : d_.ops[1].reg.value;
  const ZydisRegister gpr = to_dr ? d_.ops[1].reg.value : d_.ops[0].reg.value;
  unsigned n = static_cast<unsigned>(dr - ZYDIS_REGISTER_DR0);
  if (n == 4 || n == 5) n += 2;  // aliases of DR6/DR7 with CR4.DE clear
  if (n > 7) return Fault(kVecUD);
  if (to_dr) {
    c_.dr[n] = ReadGpr(c_, gpr);
  } else {
    uint64_t v = c_.dr[n];
    if (n == 6) v |= 0xffff0ff0ull;
    if (n == 7) v |= 0x400;
    WriteGpr(c_, gpr, v);
  }
  Next();
}

void Emulator::Rdmsr() {
  if (!RequireCpl0()) return;
  const uint32_t msr = static_cast<uint32_t>(c_.gpr[kRcx]);
  uint64_t v;
  switch (msr) {
    case kMsrTsc: v = __rdtsc() + c_.tsc_offset; break;
    case kMsrApicBase:  // the APIC's own view (enable, x2APIC mode) when there is one
      if (MsrDevice* apic = rt_.vcpu().msr_device(); !apic || !apic->ReadMsr(msr, &v)) v = c_.apic_base;
      break;
    case kMsrMtrrCap: v = 0; break;  // no variable or fixed ranges, no write-combining
    case kMsrMtrrDefType: v = 0xc06; break;  // MTRRs enabled, default type write-back
    case kMsrSysenterCs: case kMsrSysenterCs + 1: case kMsrSysenterCs + 2: v = 0; break;
    case kMsrMiscEnable: v = c_.misc_enable; break;
    case kMsrPat: v = c_.pat; break;
    case kMsrEfer: v = c_.efer; break;
    case kMsrStar: v = c_.star; break;
    case kMsrLstar: v = c_.lstar; break;
    case kMsrCstar: v = c_.cstar; break;
    case kMsrSfmask: v = c_.sfmask; break;
    case kMsrFsBase: v = c_.fs_base; break;
    case kMsrGsBase: v = c_.gs_base; break;
    case kMsrKernelGsBase: v = c_.kernel_gs_base; break;
    case kMsrTscAux: v = c_.tsc_aux; break;
    case kMsrAmdNbCfg: v = 0; break;  // AMD northbridge configuration: nothing to configure
    default:
      // A device's (the local APIC's x2APIC registers, TSC deadline), or none: #GP as hardware.
      if (!rt_.vcpu().msr_device() || !rt_.vcpu().msr_device()->ReadMsr(msr, &v)) return Gp0();
      break;
  }
  c_.gpr[kRax] = v & 0xffffffffu;
  c_.gpr[kRdx] = v >> 32;
  Next();
}

void Emulator::Wrmsr() {
  if (!RequireCpl0()) return;
  const uint32_t msr = static_cast<uint32_t>(c_.gpr[kRcx]);
  const uint64_t v = (c_.gpr[kRdx] << 32) | (c_.gpr[kRax] & 0xffffffffu);
  auto canonical = [&](uint64_t a) { return static_cast<uint64_t>(static_cast<int64_t>(a << 16) >> 16) == a; };
  switch (msr) {
    case kMsrTsc:
      c_.tsc_offset = v - __rdtsc();
      rt_.UpdateTscMode();
      break;
    case kMsrApicBase: {
      // Reserved: bits 7:0, 9 and those above MAXPHYADDR. The APIC refuses
      // the mode changes the SDM forbids (x2APIC straight to xAPIC, ...).
      constexpr uint64_t kReserved = 0x2ffull | ~((1ull << kGuestPhysAddrBits) - 1);
      if (v & kReserved) return Gp0();
      MsrDevice* apic = rt_.vcpu().msr_device();
      if (apic && !apic->WriteMsr(msr, v)) return Gp0();
      c_.apic_base = v;
      break;
    }
    case kMsrMtrrDefType: break;
    case kMsrSysenterCs: case kMsrSysenterCs + 1: case kMsrSysenterCs + 2: break;
    case kMsrMiscEnable: c_.misc_enable = v; break;
    case kMsrPat: c_.pat = v; break;
    case kMsrEfer: {
      // SCE, LME, LMA (read-only here), NXE.
      constexpr uint64_t kWritable = (1ull << 0) | (1ull << 8) | (1ull << 11);
      if (v & ~(kWritable | kEferLma)) return Gp0();
      c_.efer = (v & kWritable) | (c_.efer & kEferLma);
      rt_.FlushAddressSpace();
      break;
    }
    case kMsrStar: c_.star = v; break;
    case kMsrLstar: if (!canonical(v)) return Gp0(); c_.lstar = v; break;
    case kMsrCstar: if (!canonical(v)) return Gp0(); c_.cstar = v; break;
    case kMsrSfmask: c_.sfmask = v & 0xffffffffu; break;
    case kMsrFsBase: if (!canonical(v)) return Gp0(); c_.fs_base = v; break;
    case kMsrGsBase: if (!canonical(v)) return Gp0(); c_.gs_base = v; break;
    case kMsrKernelGsBase: if (!canonical(v)) return Gp0(); c_.kernel_gs_base = v; break;
    case kMsrTscAux: c_.tsc_aux = v & 0xffffffffu; break;
    case kMsrAmdNbCfg: break;
    default:
      if (!rt_.vcpu().msr_device() || !rt_.vcpu().msr_device()->WriteMsr(msr, v)) return Gp0();
      break;
  }
  Next();
}

void Emulator::DescriptorTable() {
  const ZydisMnemonic m = d_.mnemonic();
  const bool store = m == ZYDIS_MNEMONIC_SGDT || m == ZYDIS_MNEMONIC_SIDT || m == ZYDIS_MNEMONIC_SLDT ||
                     m == ZYDIS_MNEMONIC_STR || m == ZYDIS_MNEMONIC_SMSW;
  // Stores are allowed at CPL 3 unless CR4.UMIP (not exposed); loads need CPL 0.
  if (!store && !RequireCpl0()) return;
  switch (m) {
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT: {
      uint8_t buf[10];
      if (!Read(Ea(0), buf, 10)) return;
      uint16_t limit;
      uint64_t base;
      std::memcpy(&limit, buf, 2);
      std::memcpy(&base, buf + 2, 8);
      if (m == ZYDIS_MNEMONIC_LGDT) {
        c_.gdtr_limit = limit;
        c_.gdtr_base = base;
      } else {
        c_.idtr_limit = limit;
        c_.idtr_base = base;
      }
      break;
    }
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT: {
      uint8_t buf[10];
      const bool g = m == ZYDIS_MNEMONIC_SGDT;
      const uint16_t limit = g ? c_.gdtr_limit : c_.idtr_limit;
      const uint64_t base = g ? c_.gdtr_base : c_.idtr_base;
      std::memcpy(buf, &limit, 2);
      std::memcpy(buf + 2, &base, 8);
      if (!Write(Ea(0), buf, 10)) return;
      break;
    }
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_LTR: {
      uint16_t sel = 0;
      if (d_.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (!Read(Ea(0), &sel, 2)) return;
      } else {
        sel = static_cast<uint16_t>(ReadGpr(c_, d_.ops[0].reg.value));
      }
      GuestFault f;
      if (!(m == ZYDIS_MNEMONIC_LLDT ? LoadLdtr(rt_, sel, &f) : LoadTaskRegister(rt_, sel, &f))) return rt_.Raise(f);
      break;
    }
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_SMSW: {
      uint64_t v = m == ZYDIS_MNEMONIC_SLDT ? c_.ldtr : m == ZYDIS_MNEMONIC_STR ? c_.tr : c_.cr0;
      if (d_.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
        uint16_t w = static_cast<uint16_t>(v);
        if (!Write(Ea(0), &w, 2)) return;
      } else {
        if (m != ZYDIS_MNEMONIC_SMSW) v &= 0xffff;  // selectors zero-extend
        WriteGpr(c_, d_.ops[0].reg.value, v);
      }
      break;
    }
    case ZYDIS_MNEMONIC_LMSW: {
      uint16_t w = 0;
      if (d_.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (!Read(Ea(0), &w, 2)) return;
      } else {
        w = static_cast<uint16_t>(ReadGpr(c_, d_.ops[0].reg.value));
      }
      // Loads PE (which it cannot clear), MP, EM, TS.
      rt_.WriteCr0((c_.cr0 & ~0xeull) | (w & 0xf) | (c_.cr0 & kCr0Pe));
      break;
    }
    case ZYDIS_MNEMONIC_CLTS:
      rt_.WriteCr0(c_.cr0 & ~kCr0Ts);
      break;
    default:
      return Fault(kVecUD);
  }
  Next();
}

// ---- XSAVE / XRSTOR in the standard format, limited to the guest's XCR0. ----

void Emulator::Xsave() {
  if (!(c_.cr4 & (1ull << 18))) return Fault(kVecUD);
  const uint64_t ea = Ea(0);
  if (ea & 63) return Gp0();
  const uint64_t rfbm = c_.xcr0 & ((c_.gpr[kRdx] << 32) | (c_.gpr[kRax] & 0xffffffffu));
  uint8_t img[832];
  const uint8_t* area = c_.xsave_area;
  uint64_t in_use;
  std::memcpy(&in_use, area + kXsaveHeader, 8);
  // Start from the memory image so that components outside RFBM are kept.
  if (!Read(ea, img, 576 + ((rfbm & 4) ? 256 : 0))) return;
  if (rfbm & 1) {
    if (in_use & 1) {
      std::memcpy(img, area, 24);              // FCW FSW FTW FOP FIP FDP
      std::memcpy(img + 32, area + 32, 128);   // ST0-7
    } else {
      std::memset(img, 0, 24);
      std::memset(img + 32, 0, 128);
      img[0] = 0x7f;
      img[1] = 0x03;  // FCW = 0x37f
    }
  }
  if (rfbm & 2) {
    if (in_use & 2)
      std::memcpy(img + 160, area + 160, 256);
    else
      std::memset(img + 160, 0, 256);
  }
  if (rfbm & 6) std::memcpy(img + 24, area + 24, 8);  // MXCSR, MXCSR_MASK
  if (rfbm & 4) {
    if (in_use & 4)
      std::memcpy(img + 576, area + 576, 256);
    else
      std::memset(img + 576, 0, 256);
  }
  uint64_t bv;
  std::memcpy(&bv, img + kXsaveHeader, 8);
  bv = (bv & ~rfbm) | (in_use & rfbm);
  std::memcpy(img + kXsaveHeader, &bv, 8);
  Write(ea, img, 576 + ((rfbm & 4) ? 256 : 0)) ? Next() : void();
}

void Emulator::Xrstor() {
  if (!(c_.cr4 & (1ull << 18))) return Fault(kVecUD);
  const uint64_t ea = Ea(0);
  if (ea & 63) return Gp0();
  const uint64_t rfbm = c_.xcr0 & ((c_.gpr[kRdx] << 32) | (c_.gpr[kRax] & 0xffffffffu));
  uint8_t img[832];
  if (!Read(ea, img, 576)) return;
  uint64_t bv, comp;
  std::memcpy(&bv, img + kXsaveHeader, 8);
  std::memcpy(&comp, img + kXsaveHeader + 8, 8);
  // The standard form: XCOMP_BV zero, no state the guest cannot have.
  if (comp != 0 || (bv & ~c_.xcr0)) return Gp0();
  for (unsigned i = 16; i < 64; ++i)
    if (img[kXsaveHeader + i]) return Gp0();
  if ((rfbm & 4) && (bv & 4) && !Read(ea + 576, img + 576, 256)) return;
  uint32_t mxcsr;
  std::memcpy(&mxcsr, img + 24, 4);
  if ((rfbm & 6) && (mxcsr & ~0xffffu)) return Gp0();
  uint8_t* area = c_.xsave_area;
  uint64_t in_use;
  std::memcpy(&in_use, area + kXsaveHeader, 8);
  if (rfbm & 1) {
    if (bv & 1) {
      std::memcpy(area, img, 24);
      std::memcpy(area + 32, img + 32, 128);
    }
  }
  if ((rfbm & 2) && (bv & 2)) std::memcpy(area + 160, img + 160, 256);
  if (rfbm & 6) std::memcpy(area + 24, img + 24, 4);
  if ((rfbm & 4) && (bv & 4)) std::memcpy(area + 576, img + 576, 256);
  // Components in RFBM but not in XSTATE_BV go to their initial state.
  in_use = (in_use & ~rfbm) | (bv & rfbm);
  std::memcpy(area + kXsaveHeader, &in_use, 8);
  Next();
}

// ---- fnstenv, fnsave, fxsave: the x87 pointers as the guest's (fpu_save.h). ----

void Emulator::FpuSave() {
  const ZydisMnemonic m = d_.mnemonic();
  const bool o16 = d_.insn.operand_width == 16;
  const FpuSaveForm form = m == ZYDIS_MNEMONIC_FXSAVE64 ? FpuSaveForm::kFxsave64
                           : m == ZYDIS_MNEMONIC_FXSAVE ? FpuSaveForm::kFxsave
                           : m == ZYDIS_MNEMONIC_FNSAVE ? (o16 ? FpuSaveForm::kFnsave16 : FpuSaveForm::kFnsave32)
                                                        : (o16 ? FpuSaveForm::kFnstenv16 : FpuSaveForm::kFnstenv32);
  const uint64_t ea = Ea(0);
  const bool fx = form == FpuSaveForm::kFxsave || form == FpuSaveForm::kFxsave64;
  if (fx && (ea & 15)) return Gp0();  // the FXSAVE area is 16-byte aligned
  alignas(64) uint8_t state[kGuestXsaveBytes];
  alignas(16) uint8_t image[512];
  // The image starts as the memory it replaces: bytes the instruction does
  // not store (FXSAVE's reserved and available tail) stay as they were. Read
  // as a write, so that a fault is the store's.
  const unsigned size = FpuSaveImageBytes(form);
  GuestFault f;
  if (!rt_.ReadVirt(ea, image, size, &f, AccessKind::kWrite)) return rt_.Raise(f);
  std::memcpy(state, c_.xsave_area, sizeof state);
  RunFpuSave(form, state, image);
  if (!Write(ea, image, size)) return;  // a faulting save changes nothing
  std::memcpy(c_.xsave_area, state, sizeof state);
  Next();
}

// ---- AVX2 gathers: one address per element (VSIB). ----

void Emulator::Gather() {
  const ZydisMnemonic m = d_.mnemonic();
  const ZydisDecodedOperand& dst = d_.ops[0];
  const ZydisDecodedOperand& mem = d_.ops[1];
  const ZydisDecodedOperand& msk = d_.ops[2];
  auto vec_index = [](ZydisRegister r) {
    return ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_YMM ? static_cast<unsigned>(r - ZYDIS_REGISTER_YMM0)
                                                           : static_cast<unsigned>(r - ZYDIS_REGISTER_XMM0);
  };
  const unsigned di = vec_index(dst.reg.value), mi = vec_index(msk.reg.value), ii = vec_index(mem.mem.index);
  if (di == mi || di == ii || mi == ii) return Fault(kVecUD);
  const bool idx64 = m == ZYDIS_MNEMONIC_VPGATHERQD || m == ZYDIS_MNEMONIC_VPGATHERQQ ||
                     m == ZYDIS_MNEMONIC_VGATHERQPS || m == ZYDIS_MNEMONIC_VGATHERQPD;
  const bool data64 = m == ZYDIS_MNEMONIC_VPGATHERDQ || m == ZYDIS_MNEMONIC_VPGATHERQQ ||
                      m == ZYDIS_MNEMONIC_VGATHERDPD || m == ZYDIS_MNEMONIC_VGATHERQPD;
  const unsigned dst_bits = dst.size;
  const unsigned idx_bits = ZydisRegisterGetClass(mem.mem.index) == ZYDIS_REGCLASS_YMM ? 256 : 128;
  const unsigned data_sz = data64 ? 8 : 4, idx_sz = idx64 ? 8 : 4;
  const unsigned n = std::min(dst_bits / 8 / data_sz, idx_bits / 8 / idx_sz);
  uint8_t vd[32], vm[32], vi[32];
  Vcpu& v = rt_.vcpu();
  v.GetYmm(di, vd);
  v.GetYmm(mi, vm);
  v.GetYmm(ii, vi);
  const uint64_t base = mem.mem.base == ZYDIS_REGISTER_NONE ? 0 : ReadGpr(c_, mem.mem.base);
  const int64_t disp = mem.mem.disp.has_displacement ? mem.mem.disp.value : 0;
  uint64_t seg = 0;
  if (mem.mem.segment == ZYDIS_REGISTER_FS) seg = c_.fs_base;
  if (mem.mem.segment == ZYDIS_REGISTER_GS) seg = c_.gs_base;
  bool faulted = false;
  GuestFault f;
  for (unsigned j = 0; j < n; ++j) {
    const bool on = vm[j * data_sz + data_sz - 1] & 0x80;
    if (!on) continue;
    int64_t index;
    if (idx64) {
      std::memcpy(&index, vi + j * 8, 8);
    } else {
      int32_t i32;
      std::memcpy(&i32, vi + j * 4, 4);
      index = i32;
    }
    uint64_t va = base + static_cast<uint64_t>(index) * mem.mem.scale + static_cast<uint64_t>(disp);
    if (d_.insn.address_width == 32) va &= 0xffffffffu;
    va += seg;
    uint64_t value = 0;
    if (!rt_.ReadVirt(va, &value, data_sz, &f)) {
      faulted = true;
      break;
    }
    std::memcpy(vd + j * data_sz, &value, data_sz);
    std::memset(vm + j * data_sz, 0, data_sz);  // element done: its mask clears
  }
  if (!faulted) {
    // Complete: the mask register is zero, elements past n and bits past the
    // destination width are zero.
    std::memset(vm, 0, 32);
    std::memset(vd + n * data_sz, 0, 32 - n * data_sz);
  }
  v.SetYmm(di, vd);
  v.SetYmm(mi, vm);
  if (faulted) return rt_.Raise(f);
  Next();
}

void Emulator::MaskMove() {
  // Byte-masked store of a register to [rdi] (DS:EDI with a 0x67 prefix).
  const bool mmx = d_.mnemonic() == ZYDIS_MNEMONIC_MASKMOVQ;
  const unsigned n = mmx ? 8 : 16;
  uint8_t data[32] = {}, mask[32] = {};
  uint8_t* area = c_.xsave_area;
  uint64_t in_use;
  std::memcpy(&in_use, area + kXsaveHeader, 8);
  if (mmx && !(in_use & 1)) {
    // x87 in its initial state: make the image say so before using it.
    std::memset(area, 0, 24);
    std::memset(area + kXsaveSt0, 0, 128);
    area[0] = 0x7f;
    area[1] = 0x03;
  }
  uint16_t fsw;
  std::memcpy(&fsw, area + kXsaveFsw, 2);
  const unsigned top = (fsw >> 11) & 7;
  if (mmx) {
    // MMi is physical x87 register Ri; the image holds ST(j) = R((TOP + j) & 7).
    auto mm = [&](ZydisRegister r, uint8_t* out) {
      const unsigned i = static_cast<unsigned>(r - ZYDIS_REGISTER_MM0);
      std::memcpy(out, area + kXsaveSt0 + 16 * ((i - top) & 7), 8);
    };
    mm(d_.ops[0].reg.value, data);
    mm(d_.ops[1].reg.value, mask);
  } else {
    rt_.vcpu().GetYmm(static_cast<unsigned>(d_.ops[0].reg.value - ZYDIS_REGISTER_XMM0), data);
    rt_.vcpu().GetYmm(static_cast<unsigned>(d_.ops[1].reg.value - ZYDIS_REGISTER_XMM0), mask);
  }
  uint64_t va = c_.gpr[kRdi];
  if (d_.insn.address_width == 32) va &= 0xffffffffu;
  for (unsigned i = 0; i < n; ++i)
    if ((mask[i] & 0x80) && !Write(va + i, data + i, 1)) return;
  if (mmx) {
    // An MMX instruction leaves the x87 unit in MMX state: TOP = 0 and every
    // register valid. The image is ST-relative, so it rotates with TOP.
    uint8_t regs[8][16];
    for (unsigned i = 0; i < 8; ++i) std::memcpy(regs[i], area + kXsaveSt0 + 16 * ((i - top) & 7), 16);
    for (unsigned i = 0; i < 8; ++i) std::memcpy(area + kXsaveSt0 + 16 * i, regs[i], 16);
    fsw &= static_cast<uint16_t>(~(7u << 11));
    std::memcpy(area + kXsaveFsw, &fsw, 2);
    area[kXsaveFtwAbridged] = 0xff;
    uint64_t bv;
    std::memcpy(&bv, area + kXsaveHeader, 8);
    bv |= 1;
    std::memcpy(area + kXsaveHeader, &bv, 8);
  }
  Next();
}

void Emulator::SegmentMove() {
  // mov to/from a segment register, push/pop of FS/GS.
  auto seg_index = [](ZydisRegister r) -> int {
    switch (r) {
      case ZYDIS_REGISTER_ES: return kSegEs;
      case ZYDIS_REGISTER_CS: return kSegCs;
      case ZYDIS_REGISTER_SS: return kSegSs;
      case ZYDIS_REGISTER_DS: return kSegDs;
      case ZYDIS_REGISTER_FS: return kSegFs;
      case ZYDIS_REGISTER_GS: return kSegGs;
      default: return -1;
    }
  };
  auto load = [&](int seg, uint16_t sel) {
    GuestFault f;
    if (!LoadDataSegment(rt_, static_cast<unsigned>(seg), sel, &f)) {
      rt_.Raise(f);
      return false;
    }
    if (seg == kSegSs) rt_.SetMovSsShadow();  // mov ss / pop ss block interrupts and traps for one instruction
    return true;
  };
  const ZydisMnemonic m = d_.mnemonic();
  if (m == ZYDIS_MNEMONIC_MOV) {
    const ZydisDecodedOperand& a = d_.ops[0];
    const ZydisDecodedOperand& b = d_.ops[1];
    if (a.type == ZYDIS_OPERAND_TYPE_REGISTER && seg_index(a.reg.value) >= 0) {
      const int s = seg_index(a.reg.value);
      if (s == kSegCs) return Fault(kVecUD);
      uint16_t sel;
      if (b.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (!Read(Ea(1), &sel, 2)) return;
      } else {
        sel = static_cast<uint16_t>(ReadGpr(c_, b.reg.value));
      }
      if (!load(s, sel)) return;
      return Next();
    }
    const int s = seg_index(b.reg.value);
    if (a.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      uint16_t sel = c_.sel[s];
      if (!Write(Ea(0), &sel, 2)) return;
    } else {
      // A register destination gets the selector zero-extended (32/64-bit
      // forms) or merged (16-bit).
      WriteGpr(c_, a.reg.value, c_.sel[s]);
    }
    return Next();
  }
  const int s = seg_index(d_.ops[0].reg.value);
  if (s < 0) return Fault(kVecUD);
  const unsigned size = d_.insn.operand_width / 8;
  if (m == ZYDIS_MNEMONIC_PUSH) {
    const uint64_t v = c_.sel[s];
    if (!Write(c_.gpr[kRsp] - size, &v, size)) return;
    c_.gpr[kRsp] -= size;
  } else {
    uint64_t v = 0;
    if (!Read(c_.gpr[kRsp], &v, size)) return;
    if (!load(s, static_cast<uint16_t>(v))) return;
    c_.gpr[kRsp] += size;
  }
  Next();
}

// lar, lsl, verr, verw: whether the descriptor a selector names is visible
// at the current privilege (and readable or writable), reported in ZF; no
// fault for a bad selector (Intel SDM vol. 2A, LAR and LSL; vol. 2C, VERR/VERW).
// Every form checks DPL >= CPL and DPL >= RPL, except for conforming code
// segments, which are visible from any level.
void Emulator::SegmentQuery() {
  const ZydisMnemonic m = d_.mnemonic();
  const bool verify = m == ZYDIS_MNEMONIC_VERR || m == ZYDIS_MNEMONIC_VERW;
  const ZydisDecodedOperand& src = verify ? d_.ops[0] : d_.ops[1];
  uint16_t sel = 0;
  if (src.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    if (!Read(Ea(verify ? 0 : 1), &sel, 2)) return;
  } else {
    sel = static_cast<uint16_t>(ReadGpr(c_, src.reg.value));
  }
  auto invalid = [&] {
    c_.rflags &= ~kFlagZF;
    Next();
  };
  // A null selector, or one beyond its table's limit, is simply not valid.
  const bool ldt = sel & 4;
  if ((sel & ~3u) == 0 || (ldt && (c_.ldtr & ~3u) == 0) ||
      (sel | 7u) > (ldt ? c_.ldtr_limit : c_.gdtr_limit))
    return invalid();
  Descriptor desc;
  GuestFault f;
  if (!ReadDescriptor(rt_, sel, false, &desc, &f)) return rt_.Raise(f);  // the table itself faulted
  bool ok;
  if (desc.s) {
    ok = m == ZYDIS_MNEMONIC_VERR ? desc.data() || desc.readable_code()
         : m == ZYDIS_MNEMONIC_VERW ? desc.writable_data()
                                    : true;
  } else {
    // System descriptors valid in 64-bit mode: LDT (2), available and busy
    // 64-bit TSS (9, 11), and for lar also the 64-bit call gate (12).
    ok = !verify && (desc.type == 2 || desc.type == 9 || desc.type == 11 ||
                     (m == ZYDIS_MNEMONIC_LAR && desc.type == 12));
  }
  if (ok && !desc.conforming() && desc.dpl < std::max<unsigned>(c_.cpl, sel & 3u)) ok = false;
  if (!ok) return invalid();
  if (!verify) {
    // lar: the access-rights bytes of the descriptor's high doubleword
    // (bits 23:8, limit 19:16 included); lsl: the byte-granular limit.
    uint64_t v = m == ZYDIS_MNEMONIC_LAR ? (desc.raw_lo >> 32) & 0x00ffff00u : desc.limit;
    if (d_.ops[0].size == 16) v &= 0xffff;
    WriteGpr(c_, d_.ops[0].reg.value, v);
  }
  c_.rflags |= kFlagZF;
  Next();
}

void Emulator::Enter() {
  // enter size, level with level > 0 (the translator does level 0 itself):
  // copies level-1 frame pointers of the enclosing frames, then the new one.
  if (d_.insn.operand_width != 64) return Fault(kVecUD);
  const uint64_t size = d_.ops[0].imm.value.u & 0xffff;
  const unsigned level = d_.ops[1].imm.value.u & 31;
  uint64_t rsp = c_.gpr[kRsp];
  uint64_t rbp = c_.gpr[kRbp];
  auto push = [&](uint64_t v) {
    rsp -= 8;
    return Write(rsp, &v, 8);
  };
  if (!push(rbp)) return;
  const uint64_t frame = rsp;
  if (level > 0) {
    for (unsigned i = 1; i < level; ++i) {
      rbp -= 8;
      uint64_t v;
      if (!Read(rbp, &v, 8) || !push(v)) return;
    }
    if (!push(frame)) return;
  }
  c_.gpr[kRbp] = frame;
  c_.gpr[kRsp] = rsp - size;
  Next();
}

// A code segment iretq or a far transfer may return or go to in 64-bit
// mode: L set, D clear (L and D both set is reserved: #GP(selector), SDM
// vol. 3A 5.2.1). Compatibility-mode code (L clear) is a real target on
// hardware, but xlat runs 64-bit code only: it gets the same #GP(selector).
bool Is64BitCode(const Descriptor& d) { return d.code() && d.l && !d.db; }

void Emulator::Iret() {
  // iretq in 64-bit mode pops RIP, CS, RFLAGS, RSP and SS (operand-size
  // each) and may return to an outer privilege level. (Task returns through
  // NT are not possible in long mode: #GP.)
  if (c_.rflags & kFlagNT) return Gp0();
  const unsigned size = d_.insn.operand_width / 8;
  uint64_t frame[5] = {};
  uint64_t rsp = c_.gpr[kRsp];
  for (int i = 0; i < 5; ++i) {
    if (!Read(rsp, &frame[i], size)) return;
    rsp += size;
  }
  const uint16_t cs = static_cast<uint16_t>(frame[1]);
  const uint16_t ss = static_cast<uint16_t>(frame[4]);
  const unsigned rpl = cs & 3;
  GuestFault f;
  if (rpl < c_.cpl || (cs & ~3u) == 0) return rt_.RaiseWithError(kVecGP, cs & 0xfffc);
  Descriptor cd;
  if (!ReadDescriptor(rt_, cs, false, &cd, &f)) return rt_.Raise(f);
  if (!cd.code() || (cd.conforming() ? cd.dpl > rpl : cd.dpl != rpl) || !Is64BitCode(cd))
    return RaiseSel(kVecGP, cs);
  if (!cd.present) return rt_.RaiseWithError(kVecNP, cs & 0xfffc);
  uint64_t rip = size == 4 ? (frame[0] & 0xffffffffu) : size == 2 ? (frame[0] & 0xffff) : frame[0];
  if (!IsCanonical(rip)) return Gp0();
  // SS: at an outer level it must be a valid writable data segment with
  // RPL = DPL = the new CPL; a null SS is allowed when returning to CPL < 3.
  if ((ss & ~3u) == 0) {
    if (rpl == 3 || (ss & 3) != rpl) return rt_.RaiseWithError(kVecGP, 0);
  } else {
    Descriptor sd;
    if (!ReadDescriptor(rt_, ss, false, &sd, &f)) return rt_.Raise(f);
    if ((ss & 3) != rpl || !sd.writable_data() || sd.dpl != rpl) return rt_.RaiseWithError(kVecGP, ss & 0xfffc);
    if (!sd.present) return rt_.RaiseWithError(kVecSS, ss & 0xfffc);
  }
  uint64_t changeable = kArithFlags | kFlagTF | kFlagDF | kFlagNT | kFlagAC | kFlagID | kFlagRF;
  if (c_.cpl == 0) changeable |= kFlagIOPL | kFlagVIF | kFlagVIP;
  if (c_.cpl <= Iopl()) changeable |= kFlagIF;
  if (size == 2) changeable &= 0xffff;
  const bool if_was_clear = !(c_.rflags & kFlagIF);
  c_.rip = rip;
  c_.sel[kSegCs] = cs;
  c_.rflags = (c_.rflags & ~changeable) | (frame[2] & changeable) | 2;
  c_.gpr[kRsp] = frame[3];
  c_.sel[kSegSs] = ss;
  if (rpl > c_.cpl) NullOuterDataSegments(rpl);
  c_.cpl = rpl;
  (void)if_was_clear;
}

// On a return to an outer level (iret, far ret), ES/DS/FS/GS holding
// segments the new level may not use become null (Intel SDM vol. 2, IRET and
// RET operation: data or non-conforming code with DPL < the new CPL).
void Emulator::NullOuterDataSegments(unsigned new_cpl) {
  for (unsigned sg : {kSegEs, kSegDs, kSegFs, kSegGs}) {
    Descriptor dd;
    GuestFault ignored;
    if ((c_.sel[sg] & ~3u) != 0 && ReadDescriptor(rt_, c_.sel[sg], false, &dd, &ignored) &&
        (dd.data() || !dd.conforming()) && dd.dpl < new_cpl)
      c_.sel[sg] = 0;
  }
}

// jmp far / call far m16:16|32|64 (the ptr16:32 immediate forms are #UD in
// 64-bit mode: the decoder refuses them). The selector names a code segment
// (same privilege only) or a 16-byte call gate (Intel SDM vol. 2, CALL and
// JMP, IA-32e mode; AMD APM vol. 2, 4.8.3). Task gates and TSSs give #GP.
void Emulator::FarTransfer() {
  if (d_.insn.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR || d_.ops[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
    return Fault(kVecUD);
  const bool call = d_.mnemonic() == ZYDIS_MNEMONIC_CALL;
  const unsigned size = d_.insn.operand_width / 8;  // of the offset, and of each push
  const uint64_t ea = Ea(0);
  uint64_t offset = 0;
  uint16_t sel = 0;
  if (!Read(ea, &offset, size) || !Read(ea + size, &sel, 2)) return;
  if ((sel & ~3u) == 0) return Gp0();
  Descriptor d;
  GuestFault f;
  if (!ReadDescriptor(rt_, sel, false, &d, &f)) return rt_.Raise(f);
  if (!d.s) {
    if (d.type == 0xc) return FarTransferThroughGate(sel, call);  // a 64-bit call gate
    return RaiseSel(kVecGP, sel);  // TSS, task gate, LDT, interrupt/trap gate
  }
  // A code segment at the current level: conforming with DPL <= CPL, or
  // non-conforming with DPL = CPL and RPL <= CPL. CPL does not change.
  const unsigned rpl = sel & 3;
  if (!d.code() || (d.conforming() ? d.dpl > c_.cpl : (d.dpl != c_.cpl || rpl > c_.cpl)) || !Is64BitCode(d))
    return RaiseSel(kVecGP, sel);
  if (!d.present) return RaiseSel(kVecNP, sel);
  if (!IsCanonical(offset)) return Gp0();
  uint64_t rsp = c_.gpr[kRsp];
  if (call && !PushFarReturn(rsp, size, c_.cpl < 3, &rsp)) return;
  c_.gpr[kRsp] = rsp;
  c_.sel[kSegCs] = static_cast<uint16_t>((sel & ~3u) | c_.cpl);
  c_.rip = offset;
}

// Pushes the caller's CS and then its return RIP, `size` bytes each (the
// selector zero-extended), below rsp: one push at a time, so that a fault
// names the first slot that cannot be written. A non-canonical stack is #SS(0).
bool Emulator::PushFarReturn(uint64_t rsp, unsigned size, bool supervisor, uint64_t* new_rsp) {
  return PushStack(rsp, c_.sel[kSegCs], size, supervisor, &rsp) &&
         PushStack(rsp, d_.next_rip(), size, supervisor, new_rsp);
}

bool Emulator::PushStack(uint64_t rsp, uint64_t value, unsigned size, bool supervisor, uint64_t* new_rsp) {
  GuestFault f;
  if (!rt_.WriteVirt(rsp - size, &value, size, &f, supervisor)) {
    if (f.vector == kVecGP) f = GuestFault{kVecSS, 0, true, 0};
    rt_.Raise(f);
    return false;
  }
  *new_rsp = rsp - size;
  return true;
}

// Reads `size` bytes (zero-extended) of the stack at va; a non-canonical
// stack is #SS(0), as for PushStack.
bool Emulator::PopStack(uint64_t va, unsigned size, uint64_t* value) {
  *value = 0;
  GuestFault f;
  if (rt_.ReadVirt(va, value, size, &f)) return true;
  if (f.vector == kVecGP) f = GuestFault{kVecSS, 0, true, 0};
  rt_.Raise(f);
  return false;
}

// Through a call gate: the gate's DPL must admit the caller, its target is
// a 64-bit code segment, and a call to a more privileged non-conforming
// segment switches to the TSS stack of the new level (SS becomes a null
// selector with RPL = new CPL) and pushes SS, RSP, CS, RIP there, 8 bytes
// each. jmp never changes the privilege level. The checks come in the order
// of the SDM's CALL/JMP pseudocode.
void Emulator::FarTransferThroughGate(uint16_t gate_sel, bool call) {
  GuestFault f;
  Descriptor gate;
  if (!ReadDescriptor(rt_, gate_sel, true, &gate, &f)) return rt_.Raise(f);  // 16 bytes within the limit
  if (gate.dpl < c_.cpl || gate.dpl < (gate_sel & 3u)) return RaiseSel(kVecGP, gate_sel);
  if (!gate.present) return RaiseSel(kVecNP, gate_sel);
  if (((gate.raw_hi >> 40) & 0x1f) != 0) return RaiseSel(kVecGP, gate_sel);  // upper type must be 0
  const uint16_t cs = static_cast<uint16_t>(gate.raw_lo >> 16);
  const uint64_t target = (gate.raw_lo & 0xffff) | ((gate.raw_lo >> 32) & 0xffff0000ull) | (gate.raw_hi << 32);
  if ((cs & ~3u) == 0) return Gp0();
  Descriptor cd;
  if (!ReadDescriptor(rt_, cs, false, &cd, &f)) return rt_.Raise(f);
  const bool jmp_level_wrong = !call && !cd.conforming() && cd.dpl != c_.cpl;
  if (!cd.code() || cd.dpl > c_.cpl || jmp_level_wrong || !Is64BitCode(cd)) return RaiseSel(kVecGP, cs);
  if (!cd.present) return RaiseSel(kVecNP, cs);
  if (!IsCanonical(target)) return Gp0();
  const unsigned new_cpl = (call && !cd.conforming()) ? cd.dpl : c_.cpl;
  uint64_t rsp = c_.gpr[kRsp];
  if (new_cpl < c_.cpl) {
    const uint32_t off = 4 + 8 * new_cpl;  // RSPn in the 64-bit TSS
    if (off + 7 > c_.tr_limit) return RaiseSel(kVecTS, c_.tr);
    if (!rt_.ReadVirt(c_.tr_base + off, &rsp, 8, &f, AccessKind::kRead, true)) return rt_.Raise(f);
    if (!IsCanonical(rsp)) return rt_.RaiseWithError(kVecSS, 0);
    if (!PushStack(rsp, c_.sel[kSegSs], 8, true, &rsp) || !PushStack(rsp, c_.gpr[kRsp], 8, true, &rsp))
      return;
  }
  if (call && !PushFarReturn(rsp, 8, new_cpl < 3, &rsp)) return;
  c_.gpr[kRsp] = rsp;
  if (new_cpl < c_.cpl) c_.sel[kSegSs] = static_cast<uint16_t>(new_cpl);
  c_.sel[kSegCs] = static_cast<uint16_t>((cs & ~3u) | new_cpl);
  c_.cpl = new_cpl;
  c_.rip = target;
}

// ret far [imm16]: pops RIP and CS (operand size each, 32-bit by default),
// releases imm16 bytes, and on a return to an outer level (RPL > CPL) pops
// RSP and SS as well, releasing imm16 bytes of the outer stack too.
void Emulator::FarRet() {
  if (d_.insn.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR) return Fault(kVecUD);
  const unsigned size = d_.insn.operand_width / 8;
  const uint64_t release = d_.insn.operand_count_visible > 0 ? (d_.ops[0].imm.value.u & 0xffff) : 0;
  const uint64_t rsp = c_.gpr[kRsp];
  uint64_t rip = 0, cs64 = 0;
  if (!PopStack(rsp, size, &rip) || !PopStack(rsp + size, size, &cs64)) return;
  const uint16_t cs = static_cast<uint16_t>(cs64);
  const unsigned rpl = cs & 3;
  if ((cs & ~3u) == 0) return Gp0();
  Descriptor cd;
  GuestFault f;
  if (!ReadDescriptor(rt_, cs, false, &cd, &f)) return rt_.Raise(f);
  if (!cd.code() || rpl < c_.cpl || (cd.conforming() ? cd.dpl > rpl : cd.dpl != rpl) || !Is64BitCode(cd))
    return RaiseSel(kVecGP, cs);
  if (!cd.present) return RaiseSel(kVecNP, cs);
  if (!IsCanonical(rip)) return Gp0();
  uint64_t new_rsp = rsp + 2 * size + release;
  if (rpl == c_.cpl) {
    c_.gpr[kRsp] = new_rsp;
    c_.sel[kSegCs] = cs;
    c_.rip = rip;
    return;
  }
  // To an outer level: SS must be a writable data segment with RPL = DPL =
  // the new CPL (a null SS only below CPL 3, as for iretq).
  uint64_t outer_rsp = 0, ss64 = 0;
  if (!PopStack(new_rsp, size, &outer_rsp) || !PopStack(new_rsp + size, size, &ss64)) return;
  const uint16_t ss = static_cast<uint16_t>(ss64);
  if ((ss & ~3u) == 0) {
    if (rpl == 3 || (ss & 3) != rpl) return Gp0();
  } else {
    Descriptor sd;
    if (!ReadDescriptor(rt_, ss, false, &sd, &f)) return rt_.Raise(f);
    if ((ss & 3) != rpl || !sd.writable_data() || sd.dpl != rpl) return RaiseSel(kVecGP, ss);
    if (!sd.present) return RaiseSel(kVecSS, ss);
  }
  c_.rip = rip;
  c_.sel[kSegCs] = cs;
  c_.sel[kSegSs] = ss;
  c_.gpr[kRsp] = (size == 4 ? outer_rsp & 0xffffffffu : size == 2 ? outer_rsp & 0xffff : outer_rsp) + release;
  NullOuterDataSegments(rpl);
  c_.cpl = rpl;
}

void Emulator::Syscall() {
  // 64-bit syscall: rcx = return address, r11 = rflags, flags masked by
  // SFMASK, CS/SS from STAR[47:32], CPL 0, rip = LSTAR.
  if (!(c_.efer & 1)) return Fault(kVecUD);  // EFER.SCE
  c_.gpr[kRcx] = d_.next_rip();
  c_.gpr[kR11] = c_.rflags & ~kFlagRF;
  c_.rflags = (c_.rflags & ~(c_.sfmask | kFlagRF)) | 2;
  // CS.Selector = STAR[47:32] AND FFFCH, SS.Selector = STAR[47:32] + 8: the
  // RPL bits are masked for CS only (Intel SDM vol. 2B, SYSCALL, Operation).
  const uint16_t star_cs = static_cast<uint16_t>(c_.star >> 32);
  c_.sel[kSegCs] = star_cs & 0xfffc;
  c_.sel[kSegSs] = static_cast<uint16_t>(star_cs + 8);
  c_.cpl = 0;
  c_.rip = c_.lstar;
  // A single-step trap follows only if TF survived SFMASK (operating
  // systems mask it: a stepped syscall does not trap in the kernel).
  rt_.StepTrapFollowsNewTf();
}

void Emulator::Sysret() {
  // sysretq: rip = rcx, rflags = r11, CS = STAR[63:48] + 16, SS = STAR[63:48] + 8, CPL 3.
  if (!(c_.efer & 1)) return Fault(kVecUD);
  if (c_.cpl != 0) return Gp0();
  if (d_.insn.operand_width != 64) return Fault(kVecUD);  // to compatibility mode: not supported
  if (!IsCanonical(c_.gpr[kRcx])) return Gp0();
  const uint16_t base = static_cast<uint16_t>((c_.star >> 48) & 0xffff);
  c_.rip = c_.gpr[kRcx];
  // RFLAGS = (R11 & 3C7FD7H) | 2 (SDM vol. 2B, SYSRET): reserved bits, RF, VM
  // and bits 63:22 clear.
  c_.rflags = (c_.gpr[kR11] & 0x3c7fd7ull) | 2;
  // A TF it sets traps right after it, before the first user instruction
  // (unlike iretq and popf, whose new TF takes effect an instruction later;
  // Linux returns through iretq for that reason, entry_64.S).
  rt_.StepTrapFollowsNewTf();
  c_.sel[kSegCs] = static_cast<uint16_t>((base + 16) | 3);
  c_.sel[kSegSs] = static_cast<uint16_t>((base + 8) | 3);
  c_.cpl = 3;
}

}  // namespace

std::string EmulatedInsnName(const DecodedInsn& d, uint64_t rdx) {
  std::string key = ZydisMnemonicGetString(d.mnemonic());
  for (unsigned i = 0; i < d.insn.operand_count_visible; ++i)
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER) {
      const ZydisRegisterClass c = ZydisRegisterGetClass(d.ops[i].reg.value);
      if (c == ZYDIS_REGCLASS_CONTROL || c == ZYDIS_REGCLASS_DEBUG || c == ZYDIS_REGCLASS_SEGMENT)
        key += std::string(i == 0 ? " to " : " from ") + ZydisRegisterGetString(d.ops[i].reg.value);
    }
  if (d.mnemonic() == ZYDIS_MNEMONIC_IN || d.mnemonic() == ZYDIS_MNEMONIC_OUT) {
    const ZydisDecodedOperand& port = d.mnemonic() == ZYDIS_MNEMONIC_IN ? d.ops[1] : d.ops[0];
    char buf[16];
    std::snprintf(buf, sizeof buf, " %#x",
                  port.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? static_cast<unsigned>(port.imm.value.u)
                                                            : static_cast<unsigned>(rdx & 0xffff));
    key += buf;
  }
  return key;
}

bool EmulatedInsnNameIsFixed(const DecodedInsn& d) {
  // in/out through DX are named by the port in DX at the time.
  if (d.mnemonic() != ZYDIS_MNEMONIC_IN && d.mnemonic() != ZYDIS_MNEMONIC_OUT) return true;
  const ZydisDecodedOperand& port = d.mnemonic() == ZYDIS_MNEMONIC_IN ? d.ops[1] : d.ops[0];
  return port.type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
}

void EmulateDecoded(VcpuRuntime& rt, const DecodedInsn& d, uint64_t* count) {
  rt.stats().emulated_insns++;
  if (count)
    ++*count;
  else
    rt.stats().emulated_by_mnemonic[EmulatedInsnName(d, rt.ctx().gpr[kRdx])]++;
  Emulator(rt, d).Run();
}

}  // namespace xlat
