// The guest's CPUID: the host's identification (vendor, family, brand) with
// feature bits limited to exactly what xlat translates (x86-64-v3 plus
// AES-NI/PCLMULQDQ, and the system features the VMM virtualizes).
#pragma once

#include <cstdint>

namespace xlat {

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};

// `osxsave`: CR4.OSXSAVE (mirrored in leaf 1 ECX bit 27); `xcr0`: sizes of leaf 0xd.
CpuidResult GuestCpuid(uint32_t leaf, uint32_t subleaf, bool osxsave, uint64_t xcr0);

}  // namespace xlat
