#include "cpu/cpuid.h"

#include <cpuid.h>

namespace xlat {

namespace {

CpuidResult Host(uint32_t leaf, uint32_t sub) {
  CpuidResult r{};
  __cpuid_count(leaf, sub, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

constexpr uint32_t Bit(unsigned n) { return 1u << n; }

// Leaf 1.
constexpr uint32_t kLeaf1Ecx = Bit(0) /*SSE3*/ | Bit(1) /*PCLMULQDQ*/ | Bit(9) /*SSSE3*/ | Bit(12) /*FMA*/ |
                               Bit(13) /*CX16*/ | Bit(19) /*SSE4.1*/ | Bit(20) /*SSE4.2*/ | Bit(22) /*MOVBE*/ |
                               Bit(23) /*POPCNT*/ | Bit(25) /*AES*/ | Bit(26) /*XSAVE*/ | Bit(28) /*AVX*/ |
                               Bit(29) /*F16C*/;
// The local APIC's features are the device model's, not the host's.
constexpr uint32_t kLeaf1EcxApic = Bit(21) /*x2APIC*/ | Bit(24) /*TSC-deadline timer*/;
constexpr uint32_t kLeaf1Edx = Bit(0) /*FPU*/ | Bit(3) /*PSE*/ | Bit(4) /*TSC*/ | Bit(5) /*MSR*/ | Bit(6) /*PAE*/ |
                               Bit(8) /*CX8*/ | Bit(9) /*APIC*/ | Bit(13) /*PGE*/ | Bit(15) /*CMOV*/ | Bit(16) /*PAT*/ |
                               Bit(17) /*PSE36*/ | Bit(19) /*CLFSH*/ | Bit(23) /*MMX*/ | Bit(24) /*FXSR*/ |
                               Bit(25) /*SSE*/ | Bit(26) /*SSE2*/;
// Leaf 7.0.
constexpr uint32_t kLeaf7Ebx = Bit(3) /*BMI1*/ | Bit(5) /*AVX2*/ | Bit(8) /*BMI2*/ | Bit(9) /*ERMS*/ |
                               Bit(19) /*ADX*/ | Bit(23) /*CLFLUSHOPT*/ | Bit(24) /*CLWB*/;
constexpr uint32_t kLeaf7Ecx = Bit(22) /*RDPID*/;
// Not the host's: the translator does it (translator/classify.cpp).
constexpr uint32_t kLeaf7EdxTranslated = Bit(14) /*SERIALIZE*/;
// Leaf 0x80000001.
constexpr uint32_t kExt1Ecx = Bit(0) /*LAHF/SAHF in 64-bit mode*/ | Bit(5) /*LZCNT*/;
constexpr uint32_t kExt1Edx = Bit(11) /*SYSCALL*/ | Bit(20) /*NX*/ | Bit(26) /*1 GiB pages*/ |
                              Bit(27) /*RDTSCP*/ | Bit(29) /*LM*/;

// Leaf 0x80000021: the "not affected" bits for speculative-execution bugs
// whose mitigations a guest kernel turns on by family and model. Under
// translation they protect nothing -- guest user and kernel code run in one
// host process, kept apart by the VMM's software checks, not by the
// hardware boundaries those mitigations fence -- and they cost a VMM exit
// per system call (TSA: VERW on every return to user) or a broken return
// prediction per kernel return (SRSO's safe-RET thunk). QEMU's TCG CPUs do
// not report these bugs either.
constexpr uint32_t kExt21Eax = Bit(29) /*SRSO_NO*/;
constexpr uint32_t kExt21Ecx = Bit(1) /*TSA_SQ_NO*/ | Bit(2) /*TSA_L1_NO*/;

constexpr uint32_t kMaxBasic = 0xd;
constexpr uint32_t kMaxExtended = 0x80000021;

uint32_t XsaveSize(uint64_t xcr0) { return (xcr0 & 4) ? 832 : 576; }

}  // namespace

CpuidResult GuestCpuid(uint32_t leaf, uint32_t sub, bool osxsave, uint64_t xcr0) {
  CpuidResult r{};
  switch (leaf) {
    case 0: {
      CpuidResult h = Host(0, 0);
      r = h;  // the host's vendor string
      r.eax = kMaxBasic;
      break;
    }
    case 1: {
      CpuidResult h = Host(1, 0);
      r.eax = h.eax;                                   // family/model/stepping
      r.ebx = (h.ebx & 0xff00) | (1u << 16);           // CLFLUSH line size; one logical CPU; APIC ID 0
      r.ecx = (h.ecx & kLeaf1Ecx) | kLeaf1EcxApic | (osxsave ? Bit(27) : 0) | Bit(31) /*hypervisor*/;
      r.edx = (h.edx & kLeaf1Edx) | Bit(9);
      break;
    }
    case 7:
      if (sub == 0) {
        CpuidResult h = Host(7, 0);
        r.ebx = h.ebx & kLeaf7Ebx;
        r.ecx = h.ecx & kLeaf7Ecx;
        r.edx = kLeaf7EdxTranslated;
      }
      break;
    case 0xd:
      if (sub == 0) {
        r.eax = 7;  // x87 | SSE | AVX
        r.ebx = XsaveSize(xcr0);
        r.ecx = 832;
      } else if (sub == 2) {
        r.eax = 256;
        r.ebx = 576;
      }
      break;
    case 0x80000000:
      r.eax = kMaxExtended;
      break;
    case 0x80000001: {
      CpuidResult h = Host(leaf, 0);
      r.eax = h.eax;
      r.ecx = h.ecx & kExt1Ecx;
      r.edx = h.edx & kExt1Edx;
      break;
    }
    case 0x80000002: case 0x80000003: case 0x80000004:
      r = Host(leaf, 0);  // brand string
      break;
    case 0x80000008:
      r.eax = 0x3028;  // 40 physical, 48 virtual address bits
      break;
    case 0x80000021:
      r.eax = kExt21Eax;
      r.ecx = kExt21Ecx;
      break;
    default:
      break;  // zeros: an unknown leaf, as a CPU with fewer leaves reports
  }
  return r;
}

}  // namespace xlat
