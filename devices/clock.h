// Guest time and timers. Guest time follows the host's monotonic clock,
// except while it is paused.
//
// Timers fire on the vCPU thread: a background thread sleeps until the
// earliest deadline and then calls `kick`, which makes the vCPU leave
// translated code (or wake from hlt) and call RunExpired(), which runs the
// callbacks whose deadline has passed. Device state is therefore only ever
// touched by the vCPU thread.
//
// Pausing. While a debugger holds the guest, its time stands still, as
// QEMU's virtual clock does while the VM is stopped: Pause() freezes NowNs()
// (and so every device that counts it: the PIT, the local APIC timer, the
// ACPI PM timer, the RTC's interrupts) and no timer expires; Resume() goes on
// from the frozen value, so the guest sees no jump and no backlog of ticks.
// Internally NowNs() is host time minus the total time spent paused. HostNs()
// is the host's time, paused or not: for what must keep tracking the host
// (the RTC's time of day, like QEMU's default -rtc clock=host).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace xlat {

class Clock {
 public:
  using TimerId = uint64_t;
  static constexpr uint64_t kNever = ~0ull;

  Clock();
  ~Clock();
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;

  // Guest time: nanoseconds of host monotonic time since the clock was
  // created, less the time spent paused. Stands still while paused.
  uint64_t NowNs() const;
  // Nanoseconds of host monotonic time since the clock was created, paused or not.
  uint64_t HostNs() const;

  // Freezes guest time (no-op if paused). Resume() lets it run on from where
  // it stopped (no-op if running). Call them from the vCPU thread (or while
  // it does not run): its reads of NowNs() then never go backwards.
  void Pause();
  void Resume();
  bool paused() const;

  // Runs `fn` on the vCPU thread at or after `deadline_ns` (NowNs scale).
  // Any thread. Returns an id for Cancel.
  TimerId Schedule(uint64_t deadline_ns, std::function<void()> fn);
  void Cancel(TimerId id);

  // vCPU thread: runs every expired callback; returns the earliest pending
  // deadline, or kNever.
  uint64_t RunExpired();
  uint64_t NextDeadline() const;

  // How the clock reaches the vCPU when a deadline passes (set once, before timers).
  void SetKick(std::function<void()> kick) { kick_ = std::move(kick); }

 private:
  void WatchThread();
  const uint64_t origin_ns_;
  // Running: the total time spent paused (NowNs = HostNs - it). Paused:
  // kPausedBit | the frozen NowNs. One word, so readers on other threads
  // (the watcher) see a consistent state.
  static constexpr uint64_t kPausedBit = 1ull << 63;
  std::atomic<uint64_t> time_state_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<uint64_t, std::pair<TimerId, std::function<void()>>> timers_;
  TimerId next_id_ = 1;
  bool stop_ = false;
  std::function<void()> kick_;
  std::thread watcher_;
};

}  // namespace xlat
