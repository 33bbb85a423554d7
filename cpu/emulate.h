// Emulation of sensitive instructions at a block boundary (see emulate.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "translator/decoder.h"

namespace xlat {

class VcpuRuntime;

// Emulates the guest instruction `d`, decoded at ctx.rip: on success rip
// moves past it; otherwise an exception is raised (or the CPU halts).
// `count` is its counter in Stats::emulated_by_mnemonic, or null to look it
// up by name.
void EmulateDecoded(VcpuRuntime& rt, const DecodedInsn& d, uint64_t* count);

// The statistics' name of an emulated instruction ("mov to cr3", "in 0x42");
// fixed unless it is in/out through DX.
std::string EmulatedInsnName(const DecodedInsn& d, uint64_t rdx);
bool EmulatedInsnNameIsFixed(const DecodedInsn& d);

}  // namespace xlat
