#include "frontend/gdb_stub.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <x86intrin.h>

#include <chrono>
#include <cstdio>

#include "devices/clock.h"
#include "frontend/gdb_server.h"
#include "frontend/linux_boot.h"
#include "mmu/guest_ram.h"

namespace xlat {

using gdb::Action;
using gdb::Connection;
using gdb::Event;

namespace {

// A stop asked for before the kernel has entered its own code waits at most this long.
constexpr auto kMaxHoldBack = std::chrono::seconds(20);

}  // namespace

bool ParseGdbDevice(std::string_view device, std::string* host, uint16_t* port, std::string* error) {
  std::string_view rest = device;
  if (rest.substr(0, 4) != "tcp:") {
    *error = "-gdb " + std::string(device) + ": only tcp::PORT and tcp:HOST:PORT are supported";
    return false;
  }
  rest.remove_prefix(4);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    *error = "-gdb " + std::string(device) + ": expected tcp::PORT or tcp:HOST:PORT";
    return false;
  }
  std::string_view h = rest.substr(0, colon), p = rest.substr(colon + 1);
  // QEMU's chardev options (",server=on,wait=off", ...) are what a listening stub does anyway.
  p = p.substr(0, p.find(','));
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned long v = 0;
  bool ok = !p.empty() && p.size() <= 5;
  for (char c : p) ok = ok && c >= '0' && c <= '9', v = v * 10 + static_cast<unsigned>(c - '0');
  if (!ok || v == 0 || v > 65535) {
    *error = "-gdb " + std::string(device) + ": bad port '" + std::string(p) + "'";
    return false;
  }
  *host = h.empty() ? "127.0.0.1" : std::string(h);
  *port = static_cast<uint16_t>(v);
  return true;
}

// ---- The run loop and the stops ----

void GdbServer::OnKernelLoaded(Vcpu& vcpu) {
  vcpu_ = &vcpu;
  if (!symbols_) return;
  symbols_->OnKernelLoaded(vcpu.ram().size());
  ApplyBreakpoints();  // the vCPU may go on running without returning to Run()
}

RunOutcome GdbServer::Run(Vcpu& vcpu, const std::function<RunOutcome()>& run_guest) {
  vcpu_ = &vcpu;
  // A guest that gdb stops or steps inside an interrupts-off region, or
  // keeps running into breakpoints there, is being debugged, not hung.
  vcpu.SetHangTimeout(0);
  gdb::Watcher watcher(*listener_, [&vcpu] { vcpu.RequestDebugStop(); });
  if (options_.start_stopped) want_stop_ = Cause::kAttach;
  for (;;) {
    // gdb's own traps stop at once; a stop it asks for (connecting, -S,
    // Ctrl-C) waits for the kernel's entry.
    if (want_stop_ == Cause::kTrap || (want_stop_ != Cause::kNone && !HoldBack())) {
      HoldGuestTime();
      const Action a = Stopped();
      ReleaseGuestTime();
      if (a == Action::kKill) {
        Note("the guest was killed from gdb");
        RunOutcome out;
        out.kind = RunOutcome::Kind::kPowerOff;
        out.message = "killed from gdb";
        return out;
      }
      if (a == Action::kHostStop) {
        RunOutcome out;
        out.kind = RunOutcome::Kind::kStopped;
        out.message = "stopped while waiting for gdb";
        DropClient();
        return out;
      }
    }
    ApplyDebugState();
    watcher.Resume(client_.get());
    RunOutcome out = run_guest();
    gdb::Watcher::Events events = watcher.Pause();
    TakeEvents(events);
    if (out.kind != RunOutcome::Kind::kDebugStop) {
      if (client_ && gdb_waiting_) {
        // Exited (W) with the status xlat exits with, or terminated (X) by a host signal.
        unsigned status = 0;
        switch (out.kind) {
          case RunOutcome::Kind::kDebugExit: status = static_cast<unsigned>(out.exit_status) & 0xff; break;
          case RunOutcome::Kind::kError: status = 1; break;
          case RunOutcome::Kind::kFatalException:
          case RunOutcome::Kind::kTripleFault:
          case RunOutcome::Kind::kPanic:
          case RunOutcome::Kind::kHung: status = 2; break;
          default: break;
        }
        char reply[8];
        std::snprintf(reply, sizeof reply, out.kind == RunOutcome::Kind::kStopped ? "X%02x" : "W%02x",
                      out.kind == RunOutcome::Kind::kStopped ? 2u /*SIGINT*/ : status);
        Reply(reply);
      }
      DropClient();
      vcpu.SetSingleStep(false);
      return out;
    }
    OnDebugStop(out);
  }
}

// A stop wanted before the kernel has entered its own code waits for it, so
// that gdb meets the symbols at their run-time addresses.
bool GdbServer::HoldBack() {
  if (!symbols_ || !symbols_->searching()) {
    holding_back_ = false;
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!holding_back_) {
    holding_back_ = true;
    hold_since_ = now;
    return true;
  }
  if (now - hold_since_ < kMaxHoldBack) return true;
  Note("the kernel's entry was not found; stopping where the guest is, without symbols");
  symbols_->StopSearching();
  holding_back_ = false;
  return false;
}

