// Emulation of sensitive instructions at a block boundary (see emulate.cpp).
#pragma once

namespace xlat {

class VcpuRuntime;

// Emulates the guest instruction at ctx.rip: on success rip moves past it;
// otherwise an exception is raised (or the CPU halts).
void EmulateSensitive(VcpuRuntime& rt);

}  // namespace xlat
