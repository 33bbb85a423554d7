// Event delivery in long mode (Intel SDM vol. 3, 6.14; AMD APM vol. 2, 8.9).
//
// An exception, an external interrupt or a software interrupt goes through
// its 16-byte IDT gate to a 64-bit code segment. The CPU switches to the
// stack named by the TSS when the privilege level drops (or by the gate's IST
// slot whatever the level), aligns it to 16 bytes, and pushes SS, RSP,
// RFLAGS, CS, RIP and, for some exceptions, an error code. An interrupt gate
// also clears IF.
//
// Faults while delivering combine as the manual's table says: a
// contributory exception or a page fault during the delivery of another
// contributory exception (or of a page fault) becomes a double fault, and a
// fault during the delivery of a double fault shuts the CPU down (a triple
// fault).
#include "cpu/delivery.h"

#include "cpu/descriptors.h"
#include "cpu/vcpu_runtime.h"
#include "frontend/stats.h"

namespace xlat {

namespace {

bool IsContributory(uint8_t v) { return v == kVecDE || v == kVecTS || v == kVecNP || v == kVecSS || v == kVecGP; }

// Fault-class exceptions: the frame's RIP is the faulting instruction, which
// the handler restarts (Intel SDM vol. 3A, 6.5 and Table 6-1). #DB is raised
// here only as a trap (single-step, int1).
bool IsFaultClass(uint8_t v) {
  switch (v) {
    case kVecDE: case 5 /* #BR */: case kVecUD: case kVecNM: case kVecTS: case kVecNP: case kVecSS:
    case kVecGP: case kVecPF: case kVecMF: case kVecAC: case kVecXM: case 20 /* #VE */: case 21 /* #CP */:
      return true;
    default:
      return false;
  }
}

// The RFLAGS image pushed for `ev` (Intel SDM vol. 3B, 17.3.1.1): RF = 1 for
// a fault, so that restarting the instruction does not hit its instruction
// breakpoint again; otherwise RF as it is, which is 1 only between the
// iterations of a single-stepped string instruction, or after an iretq that
// loaded it, before the next instruction completed.
uint64_t PushedRflags(const VcpuContext& c, const GuestEvent& ev) {
  if (ev.kind == EventKind::kException && IsFaultClass(ev.vector)) return c.rflags | kFlagRF;
  return c.rflags;
}

// Error code naming an IDT entry.
uint32_t IdtError(uint8_t vector, bool external) { return (static_cast<uint32_t>(vector) << 3) | 2 | (external ? 1 : 0); }

// One attempt at delivering `ev`. False with *fault when the delivery itself
// faulted (nothing has changed then).
bool TryDeliver(VcpuRuntime& rt, const GuestEvent& ev, GuestFault* fault) {
  VcpuContext& c = rt.ctx();
  const bool external = ev.kind == EventKind::kExternal || ev.kind == EventKind::kException;
  const bool software = ev.kind == EventKind::kSoftware;
  // The gate.
  if (static_cast<uint32_t>(ev.vector) * 16 + 15 > c.idtr_limit) {
    *fault = GuestFault{kVecGP, IdtError(ev.vector, external), true, 0};
    return false;
  }
  uint64_t gate[2];
  if (!rt.ReadVirt(c.idtr_base + ev.vector * 16ull, gate, 16, fault, AccessKind::kRead, true)) return false;
  const unsigned type = (gate[0] >> 40) & 0xf;
  const unsigned gate_dpl = (gate[0] >> 45) & 3;
  const bool present = gate[0] & (1ull << 47);
  if (type != 0xe && type != 0xf) {
    *fault = GuestFault{kVecGP, IdtError(ev.vector, external), true, 0};
    return false;
  }
  // INT n, INT3 and INTO check the gate's DPL against CPL (not INT1, not hardware events).
  if (software && c.cpl > gate_dpl) {
    *fault = GuestFault{kVecGP, IdtError(ev.vector, false), true, 0};
    return false;
  }
  if (!present) {
    *fault = GuestFault{kVecNP, IdtError(ev.vector, external), true, 0};
    return false;
  }
  const uint16_t cs = static_cast<uint16_t>((gate[0] >> 16) & 0xffff);
  const uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | ((gate[1] & 0xffffffffull) << 32);
  const unsigned ist = (gate[0] >> 32) & 7;

  // The code segment: a present 64-bit code segment with DPL <= CPL.
  const uint32_t ext = external ? 1 : 0;
  if ((cs & ~3u) == 0) {
    *fault = GuestFault{kVecGP, ext, true, 0};
    return false;
  }
  Descriptor cd;
  if (!ReadDescriptor(rt, cs, false, &cd, fault)) return false;
  if (!cd.code() || !cd.l || cd.db || cd.dpl > c.cpl) {
    *fault = GuestFault{kVecGP, static_cast<uint32_t>(cs & 0xfffc) | ext, true, 0};
    return false;
  }
  if (!cd.present) {
    *fault = GuestFault{kVecNP, static_cast<uint32_t>(cs & 0xfffc) | ext, true, 0};
    return false;
  }
  const unsigned new_cpl = cd.conforming() ? c.cpl : cd.dpl;

  // The stack.
  uint64_t rsp = c.gpr[kRsp];
  uint16_t ss = c.sel[kSegSs];
  auto tss_read = [&](uint32_t off, uint64_t* v) {
    if (off + 7 > c.tr_limit) {
      *fault = GuestFault{kVecTS, static_cast<uint32_t>(c.tr & 0xfffc) | ext, true, 0};
      return false;
    }
    return rt.ReadVirt(c.tr_base + off, v, 8, fault, AccessKind::kRead, true);
  };
  if (new_cpl < c.cpl) {
    if (!tss_read(4 + 8 * new_cpl, &rsp)) return false;
    ss = static_cast<uint16_t>(new_cpl);  // a null selector with RPL = new CPL
  }
  if (ist) {
    if (!tss_read(0x24 + 8 * (ist - 1), &rsp)) return false;
  }
  rsp &= ~0xfull;
  if (!IsCanonical(rsp)) {
    *fault = GuestFault{kVecSS, ext, true, 0};
    return false;
  }

  // The frame, lowest address first (SS was pushed first, the error code last).
  uint64_t frame[6];
  unsigned n = 0;
  if (ev.has_error) frame[n++] = ev.error_code;
  frame[n++] = c.rip;
  frame[n++] = c.sel[kSegCs];
  frame[n++] = PushedRflags(c, ev);
  frame[n++] = c.gpr[kRsp];
  frame[n++] = c.sel[kSegSs];
  const uint64_t new_rsp = rsp - 8ull * n;
  if (!rt.WriteVirt(new_rsp, frame, 8ull * n, fault, true)) {
    if (fault->vector == kVecGP) *fault = GuestFault{kVecSS, ext, true, 0};  // non-canonical stack
    return false;
  }

  // Commit.
  c.gpr[kRsp] = new_rsp;
  c.sel[kSegSs] = ss;
  c.sel[kSegCs] = static_cast<uint16_t>((cs & ~3u) | new_cpl);
  c.cpl = new_cpl;
  c.rip = target;
  c.rflags &= ~(kFlagTF | kFlagNT | kFlagRF | kFlagVM);
  if (type == 0xe) c.rflags &= ~kFlagIF;
  return true;
}

}  // namespace

DeliveryResult DeliverEvent(VcpuRuntime& rt, const GuestEvent& first) {
  GuestEvent ev = first;
  bool delivering_df = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (ev.vector == kVecPF) rt.ctx().cr2 = ev.cr2;
    GuestFault f;
    if (TryDeliver(rt, ev, &f)) {
      rt.stats().exceptions[ev.vector & 31] += ev.kind == EventKind::kExternal ? 0 : 1;
      return DeliveryResult::kDelivered;
    }
    if (delivering_df) return DeliveryResult::kTripleFault;
    // int n, int3, int1 did not complete: the fault is reported on them.
    if (ev.kind == EventKind::kSoftware || ev.kind == EventKind::kPrivileged) rt.ctx().rip = ev.insn_rip;
    // Combine the new fault with the event being delivered.
    const bool first_pf = ev.vector == kVecPF && ev.kind == EventKind::kException;
    const bool first_contrib = IsContributory(ev.vector) && ev.kind == EventKind::kException;
    const bool second_bad = IsContributory(f.vector) || f.vector == kVecPF;
    if ((first_contrib && IsContributory(f.vector)) || (first_pf && second_bad)) {
      ev = GuestEvent{kVecDF, EventKind::kException, true, 0, 0};
      delivering_df = true;
    } else {
      ev = GuestEvent{f.vector, EventKind::kException, f.has_error, f.error_code, f.cr2};
    }
  }
  return DeliveryResult::kTripleFault;
}

}  // namespace xlat
