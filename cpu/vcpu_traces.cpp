// Traces: the hot paths of a dispatch loop, translated as one block.
//
// A block that ends with an indirect jmp (an interpreter's handler, a
// switch through a jump table) counts its entries: through the jump cache,
// and through its normal entry where the flags are dead there (so that a
// trace's side exit that is often taken leads to a trace of its own). When
// its counter runs out it leaves through the trace_head thunk. From there
// the VMM runs the guest one instruction at a time (single-step
// translations, which always come back to the VMM) and records where each
// instruction was, until the path comes back to where it started. The
// translator then makes that path one block (Translator::TranslateTrace):
// each indirect jmp on it is a compare with the target it went to, and the
// code there follows in the same block, with the same pool registers, the
// same access checks, no entry, exit or poll in between; a path that came
// back goes on at the trace's own head. It replaces the block it started at.
//
// The path is only a prediction: each guard and each jcc is still checked
// when the trace runs, and where the guest goes elsewhere it leaves the
// trace as it would leave any block. A path that leaves the page or runs
// past a block's length makes a trace as far as it went (when that is at
// least kMinOpenTrace instructions), which ends where the path left. One
// that changes address space or privilege, or meets a debugger or TF, gives
// none (the counter has wrapped: the block will not ask again for 2^32
// entries).
#include "cpu/vcpu_runtime.h"
#include "cpu/trace.h"
#include "frontend/stats.h"
#include "translator/translator.h"

namespace xlat {

// Not while something else wants every instruction or block seen.
bool VcpuRuntime::TracesWelcome() const {
  return breakpoints_.empty() && watches_.empty() && !debug_single_step_ && !(ctx_.rflags & kFlagTF) &&
         !TraceOn(kLogExec | kLogCpu | kLogNoChain);
}

void VcpuRuntime::StartTraceRecording() {
  if (!TracesWelcome()) return StopCounting(ctx_.rip);
  recording_.active = true;
  recording_.head = ctx_.rip;
  recording_.priv = priv();
  recording_.cr3 = ctx_.cr3;
  recording_.path.clear();
}

void VcpuRuntime::RecordTraceStep() {
  TraceRecording& r = recording_;
  const uint64_t rip = ctx_.rip;
  const bool same_space = priv() == r.priv && ctx_.cr3 == r.cr3;
  if (!r.path.empty() && rip == r.head && same_space) {
    r.active = false;
    BuildTrace(/*closes=*/true);
    return;
  }
  if (!same_space) {
    r.active = false;
    stats_.trace_recordings_abandoned++;  // (the head's address means another page now)
    return;
  }
  if (!TracesWelcome()) {
    r.active = false;
    return StopCounting(r.head);
  }
  if ((rip & ~0xfffull) != (r.head & ~0xfffull) || r.path.size() >= Translator::kMaxBlockInsns) {
    // A path that goes on elsewhere (an outer loop, another page) still
    // makes a trace as far as it was seen, when that is long enough to
    // cross a guard or two: it ends where the path left.
    r.active = false;
    if (r.path.size() >= kMinOpenTrace)
      BuildTrace(/*closes=*/false);
    else
      StopCounting(r.head);
    return;
  }
  r.path.push_back(rip);
}

bool VcpuRuntime::HeadKey(uint64_t head, uint64_t* key) {
  uint64_t pa;
  GuestFault ignored;
  if (!Translate(head, AccessKind::kExecute, &pa, &ignored)) return false;
  *key = BlockKey(pa, priv());
  return true;
}

void VcpuRuntime::StopCounting(uint64_t head) {
  stats_.trace_recordings_abandoned++;
  uint64_t key;
  if (!HeadKey(head, &key)) return;
  translator_->NoTraceAt(key);
  if (Block* b = vcpu_.cache_->Lookup(key); b && b->guest_rip == head && !b->trace) DropBlock(b);
}

void VcpuRuntime::BuildTrace(bool closes) {
  const uint64_t head = recording_.head;
  uint64_t key;
  if (!HeadKey(head, &key)) return;
  CodeCache& cache = *vcpu_.cache_;
  const PrivClass p = priv();
  // The trace takes the block's place: links to the block and its
  // jump-cache entry go (they are made again to the trace).
  if (Block* old = cache.Lookup(key); old && old->guest_rip == head) DropBlock(old);
  auto fetch = [this](uint64_t va_page) { return FetchCodePage(va_page); };
  const TranslateResult r = translator_->TranslateTrace(head, p, fetch, recording_.path, closes);
  if (r.kind == TranslateResult::Kind::kCacheFull) {
    cache.Flush();  // (the head is translated again as a block, and counts again)
    return;
  }
  if (r.kind != TranslateResult::Kind::kOk) return;
  Adopt(r.block, p, /*single_step=*/false);
  if (r.block->trace)
    stats_.traces_built++;
  else
    StopCounting(head);  // (translated as a block: with a debugger, or precise flags)
}

}  // namespace xlat
