#include "frontend/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace xlat {

// ---- The escape state machine (QEMU's mux_proc_byte) ----

ConsoleEscape::Action ConsoleEscape::Feed(uint8_t byte) {
  if (!got_escape_) {
    if (byte == escape_) {
      got_escape_ = true;
      return Action::kNone;
    }
    return Action::kForward;
  }
  got_escape_ = false;
  if (byte == escape_) return Action::kForward;
  switch (byte) {
    case 'x':
      return Action::kQuit;
    case 'h':
    case '?':
      return Action::kHelp;
    case 'b':
      return Action::kBreak;
    case 'c':
      return Action::kMonitor;
    default:
      return Action::kNone;  // 's' (commit disks) and 't' (timestamps) have nothing to do here
  }
}

std::string ConsoleEscape::HelpText() const {
  std::string e = "Escape-Char";
  if (escape_ > 0 && escape_ < 27) e = std::string("C-") + static_cast<char>('a' + escape_ - 1);
  std::string text = "\n\r";
  text += e + " h    print this help\n\r";
  text += e + " x    exit emulator\n\r";
  text += e + " b    send break (magic sysrq)\n\r";
  text += e + " c    switch between console and monitor (xlat has no monitor)\n\r";
  text += e + " " + e + "  sends " + e + "\n\r";
  return text;
}

// ---- Raw mode and its restoration ----

namespace {

// What RestoreTerminal() needs, readable from a signal handler: written once
// by Start() before g_tty_raw is set.
struct termios g_saved_termios;
int g_tty_fd = -1;
std::atomic<bool> g_tty_raw{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void RestoreTerminalAtExit() { RestoreTerminal(); }

extern "C" void RestoreTerminalAndDie(int sig) {
  const int saved_errno = errno;
  RestoreTerminal();
  // SA_RESETHAND put the default action back: the re-raised signal is
  // delivered with it once this handler returns.
  ::raise(sig);
  errno = saved_errno;
}

// QEMU's stdio raw mode (qemu_chr_set_echo_stdio(false)), plus ISIG off so
// that Ctrl-C, Ctrl-Z and Ctrl-\ reach the guest as with -nographic.
void MakeRaw(struct termios* t) {
  t->c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t->c_oflag |= OPOST;
  t->c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
  t->c_cflag &= ~(CSIZE | PARENB);
  t->c_cflag |= CS8;
  t->c_cc[VMIN] = 1;
  t->c_cc[VTIME] = 0;
}

}  // namespace

void RestoreTerminal() {
  if (g_tty_raw.exchange(false)) ::tcsetattr(g_tty_fd, TCSANOW, &g_saved_termios);
}

void RestoreTerminalBeforeExit() {
  g_tty_raw = false;
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSANOW, &g_saved_termios);
}

void InstallTerminalRestoreHandlers() {
  for (int sig : {SIGHUP, SIGQUIT, SIGABRT}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;  // someone else's
    struct sigaction sa {};
    sa.sa_handler = RestoreTerminalAndDie;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;  // host rsp may hold a guest address
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

// ---- Terminal ----

Terminal::~Terminal() {
  Stop();
  for (int& fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

bool Terminal::Start(TerminalOptions options, std::string* error) {
  if (reader_.joinable()) {
    *error = "the terminal is already started";
    return false;
  }
  options_ = std::move(options);
  escape_ = ConsoleEscape();
  if (::isatty(options_.in_fd)) {
    struct termios t;
    if (::tcgetattr(options_.in_fd, &t) != 0) {
      *error = std::string("cannot read the terminal's settings: ") + std::strerror(errno);
      return false;
    }
    g_saved_termios = t;
    g_tty_fd = options_.in_fd;
    MakeRaw(&t);
    if (::tcsetattr(options_.in_fd, TCSANOW, &t) != 0) {
      *error = std::string("cannot put the terminal in raw mode: ") + std::strerror(errno);
      return false;
    }
    g_tty_raw = true;
    raw_ = true;
    static std::once_flag at_exit_once;
    std::call_once(at_exit_once, [] { std::atexit(RestoreTerminalAtExit); });
  }
  if (wake_pipe_[0] < 0 && ::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    *error = std::string("cannot create a pipe: ") + std::strerror(errno);
    RestoreTerminal();
    raw_ = false;
    return false;
  }
  reader_ = std::thread([this] { ReaderLoop(); });
  return true;
}

void Terminal::Stop() {
  if (reader_.joinable() && std::this_thread::get_id() != reader_.get_id()) {
    const char wake = 1;
    ssize_t ignored = ::write(wake_pipe_[1], &wake, 1);
    (void)ignored;
    reader_.join();
    for (int& fd : wake_pipe_) {  // a fresh pipe for a later Start(), without the wake byte
      ::close(fd);
      fd = -1;
    }
  }
  if (raw_) {
    RestoreTerminal();
    raw_ = false;
  }
}

void Terminal::ReaderLoop() {
  uint8_t buf[4096];
  for (;;) {
    struct pollfd fds[2] = {{options_.in_fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;  // Stop()
    if (fds[0].revents & POLLNVAL) return;
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    const ssize_t n = ::read(options_.in_fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return;  // EIO: the tty hung up
    }
    if (n == 0) return;  // end of input: the guest just gets no more
    if (!Process(std::span<const uint8_t>(buf, static_cast<size_t>(n)))) return;
  }
}

bool Terminal::Process(std::span<const uint8_t> bytes) {
  std::vector<uint8_t> forward;
  forward.reserve(bytes.size());
  auto flush = [&] {
    if (!forward.empty() && options_.to_guest) options_.to_guest(forward);
    forward.clear();
  };
  for (uint8_t b : bytes) {
    if (!options_.escapes) {
      forward.push_back(b);
      continue;
    }
    switch (escape_.Feed(b)) {
      case ConsoleEscape::Action::kForward:
        forward.push_back(b);
        break;
      case ConsoleEscape::Action::kNone:
        break;
      case ConsoleEscape::Action::kHelp:
        flush();
        WriteText(escape_.HelpText());
        break;
      case ConsoleEscape::Action::kBreak:
        flush();
        if (options_.send_break) options_.send_break();
        break;
      case ConsoleEscape::Action::kMonitor:
        flush();
        WriteText("\n\rxlat: there is no monitor (C-a h for help)\n\r");
        break;
      case ConsoleEscape::Action::kQuit:
        flush();
        WriteText("xlat: Terminated\n\r");
        if (options_.quit) options_.quit();
        return false;
    }
  }
  flush();
  return true;
}

void Terminal::WriteText(const std::string& text) {
  Write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void Terminal::Write(std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(options_.out_fd, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {options_.out_fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
    } else {
      return;  // closed or broken: the output is lost, the guest runs on
    }
  }
}

}  // namespace xlat
