// The serial console's host side (frontend/terminal.h): QEMU's Ctrl-A escape
// state machine, the reader thread over pipes (no tty needed), and raw mode
// set and restored on a pseudo-terminal.
#include "frontend/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace xlat {
namespace {

using Action = ConsoleEscape::Action;

TEST(ConsoleEscapeTest, PlainBytesAndCtrlCGoToTheGuest) {
  ConsoleEscape esc;
  for (uint8_t b : {uint8_t('a'), uint8_t('\r'), uint8_t(0x03), uint8_t(0x1a), uint8_t('x'), uint8_t(0xff)})
    EXPECT_EQ(esc.Feed(b), Action::kForward) << int(b);
}

TEST(ConsoleEscapeTest, Commands) {
  ConsoleEscape esc;
  EXPECT_EQ(esc.Feed(0x01), Action::kNone);
  EXPECT_TRUE(esc.pending());
  EXPECT_EQ(esc.Feed('x'), Action::kQuit);
  EXPECT_FALSE(esc.pending());
  esc.Feed(0x01);
  EXPECT_EQ(esc.Feed('h'), Action::kHelp);
  esc.Feed(0x01);
  EXPECT_EQ(esc.Feed('?'), Action::kHelp);
  esc.Feed(0x01);
  EXPECT_EQ(esc.Feed('b'), Action::kBreak);
  esc.Feed(0x01);
  EXPECT_EQ(esc.Feed('c'), Action::kMonitor);
}

TEST(ConsoleEscapeTest, DoubleEscapeSendsOneAndUnknownCommandsAreSwallowed) {
  ConsoleEscape esc;
  EXPECT_EQ(esc.Feed(0x01), Action::kNone);
  EXPECT_EQ(esc.Feed(0x01), Action::kForward);  // the byte forwarded is the Ctrl-A itself
  EXPECT_FALSE(esc.pending());
  EXPECT_EQ(esc.Feed('x'), Action::kForward) << "a plain x after a sent Ctrl-A";
  EXPECT_EQ(esc.Feed(0x01), Action::kNone);
  EXPECT_EQ(esc.Feed('z'), Action::kNone);
  EXPECT_EQ(esc.Feed('z'), Action::kForward);
}

TEST(ConsoleEscapeTest, HelpTextIsQemus) {
  const std::string help = ConsoleEscape().HelpText();
  EXPECT_NE(help.find("C-a h    print this help\n\r"), std::string::npos) << help;
  EXPECT_NE(help.find("C-a x    exit emulator\n\r"), std::string::npos) << help;
  EXPECT_NE(help.find("C-a C-a  sends C-a\n\r"), std::string::npos) << help;
}

// A terminal whose stdin and stdout are pipes, as when a test drives xlat.
class PipeTerminalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe2(in_, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(out_, O_CLOEXEC), 0);
  }
  void TearDown() override {
    term_.Stop();
    for (int fd : {in_[0], in_[1], out_[0], out_[1]})
      if (fd >= 0) close(fd);
  }
  TerminalOptions Options(bool escapes) {
    TerminalOptions o;
    o.in_fd = in_[0];
    o.out_fd = out_[1];
    o.escapes = escapes;
    o.to_guest = [this](std::span<const uint8_t> b) {
      std::lock_guard<std::mutex> lock(mu_);
      guest_.append(b.begin(), b.end());
      cv_.notify_all();
    };
    o.send_break = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      guest_ += "<BREAK>";
      cv_.notify_all();
    };
    o.quit = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
      cv_.notify_all();
    };
    return o;
  }
  void Type(const std::string& s) { ASSERT_EQ(write(in_[1], s.data(), s.size()), ssize_t(s.size())); }
  // Waits until `pred` holds (true) or 5 s pass (false).
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), pred);
  }
  std::string HostOutput() {
    std::string s;
    char buf[4096];
    pollfd p{out_[0], POLLIN, 0};
    while (poll(&p, 1, 50) > 0) {
      ssize_t n = read(out_[0], buf, sizeof buf);
      if (n <= 0) break;
      s.append(buf, static_cast<size_t>(n));
    }
    return s;
  }

  int in_[2] = {-1, -1};
  int out_[2] = {-1, -1};
  Terminal term_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string guest_;
  bool quit_ = false;
};

