#include "translator/emit_sensitive.h"

#include "cpu/thunks.h"

namespace xlat {

void EmitEmulateExit(BlockEmitter& e, const GuestInsn&) {
  e.RestoreAll();
  Site s{};
  s.kind = SiteKind::kEmulate;
  e.JumpToThunk(e.NewSite(s), e.thunks.exit);
}

void EmitRaise(BlockEmitter& e, const GuestInsn&, uint8_t vector) {
  e.RestoreAll();
  Site s{};
  s.kind = SiteKind::kRaise;
  s.vector = vector;
  e.JumpToThunk(e.NewSite(s), e.thunks.exit);
}

void EmitDebugBreak(BlockEmitter& e) {
  e.RestoreAll();
  Site s{};
  s.kind = SiteKind::kDebugBreak;
  e.JumpToThunk(e.NewSite(s), e.thunks.exit);
}

void EmitString(BlockEmitter& e, const GuestInsn&) {
  // Only pool registers are displaced here; the VMM takes their guest values
  // from the spill slots (which the string instruction cannot change: the
  // pool holds no register it names).
  Site s{};
  s.kind = SiteKind::kString;
  const uint32_t id = e.NewSite(s);
  asmjit::Label after = e.a.newLabel();
  e.ResolveLater(after, id, &Site::resume_after);
  e.JumpToThunk(id, e.thunks.vmm_call);
  e.a.bind(after);
}

}  // namespace xlat