// The guest's time stands still while gdb holds it, as QEMU's virtual clock
// does while the VM is stopped: the Clock, which the PIT, the local APIC
// timer and the ACPI PM timer count (the RTC's time of day goes on with the
// host's), and the guest's TSC, held back by the same time through its
// offset. Without this, a guest resumed after a long stop would see its
// timers overdue at once and its clocksources leap.
void GdbServer::HoldGuestTime() {
  if (time_held_) return;
  time_held_ = true;
  if (Clock* clock = vcpu_->clock()) clock->Pause();
  tsc_at_hold_ = __rdtsc();
}

void GdbServer::ReleaseGuestTime() {
  if (!time_held_) return;
  time_held_ = false;
  const uint64_t held_ticks = __rdtsc() - tsc_at_hold_;
  vcpu_->SetTscOffset(vcpu_->ctx().tsc_offset - held_ticks);
  if (Clock* clock = vcpu_->clock()) clock->Resume();
}

void GdbServer::TakeEvents(gdb::Watcher::Events& events) {
  if (events.client_lost) {
    DropClient();
    if (want_stop_ == Cause::kInterrupt || want_stop_ == Cause::kAttach) want_stop_ = Cause::kNone;
  }
  if (events.new_client) {
    client_ = std::move(events.new_client);
    new_session_ = true;
    gdb_waiting_ = false;
    if (want_stop_ == Cause::kNone) want_stop_ = Cause::kAttach;
  }
  if (events.interrupt && client_ && want_stop_ != Cause::kTrap) want_stop_ = Cause::kInterrupt;
}

void GdbServer::OnDebugStop(const RunOutcome& out) {
  const std::string thread = "T05thread:1;";
  switch (out.debug_reason) {
    case RunOutcome::DebugReason::kBreakpoint: {
      const uint64_t rip = vcpu_->ctx().rip;
      if (symbols_ && symbols_->entry_breakpoints().count(rip)) {
        std::string message;
        if (symbols_->OnEntryBreakpoint(*vcpu_, &message)) Note(message);
      }
      auto it = user_breakpoints_.find(rip);
      if (it != user_breakpoints_.end()) {
        want_stop_ = Cause::kTrap;
        trap_reply_ = thread + (it->second == 1 ? "hwbreak:;" : "swbreak:;");
      }
      break;
    }
    case RunOutcome::DebugReason::kStep:
      if (stepping_) {
        want_stop_ = Cause::kTrap;
        trap_reply_ = thread;
      }
      break;
    case RunOutcome::DebugReason::kWatchpoint: {
      const char* kind = "awatch";
      for (const Watch& w : applied_watches_)
        if (out.debug_address >= w.address && out.debug_address < w.address + w.length)
          kind = w.kind == WatchKind::kWrite ? "watch" : w.kind == WatchKind::kRead ? "rwatch" : "awatch";
      want_stop_ = Cause::kTrap;
      trap_reply_ = thread + kind + ":" + gdb::HexNumber(out.debug_address) + ";";
      break;
    }
    case RunOutcome::DebugReason::kInterrupt:
      break;  // TakeEvents() said why (or it was a stop that is no longer wanted)
  }
}

Action GdbServer::Stopped() {
  stepping_ = false;
  switch (want_stop_) {
    case Cause::kTrap: last_stop_reply_ = trap_reply_; break;
    case Cause::kInterrupt: last_stop_reply_ = "T02thread:1;"; break;
    default: last_stop_reply_ = "T05thread:1;"; break;
  }
  want_stop_ = Cause::kNone;
  if (!client_) {
    Note("waiting for gdb on " + where_ + " (in gdb: target remote " + where_ + ")");
    while (!client_) {
      bool signalled = false;
      client_ = listener_->Accept(250, &signalled);
      if (!client_ && HostStopRequested()) return Action::kHostStop;
    }
    new_session_ = true;
    gdb_waiting_ = false;
  }
  if (new_session_) {
    // Whatever gdb sent while it waited for an answer; repeats of it go.
    while (client_->Read(0) == Connection::ReadResult::kData) {
    }
    client_->DropRepeatedPackets();
    new_session_ = false;
  }
  if (gdb_waiting_) {
    Reply(last_stop_reply_);
    gdb_waiting_ = false;
  }
  const Action a = Serve();
  switch (a) {
    case Action::kContinue:
    case Action::kStep:
      gdb_waiting_ = true;
      stepping_ = a == Action::kStep;
      return a;
    case Action::kDetach:
    case Action::kLost:
      DropClient();
      return Action::kContinue;  // the guest runs on without a debugger
    default:  // kill, host stop
      DropClient();
      return a;
  }
}