TEST_F(PipeTerminalTest, EscapesOverAPipe) {
  std::string error;
  ASSERT_TRUE(term_.Start(Options(true), &error)) << error;
  EXPECT_FALSE(term_.raw()) << "a pipe is not a tty";
  Type("ab\x01\x01" "c\x01h\x01" "bd\x03");
  ASSERT_TRUE(WaitFor([&] { return guest_.size() >= 13; })) << guest_;
  EXPECT_EQ(guest_, "ab\x01" "c<BREAK>d\x03");
  EXPECT_NE(HostOutput().find("exit emulator"), std::string::npos);
  Type("e\x01x" "never");
  ASSERT_TRUE(WaitFor([&] { return quit_; }));
  EXPECT_EQ(guest_, "ab\x01" "c<BREAK>d\x03" "e") << "nothing after the quit";
  EXPECT_NE(HostOutput().find("Terminated"), std::string::npos);
}

TEST_F(PipeTerminalTest, WithoutEscapesEverythingIsForwarded) {
  std::string error;
  ASSERT_TRUE(term_.Start(Options(false), &error)) << error;
  Type("\x01x\x01\x01");
  ASSERT_TRUE(WaitFor([&] { return guest_.size() >= 4; }));
  EXPECT_EQ(guest_, "\x01x\x01\x01");
  EXPECT_FALSE(quit_);
}

TEST_F(PipeTerminalTest, EndOfInputEndsTheReaderQuietly) {
  std::string error;
  ASSERT_TRUE(term_.Start(Options(true), &error)) << error;
  Type("last");
  close(in_[1]);
  in_[1] = -1;
  ASSERT_TRUE(WaitFor([&] { return guest_ == "last"; }));
  const auto t0 = std::chrono::steady_clock::now();
  term_.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_FALSE(quit_);
}

TEST_F(PipeTerminalTest, StopWakesABlockedReader) {
  std::string error;
  ASSERT_TRUE(term_.Start(Options(true), &error)) << error;
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto t0 = std::chrono::steady_clock::now();
  term_.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
}

TEST_F(PipeTerminalTest, StartsAgainAfterStop) {
  std::string error;
  ASSERT_TRUE(term_.Start(Options(true), &error)) << error;
  term_.Stop();
  ASSERT_TRUE(term_.Start(Options(true), &error)) << error;
  Type("again");
  ASSERT_TRUE(WaitFor([&] { return guest_ == "again"; })) << guest_;
}

TEST_F(PipeTerminalTest, WriteGoesToOutput) {
  std::string error;
  ASSERT_TRUE(term_.Start(Options(true), &error)) << error;
  term_.WriteByte('h');
  const std::string rest = "i\r\n";
  term_.Write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rest.data()), rest.size()));
  EXPECT_EQ(HostOutput(), "hi\r\n");
}

// A pseudo-terminal stands in for the user's tty.
class PtyTerminalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = posix_openpt(O_RDWR | O_NOCTTY);
    if (master_ < 0 || grantpt(master_) != 0 || unlockpt(master_) != 0) GTEST_SKIP() << "no pseudo-terminals";
    slave_ = open(ptsname(master_), O_RDWR | O_NOCTTY);
    ASSERT_GE(slave_, 0);
    ASSERT_EQ(tcgetattr(slave_, &original_), 0);
  }
  void TearDown() override {
    if (slave_ >= 0) close(slave_);
    if (master_ >= 0) close(master_);
  }
  int master_ = -1, slave_ = -1;
  termios original_{};
};

