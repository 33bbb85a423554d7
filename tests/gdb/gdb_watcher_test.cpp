// The watcher that owns gdb's connection while the guest runs
// (frontend/gdb_connection.h): gdb's Ctrl-C stops the guest however it
// arrives, including in the same read as the continue that precedes it.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "frontend/gdb_connection.h"

namespace xlat::gdb {
namespace {

using namespace std::chrono_literals;

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    listener_ = Listener::Open("127.0.0.1", 0, &error);  // port 0: any free port
    ASSERT_TRUE(listener_) << error;
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_ = std::make_unique<Connection>(fds[0]);
    gdb_ = fds[1];
  }
  void TearDown() override {
    if (gdb_ >= 0) ::close(gdb_);
  }
  void GdbSends(std::string_view bytes) { ASSERT_EQ(::write(gdb_, bytes.data(), bytes.size()), ssize_t(bytes.size())); }
  bool StopRequestedWithin(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!stops_.load() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    return stops_.load() > 0;
  }

  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Connection> client_;
  int gdb_ = -1;
  std::atomic<int> stops_{0};
};

// gdb's continue and its Ctrl-C read at once by the stopped stub: the
// packet resumes the guest, the Ctrl-C (already off the socket) must still
// stop it. (gdb.xlat_interrupt hung on this when the machine was loaded.)
TEST_F(WatcherTest, CtrlCReadWithTheContinueStillStops) {
  Watcher watcher(*listener_, [this] { stops_++; });
  GdbSends(FramePacket("vCont;c") + "\x03");
  ASSERT_EQ(client_->Read(1000), Connection::ReadResult::kData);
  std::optional<Event> e = client_->NextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->payload, "vCont;c");  // what the stub's Serve() acts on, returning to run the guest
  watcher.Resume(client_.get());
  EXPECT_TRUE(StopRequestedWithin(2000ms));
  const Watcher::Events events = watcher.Pause();
  EXPECT_TRUE(events.interrupt);
  EXPECT_FALSE(client_->NextEvent()) << "the Ctrl-C is still queued for the next stop";
}

TEST_F(WatcherTest, CtrlCWhileTheGuestRunsStops) {
  Watcher watcher(*listener_, [this] { stops_++; });
  watcher.Resume(client_.get());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(stops_.load(), 0);
  GdbSends("\x03");
  EXPECT_TRUE(StopRequestedWithin(2000ms));
  const Watcher::Events events = watcher.Pause();
  EXPECT_TRUE(events.interrupt);
  EXPECT_FALSE(events.client_lost);
}

TEST_F(WatcherTest, NothingFromGdbNoStop) {
  Watcher watcher(*listener_, [this] { stops_++; });
  watcher.Resume(client_.get());
  std::this_thread::sleep_for(50ms);
  const Watcher::Events events = watcher.Pause();
  EXPECT_EQ(stops_.load(), 0);
  EXPECT_FALSE(events.interrupt);
  EXPECT_FALSE(events.client_lost);
  EXPECT_FALSE(events.new_client);
}

}  // namespace
}  // namespace xlat::gdb
