// The host side of the serial console: what -serial stdio and -serial
// mon:stdio (QEMU -nographic's default) give a user.
//
//   - When stdin is a tty, it is put in raw mode (as QEMU does: no echo, no
//     line editing, no signals, so Ctrl-C and Ctrl-Z go to the guest; output
//     post-processing stays on) and restored on every way out: Stop(), the
//     destructor, exit() (an atexit handler), and signals, through
//     RestoreTerminal(), which is async-signal-safe for the program's own
//     handlers to call, or through InstallTerminalRestoreHandlers() for the
//     signals that have none. When stdin is not a tty (a pipe, a file,
//     /dev/null) its mode is left alone and end-of-file just ends the input.
//   - A reader thread reads stdin and hands the bytes to `to_guest` (the
//     UART's input queue).
//   - With escapes on (mon:stdio), Ctrl-A is QEMU's escape character:
//     Ctrl-A x quits, Ctrl-A h prints help, Ctrl-A b sends a break (Linux's
//     magic SysRq), Ctrl-A c says there is no monitor, Ctrl-A Ctrl-A sends one
//     Ctrl-A. As in QEMU this applies whether or not stdin is a tty.
//   - Write() puts guest output on stdout, unbuffered.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>

namespace xlat {

// The escape-sequence state machine of the multiplexed console, apart from
// the tty so that it can be tested.
class ConsoleEscape {
 public:
  static constexpr uint8_t kCtrlA = 0x01;

  enum class Action {
    kForward,  // send this byte to the guest (after Ctrl-A Ctrl-A: one Ctrl-A)
    kNone,     // swallowed: the escape character, or a command we ignore (s, t, unknown)
    kQuit,     // Ctrl-A x
    kHelp,     // Ctrl-A h or ?
    kBreak,    // Ctrl-A b
    kMonitor,  // Ctrl-A c (there is no monitor)
  };

  explicit ConsoleEscape(uint8_t escape = kCtrlA) : escape_(escape) {}
  // One byte typed on the host.
  Action Feed(uint8_t byte);
  // An escape character was typed and waits for its command.
  bool pending() const { return got_escape_; }
  // QEMU's help text (lines end in "\n\r", for a raw-mode terminal).
  std::string HelpText() const;

 private:
  uint8_t escape_;
  bool got_escape_ = false;
};

struct TerminalOptions {
  int in_fd = 0;   // stdin
  int out_fd = 1;  // stdout
  bool escapes = true;  // mon:stdio; false for plain -serial stdio
  // Called on the reader thread.
  std::function<void(std::span<const uint8_t>)> to_guest;
  std::function<void()> send_break;  // may be empty
  std::function<void()> quit;        // must not call Stop(); it may ask the vCPU to stop
};

class Terminal {
 public:
  Terminal() = default;
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Puts in_fd in raw mode if it is a tty, registers the atexit restore, and
  // starts the reader thread. False (with *error) if the tty cannot be set up.
  bool Start(TerminalOptions options, std::string* error);
  // Stops the reader thread and restores the tty. Idempotent; called by the
  // destructor. From the reader thread (i.e. from `quit`) it only restores.
  void Stop();

  // Guest output: written to out_fd at once. Any thread.
  void Write(std::span<const uint8_t> bytes);
  void WriteByte(uint8_t byte) { Write(std::span<const uint8_t>(&byte, 1)); }

  // The tty is in raw mode (stdin was a tty).
  bool raw() const { return raw_; }

 private:
  void ReaderLoop();
  // Handles one chunk of host input; false once the user quit.
  bool Process(std::span<const uint8_t> bytes);
  void WriteText(const std::string& text);

  TerminalOptions options_;
  ConsoleEscape escape_;
  bool raw_ = false;
  int wake_pipe_[2] = {-1, -1};
  std::thread reader_;
};

// Async-signal-safe: puts the tty back the way Terminal::Start found it; does
// nothing if it is not in raw mode. For the program's signal handlers (SIGINT,
// SIGTERM, a fatal SIGSEGV after its report) and before _exit().
void RestoreTerminal();
// The same for a process about to _exit() from a signal handler: restores
// the saved settings even if the raw flag is already down (the interrupted
// thread may have been between lowering it and restoring the tty).
void RestoreTerminalBeforeExit();

// For SIGHUP, SIGQUIT and SIGABRT, where the disposition is still the
// default: a handler (on the alternate signal stack) that restores the tty and
// then dies of the signal as before. Handlers already installed are kept.
void InstallTerminalRestoreHandlers();

}  // namespace xlat