TEST_F(PtyTerminalTest, RawModeWhileRunningRestoredOnStop) {
  ASSERT_TRUE(original_.c_lflag & ICANON);
  ASSERT_TRUE(original_.c_lflag & ISIG);
  std::mutex mu;
  std::condition_variable cv;
  std::string guest;
  TerminalOptions o;
  o.in_fd = slave_;
  o.out_fd = slave_;
  o.to_guest = [&](std::span<const uint8_t> b) {
    std::lock_guard<std::mutex> lock(mu);
    guest.append(b.begin(), b.end());
    cv.notify_all();
  };
  Terminal term;
  std::string error;
  ASSERT_TRUE(term.Start(o, &error)) << error;
  EXPECT_TRUE(term.raw());
  termios raw{};
  ASSERT_EQ(tcgetattr(slave_, &raw), 0);
  EXPECT_FALSE(raw.c_lflag & (ICANON | ECHO | ISIG | IEXTEN));
  EXPECT_FALSE(raw.c_iflag & (ICRNL | IXON));
  EXPECT_TRUE(raw.c_oflag & OPOST);
  // No line editing: each key arrives at once; Ctrl-C is a byte, not SIGINT.
  ASSERT_EQ(write(master_, "q\x03", 2), 2);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return guest.size() >= 2; }));
  }
  EXPECT_EQ(guest, "q\x03");
  term.Stop();
  EXPECT_FALSE(term.raw());
  termios after{};
  ASSERT_EQ(tcgetattr(slave_, &after), 0);
  EXPECT_EQ(after.c_lflag, original_.c_lflag);
  EXPECT_EQ(after.c_iflag, original_.c_iflag);
}

TEST_F(PtyTerminalTest, SignalSafeRestore) {
  TerminalOptions o;
  o.in_fd = slave_;
  o.out_fd = slave_;
  Terminal term;
  std::string error;
  ASSERT_TRUE(term.Start(o, &error)) << error;
  RestoreTerminal();  // what a signal handler does
  termios after{};
  ASSERT_EQ(tcgetattr(slave_, &after), 0);
  EXPECT_EQ(after.c_lflag, original_.c_lflag);
  RestoreTerminal();  // a second time is harmless
  term.Stop();
}

TEST_F(PtyTerminalTest, RestoredWhenTheProcessExits) {
  // A child puts the pty in raw mode and calls exit() without Stop(): the
  // atexit handler must restore it.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    TerminalOptions o;
    o.in_fd = slave_;
    o.out_fd = slave_;
    static Terminal* term = new Terminal();  // never destroyed
    std::string error;
    if (!term->Start(o, &error)) _exit(3);
    termios t{};
    tcgetattr(slave_, &t);
    if (t.c_lflag & ICANON) _exit(4);
    exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  termios after{};
  ASSERT_EQ(tcgetattr(slave_, &after), 0);
  EXPECT_EQ(after.c_lflag, original_.c_lflag);
}

TEST_F(PtyTerminalTest, RestoredWhenTheProcessDiesOfASignal) {
  for (int sig : {SIGABRT, SIGHUP, SIGQUIT}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      signal(sig, SIG_DFL);
      InstallTerminalRestoreHandlers();
      TerminalOptions o;
      o.in_fd = slave_;
      o.out_fd = slave_;
      static Terminal* term = new Terminal();
      std::string error;
      if (!term->Start(o, &error)) _exit(3);
      if (sig == SIGABRT) abort();
      raise(sig);
      _exit(5);  // not reached: the handler re-raises with the default action
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig << " status " << status;
    EXPECT_EQ(WTERMSIG(status), sig);
    termios after{};
    ASSERT_EQ(tcgetattr(slave_, &after), 0);
    EXPECT_EQ(after.c_lflag, original_.c_lflag) << "signal " << sig;
  }
}

}  // namespace
}  // namespace xlat
