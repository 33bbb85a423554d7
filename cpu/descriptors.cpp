#include "cpu/descriptors.h"

#include "cpu/vcpu_runtime.h"

namespace xlat {

namespace {

GuestFault Gp(uint16_t selector) { return GuestFault{kVecGP, static_cast<uint32_t>(selector & 0xfffc), true, 0}; }

}  // namespace

bool ReadDescriptor(VcpuRuntime& rt, uint16_t selector, bool system16, Descriptor* d, GuestFault* f) {
  VcpuContext& c = rt.ctx();
  const bool ldt = selector & 4;
  const uint64_t table = ldt ? c.ldtr_base : c.gdtr_base;
  const uint32_t limit = ldt ? c.ldtr_limit : c.gdtr_limit;
  const uint32_t offset = selector & ~7u;
  const uint32_t bytes = system16 ? 16 : 8;
  if ((ldt && (c.ldtr & ~3u) == 0) || offset + bytes - 1 > limit) {
    *f = Gp(selector);
    return false;
  }
  uint64_t raw[2] = {0, 0};
  // Descriptor tables are read with supervisor rights whatever the CPL.
  if (!rt.ReadVirt(table + offset, raw, bytes, f, AccessKind::kRead, /*supervisor=*/true)) return false;
  const uint64_t v = raw[0];
  d->raw_lo = v;
  d->addr = table + offset;
  d->limit = static_cast<uint32_t>((v & 0xffff) | ((v >> 32) & 0xf0000));
  if (v & (1ull << 55)) d->limit = (d->limit << 12) | 0xfff;
  d->base = ((v >> 16) & 0xffffff) | (((v >> 56) & 0xff) << 24);
  d->type = static_cast<uint8_t>((v >> 40) & 0xf);
  d->s = v & (1ull << 44);
  d->dpl = static_cast<uint8_t>((v >> 45) & 3);
  d->present = v & (1ull << 47);
  d->l = v & (1ull << 53);
  d->db = v & (1ull << 54);
  d->raw_hi = raw[1];
  if (system16) d->base |= (raw[1] & 0xffffffffull) << 32;
  return true;
}

bool LoadDataSegment(VcpuRuntime& rt, unsigned seg, uint16_t selector, GuestFault* f) {
  VcpuContext& c = rt.ctx();
  const unsigned rpl = selector & 3;
  if ((selector & ~3u) == 0) {
    // Null selector: allowed for DS/ES/FS/GS; for SS only in 64-bit mode at
    // CPL < 3 with RPL = CPL.
    if (seg == kSegSs && (c.cpl == 3 || rpl != c.cpl)) {
      *f = Gp(0);
      return false;
    }
    c.sel[seg] = selector;
    return true;
  }
  Descriptor d;
  if (!ReadDescriptor(rt, selector, false, &d, f)) return false;
  if (seg == kSegSs) {
    if (rpl != c.cpl || !d.writable_data() || d.dpl != c.cpl) {
      *f = Gp(selector);
      return false;
    }
    if (!d.present) {
      *f = GuestFault{kVecSS, static_cast<uint32_t>(selector & 0xfffc), true, 0};
      return false;
    }
  } else {
    // Data or readable code; for data and non-conforming code, DPL >= max(CPL, RPL).
    if (!(d.data() || d.readable_code()) ||
        ((d.data() || !d.conforming()) && d.dpl < std::max<unsigned>(c.cpl, rpl))) {
      *f = Gp(selector);
      return false;
    }
    if (!d.present) {
      *f = GuestFault{kVecNP, static_cast<uint32_t>(selector & 0xfffc), true, 0};
      return false;
    }
  }
  c.sel[seg] = selector;
  if (seg == kSegFs) c.fs_base = d.base;
  if (seg == kSegGs) c.gs_base = d.base;
  return true;
}

bool LoadTaskRegister(VcpuRuntime& rt, uint16_t selector, GuestFault* f) {
  VcpuContext& c = rt.ctx();
  if ((selector & ~3u) == 0 || (selector & 4)) {
    *f = Gp(selector);
    return false;
  }
  Descriptor d;
  if (!ReadDescriptor(rt, selector, true, &d, f)) return false;
  if (d.s || d.type != 9) {  // an available 64-bit TSS
    *f = Gp(selector);
    return false;
  }
  if (!d.present) {
    *f = GuestFault{kVecNP, static_cast<uint32_t>(selector & 0xfffc), true, 0};
    return false;
  }
  // Mark it busy in the GDT, as ltr does.
  uint64_t busy = d.raw_lo | (2ull << 40);
  if (!rt.WriteVirt(d.addr, &busy, 8, f, /*supervisor=*/true)) return false;
  c.tr = selector;
  c.tr_base = d.base;
  c.tr_limit = d.limit;
  return true;
}

bool LoadLdtr(VcpuRuntime& rt, uint16_t selector, GuestFault* f) {
  VcpuContext& c = rt.ctx();
  if ((selector & ~3u) == 0) {
    c.ldtr = selector;
    c.ldtr_base = 0;
    c.ldtr_limit = 0;
    return true;
  }
  if (selector & 4) {
    *f = Gp(selector);
    return false;
  }
  Descriptor d;
  if (!ReadDescriptor(rt, selector, true, &d, f)) return false;
  if (d.s || d.type != 2) {
    *f = Gp(selector);
    return false;
  }
  if (!d.present) {
    *f = GuestFault{kVecNP, static_cast<uint32_t>(selector & 0xfffc), true, 0};
    return false;
  }
  c.ldtr = selector;
  c.ldtr_base = d.base;
  c.ldtr_limit = d.limit;
  return true;
}

}  // namespace xlat
