// The gdb stub's sockets: the listening socket, the one connection to gdb,
// and the watcher thread that owns them while the guest runs (gdb_stub.h
// explains who owns what when).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "frontend/gdb_protocol.h"

namespace xlat::gdb {

// One connection to gdb: bytes in, events out; packets out, framed.
class Connection {
 public:
  explicit Connection(int fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }

  enum class ReadResult { kData, kTimeout, kClosed, kSignal };
  // Waits up to timeout_ms (-1: forever) for bytes and turns them into
  // events. kSignal: a signal interrupted the wait (the caller checks why).
  ReadResult Read(int timeout_ms);
  std::optional<Event> NextEvent();
  // Removes the interrupts (0x03) among the queued events; true if there was one.
  bool TakeInterrupts();
  // Of consecutive identical packets queued, keeps one: gdb sends a packet
  // again when it has waited too long for its acknowledgement, which happens
  // when it connects while the stub cannot answer yet.
  void DropRepeatedPackets();

  // Sends a packet (and keeps it for a '-').
  bool Send(std::string_view payload);
  bool SendRaw(std::string_view bytes);
  bool ResendLast() { return SendRaw(last_); }

  bool no_ack = false;  // after QStartNoAckMode

 private:
  int fd_;
  PacketParser parser_;
  std::deque<Event> queue_;
  std::string last_;
};

class Listener {
 public:
  // Binds and listens. False-y with *error ("cannot listen on 127.0.0.1:1234: Address already in use").
  static std::unique_ptr<Listener> Open(const std::string& host, uint16_t port, std::string* error);
  ~Listener();
  int fd() const { return fd_; }
  // Waits up to timeout_ms (-1: forever) for a connection. nullptr on a
  // timeout or a signal (*signalled set).
  std::unique_ptr<Connection> Accept(int timeout_ms, bool* signalled);

 private:
  explicit Listener(int fd) : fd_(fd) {}
  int fd_;
};

// While the guest runs: accepts gdb, reads its Ctrl-C, notices it leave; each
// calls request_stop (Vcpu::RequestDebugStop).
class Watcher {
 public:
  Watcher(Listener& listener, std::function<void()> request_stop);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // What happened while watching.
  struct Events {
    std::unique_ptr<Connection> new_client;  // accepted (there was none)
    bool interrupt = false;                  // gdb sent 0x03
    bool client_lost = false;                // the connection closed
  };

  // Starts watching `client` (may be null: then only for a connection). The
  // caller must not touch the client until Pause() returns.
  void Resume(Connection* client);
  // Stops watching and returns what happened.
  Events Pause();

 private:
  void Loop();
  void WatchOnce();  // one poll, outside the lock
  Listener& listener_;
  std::function<void()> request_stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool watching_ = false;
  bool busy_ = false;
  bool quit_ = false;
  Connection* client_ = nullptr;
  Events events_;
  int wake_[2] = {-1, -1};  // pipe: Pause() and the destructor wake the poll
  std::thread thread_;
};

}  // namespace xlat::gdb
