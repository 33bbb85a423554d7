// The gdb stub's insides (gdb_stub.h says what it does): the state of one
// debugging session and the run loop, on the vCPU thread. The run loop and
// the stops are in gdb_stub.cpp, the packets in gdb_packets.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cpu/vcpu.h"
#include "frontend/gdb_connection.h"
#include "frontend/gdb_stub.h"
#include "frontend/kernel_symbols.h"

namespace xlat {

namespace gdb {
inline constexpr unsigned kPacketSize = 0x4000;  // what qSupported announces (hex in the reply)
// What gdb told the stopped target to do.
enum class Action { kNone, kContinue, kStep, kDetach, kKill, kLost, kHostStop };
}  // namespace gdb

class GdbServer {
 public:
  GdbServer(const GdbStubOptions& options, std::unique_ptr<gdb::Listener> listener, std::string where)
      : options_(options), listener_(std::move(listener)), where_(std::move(where)) {}

  std::unique_ptr<GuestKernelSymbols> symbols_;
  std::string elf_path_;  // a freestanding ELF kernel: gdb reads its symbols from it
  std::function<bool()> stop_check_;

  void OnKernelLoaded(Vcpu& vcpu);

  RunOutcome Run(Vcpu& vcpu, const std::function<RunOutcome()>& run_guest);

 private:
  struct Watch {
    uint64_t address, length;
    WatchKind kind;
    bool operator==(const Watch&) const = default;
  };

  bool HostStopRequested() const { return stop_check_ && stop_check_(); }
  bool HoldBack();
  void HoldGuestTime();     // gdb holds the guest: its time stands still
  void ReleaseGuestTime();  // and runs on from there, without a jump
  void TakeEvents(gdb::Watcher::Events& events);
  void OnDebugStop(const RunOutcome& out);
  gdb::Action Stopped();
  gdb::Action Serve();
  gdb::Action Handle(const std::string& p);
  void ApplyBreakpoints();
  void ApplyDebugState();
  void ClearDebugState();
  void DropClient();
  void Reply(std::string_view payload) { client_->Send(payload); }
  gdb::Action Answer(std::string_view payload) {
    Reply(payload);
    return gdb::Action::kNone;
  }
  void Note(const std::string& line) { std::fprintf(stderr, "xlat: gdb: %s\n", line.c_str()); }

  // Packets.
  std::string QuerySupported();
  std::string ReadMemory(std::string_view args);
  std::string WriteMemory(std::string_view args, bool binary);
  std::string BreakOrWatch(std::string_view args, bool insert);
  std::string ReadOneRegister(std::string_view args);
  std::string WriteOneRegister(std::string_view args);
  std::string WriteRegisters(std::string_view hex);
  std::string Xfer(std::string_view args);
  std::string FileIo(std::string_view args);
  gdb::Action ResumeCommand(std::string_view p);
  const std::string& ExecFile();

  GdbStubOptions options_;
  std::unique_ptr<gdb::Listener> listener_;
  std::string where_;  // "127.0.0.1:1234"
  Vcpu* vcpu_ = nullptr;
  std::unique_ptr<gdb::Connection> client_;
  bool new_session_ = false;
  bool gdb_waiting_ = false;  // gdb resumed the guest and waits for a stop reply

  // Why the guest must stop for gdb next, and the stop reply that says so.
  enum class Cause { kNone, kAttach, kInterrupt, kTrap };
  Cause want_stop_ = Cause::kNone;
  std::string trap_reply_;
  std::string last_stop_reply_ = "T05thread:1;";
  bool holding_back_ = false;
  bool time_held_ = false;
  uint64_t tsc_at_hold_ = 0;  // the host's TSC when the guest's time was held
  std::chrono::steady_clock::time_point hold_since_;

  bool stepping_ = false;
  std::map<uint64_t, uint8_t> user_breakpoints_;  // address -> Z type (0 software, 1 hardware)
  std::vector<Watch> user_watches_;
  std::set<uint64_t> applied_breakpoints_;
  std::vector<Watch> applied_watches_;
  std::set<int> open_files_;  // vFile descriptors
  std::string exec_file_;
};

}  // namespace xlat