Action GdbServer::Serve() {
  for (;;) {
    while (std::optional<Event> e = client_->NextEvent()) {
      switch (e->kind) {
        case Event::Kind::kAck:
        case Event::Kind::kInterrupt:  // already stopped
          break;
        case Event::Kind::kNack:
          client_->ResendLast();
          break;
        case Event::Kind::kBadPacket:
          if (!client_->no_ack) client_->SendRaw("-");
          break;
        case Event::Kind::kPacket: {
          if (!client_->no_ack) client_->SendRaw("+");
          const Action a = Handle(e->payload);
          if (a != Action::kNone) return a;
          break;
        }
      }
    }
    switch (client_->Read(250)) {
      case Connection::ReadResult::kClosed: return Action::kLost;
      case Connection::ReadResult::kData: break;
      default:
        if (HostStopRequested()) return Action::kHostStop;
    }
  }
}

// One packet. Replies are sent here; the return value says whether the guest goes on.
// ---- Breakpoints, watchpoints and stepping: what gdb wants, on the vCPU ----

// gdb takes its breakpoints out at every stop and puts them back to resume:
// only the difference reaches the vCPU (each change redoes translations).
void GdbServer::ApplyBreakpoints() {
  std::set<uint64_t> want;
  for (const auto& [address, type] : user_breakpoints_) want.insert(address);
  if (symbols_) want.insert(symbols_->entry_breakpoints().begin(), symbols_->entry_breakpoints().end());
  for (uint64_t a : applied_breakpoints_)
    if (!want.count(a)) vcpu_->SetBreakpoint(a, false);
  for (uint64_t a : want)
    if (!applied_breakpoints_.count(a)) vcpu_->SetBreakpoint(a, true);
  applied_breakpoints_ = std::move(want);
}

void GdbServer::ApplyDebugState() {
  ApplyBreakpoints();
  for (const Watch& w : applied_watches_)
    if (std::find(user_watches_.begin(), user_watches_.end(), w) == user_watches_.end())
      vcpu_->SetWatchpoint(w.address, w.length, w.kind, false);
  for (const Watch& w : user_watches_)
    if (std::find(applied_watches_.begin(), applied_watches_.end(), w) == applied_watches_.end())
      vcpu_->SetWatchpoint(w.address, w.length, w.kind, true);
  applied_watches_ = user_watches_;
  vcpu_->SetSingleStep(stepping_);
}

void GdbServer::ClearDebugState() {
  user_breakpoints_.clear();
  user_watches_.clear();
  stepping_ = false;
}

void GdbServer::DropClient() {
  for (int fd : open_files_) ::close(fd);
  open_files_.clear();
  client_.reset();
  gdb_waiting_ = false;
  ClearDebugState();
}

// ---- GdbStub ----

std::unique_ptr<GdbStub> GdbStub::Create(const GdbStubOptions& options, std::span<const uint8_t> kernel_file,
                                         const std::string& kernel_path, std::string* error) {
  std::string host;
  uint16_t port = 0;
  if (!ParseGdbDevice(options.device, &host, &port, error)) return nullptr;
  std::unique_ptr<gdb::Listener> listener = gdb::Listener::Open(host, port, error);
  if (!listener) {
    *error = "-gdb " + options.device + ": " + *error;
    return nullptr;
  }
  const std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto server = std::make_unique<GdbServer>(options, std::move(listener), where);
  if (LooksLikeBzImage(kernel_file)) {
    server->symbols_ = GuestKernelSymbols::Prepare(kernel_file, options.symbols_path, error);
    if (!server->symbols_) return nullptr;
    if (!server->symbols_->note().empty())
      std::fprintf(stderr, "xlat: gdb: no guest kernel symbols yet: %s\n", server->symbols_->note().c_str());
  } else {
    if (!options.symbols_path.empty()) {
      *error = "--symbols: only for a Linux kernel (an ELF -kernel carries its own symbols)";
      return nullptr;
    }
    char real[PATH_MAX];
    server->elf_path_ = ::realpath(kernel_path.c_str(), real) ? real : kernel_path;
  }
  std::unique_ptr<GdbStub> stub(new GdbStub);
  stub->server_ = std::move(server);
  return stub;
}

GdbStub::~GdbStub() = default;

void GdbStub::OnKernelLoaded(Vcpu& vcpu) { server_->OnKernelLoaded(vcpu); }

void GdbStub::SetStopCheck(std::function<bool()> stop_requested) { server_->stop_check_ = std::move(stop_requested); }

RunOutcome GdbStub::Run(Vcpu& vcpu, const std::function<RunOutcome()>& run_guest) {
  return server_->Run(vcpu, run_guest);
}

const SymbolTable* GdbStub::kernel_symbols() const {
  const auto& s = server_->symbols_;
  return s && s->ready() && !s->symbols().empty() ? &s->symbols() : nullptr;
}

RunOutcome RunWithDebugger(Vcpu& vcpu, GdbStub& stub, const std::function<RunOutcome()>& run_guest) {
  return stub.Run(vcpu, run_guest);
}

}  // namespace xlat
