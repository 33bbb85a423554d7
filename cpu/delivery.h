// Delivering exceptions and interrupts through the IDT (see delivery.cpp).
#pragma once

#include <cstdint>

namespace xlat {

class VcpuRuntime;

enum class EventKind : uint8_t {
  kException,  // a fault or trap raised by an instruction or the VMM
  kExternal,   // a maskable interrupt from the interrupt controller
  kSoftware,   // int n, int3, into: the gate's DPL is checked against CPL
  kPrivileged, // int1 (icebp): like an exception, no DPL check
};

struct GuestEvent {
  uint8_t vector = 0;
  EventKind kind = EventKind::kException;
  bool has_error = false;
  uint32_t error_code = 0;
  uint64_t cr2 = 0;  // for #PF
  // kSoftware, kPrivileged: the RIP of the int instruction itself. ctx.rip is
  // the next instruction's (the return address); a fault while delivering
  // reports this one instead, since the instruction did not complete.
  uint64_t insn_rip = 0;
};

enum class DeliveryResult { kDelivered, kTripleFault };

// Delivers `ev` with ctx.rip as the return address (the faulting instruction
// for faults, the next one for traps and interrupts). On success the context
// is at the handler.
DeliveryResult DeliverEvent(VcpuRuntime& rt, const GuestEvent& ev);

}  // namespace xlat
