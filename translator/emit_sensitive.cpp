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


}  // namespace xlat
