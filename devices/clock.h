// Guest time and timers. Guest time follows the host's monotonic clock.
//
// Timers fire on the vCPU thread: a background thread sleeps until the
// earliest deadline and then calls `kick`, which makes the vCPU leave
// translated code (or wake from hlt) and call RunExpired(), which runs the
// callbacks whose deadline has passed. Device state is therefore only ever
// touched by the vCPU thread.
#pragma once

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

  // Nanoseconds of host monotonic time since the clock was created.
  uint64_t NowNs() const;

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
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<uint64_t, std::pair<TimerId, std::function<void()>>> timers_;
  TimerId next_id_ = 1;
  bool stop_ = false;
  std::function<void()> kick_;
  std::thread watcher_;
};

}  // namespace xlat
