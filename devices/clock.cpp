#include "devices/clock.h"

#include <time.h>

namespace xlat {

namespace {
uint64_t HostMonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Clock::Clock() : origin_ns_(HostMonotonicNs()), watcher_([this] { WatchThread(); }) {}

Clock::~Clock() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  watcher_.join();
}

uint64_t Clock::HostNs() const { return HostMonotonicNs() - origin_ns_; }

uint64_t Clock::NowNs() const {
  const uint64_t state = time_state_.load(std::memory_order_acquire);
  if (state & kPausedBit) return state & ~kPausedBit;
  return HostNs() - state;
}

bool Clock::paused() const { return time_state_.load(std::memory_order_acquire) & kPausedBit; }

void Clock::Pause() {
  std::lock_guard<std::mutex> lock(mu_);  // the watcher decides under mu_ whether to wait for ever
  const uint64_t state = time_state_.load(std::memory_order_relaxed);
  if (state & kPausedBit) return;
  time_state_.store(kPausedBit | (HostNs() - state), std::memory_order_release);
}

void Clock::Resume() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t state = time_state_.load(std::memory_order_relaxed);
    if (!(state & kPausedBit)) return;
    const uint64_t frozen = state & ~kPausedBit;
    time_state_.store(HostNs() - frozen, std::memory_order_release);  // the time paused, in total
  }
  cv_.notify_all();
}

Clock::TimerId Clock::Schedule(uint64_t deadline_ns, std::function<void()> fn) {
  TimerId id;
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    auto it = timers_.emplace(deadline_ns, std::make_pair(id, std::move(fn)));
    earliest = it == timers_.begin();
  }
  // The watcher sleeps until the earliest deadline: only a new earliest one
  // needs it awake (a wake-up is a futex call, and a guest reprograms its
  // timers thousands of times a second).
  if (earliest) cv_.notify_all();
  return id;
}

void Clock::Cancel(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it)
    if (it->second.first == id) {
      timers_.erase(it);
      return;
    }
}

uint64_t Clock::RunExpired() {
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (timers_.empty()) return kNever;
      auto it = timers_.begin();
      if (it->first > NowNs()) return it->first;
      fn = std::move(it->second.second);
      timers_.erase(it);
    }
    fn();  // may schedule more
  }
}

uint64_t Clock::NextDeadline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.empty() ? kNever : timers_.begin()->first;
}

void Clock::WatchThread() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t kicked_for = kNever;
  while (!stop_) {
    if (timers_.empty() || paused()) {  // nothing can expire until a Schedule or a Resume
      cv_.wait(lock);
      continue;
    }
    const uint64_t next = timers_.begin()->first;
    const uint64_t now = NowNs();
    if (next > now) {
      cv_.wait_for(lock, std::chrono::nanoseconds(next - now));
      continue;
    }
    // Expired: tell the vCPU once per deadline, then wait for it to run them.
    if (kicked_for != next) {
      kicked_for = next;
      auto kick = kick_;
      lock.unlock();
      if (kick) kick();
      lock.lock();
    } else {
      cv_.wait_for(lock, std::chrono::milliseconds(1));
      kicked_for = kNever;  // re-kick if it is still not run (the vCPU may have been busy in the VMM)
    }
  }
}

}  // namespace xlat
