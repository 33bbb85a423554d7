#include "frontend/gdb_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xlat::gdb {

// ---- Connection ----

Connection::Connection(int fd) : fd_(fd) {
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

Connection::ReadResult Connection::Read(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) return errno == EINTR ? ReadResult::kSignal : ReadResult::kClosed;
  if (r == 0) return ReadResult::kTimeout;
  char buf[16384];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0 && errno == EINTR) return ReadResult::kSignal;
  if (n <= 0) return ReadResult::kClosed;
  parser_.Feed(std::string_view(buf, static_cast<size_t>(n)));
  while (std::optional<Event> e = parser_.Next()) queue_.push_back(std::move(*e));
  return ReadResult::kData;
}

std::optional<Event> Connection::NextEvent() {
  if (queue_.empty()) return std::nullopt;
  Event e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

bool Connection::TakeInterrupts() {
  const size_t before = queue_.size();
  std::erase_if(queue_, [](const Event& e) { return e.kind == Event::Kind::kInterrupt; });
  return queue_.size() != before;
}

void Connection::DropRepeatedPackets() {
  std::deque<Event> kept;
  for (Event& e : queue_) {
    if (e.kind == Event::Kind::kAck) continue;  // acknowledgements of nothing yet
    if (e.kind == Event::Kind::kPacket && !kept.empty() && kept.back().kind == Event::Kind::kPacket &&
        kept.back().payload == e.payload)
      continue;
    kept.push_back(std::move(e));
  }
  queue_ = std::move(kept);
}

bool Connection::SendRaw(std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool Connection::Send(std::string_view payload) {
  last_ = FramePacket(payload);
  return SendRaw(last_);
}

// ---- Listener ----

std::unique_ptr<Listener> Listener::Open(const std::string& host, uint16_t port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  const int gai = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (gai != 0) {
    *error = "cannot listen on " + host + ":" + port_text + ": " + ::gai_strerror(gai);
    return nullptr;
  }
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1) == 0) {
      ::freeaddrinfo(res);
      return std::unique_ptr<Listener>(new Listener(fd));
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  *error = "cannot listen on " + host + ":" + port_text + ": " + last_error;
  return nullptr;
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Connection> Listener::Accept(int timeout_ms, bool* signalled) {
  *signalled = false;
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r < 0) {
    *signalled = errno == EINTR;
    return nullptr;
  }
  if (r == 0) return nullptr;
  const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return nullptr;
  return std::make_unique<Connection>(fd);
}

// ---- Watcher ----

Watcher::Watcher(Listener& listener, std::function<void()> request_stop)
    : listener_(listener), request_stop_(std::move(request_stop)) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { Loop(); });
}

Watcher::~Watcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
    watching_ = false;
  }
  cv_.notify_all();
  if (wake_[1] >= 0) (void)!::write(wake_[1], "q", 1);
  thread_.join();
  for (int fd : wake_)
    if (fd >= 0) ::close(fd);
}

void Watcher::Resume(Connection* client) {
  std::lock_guard<std::mutex> lock(mu_);
  client_ = client;
  events_ = Events();
  // A Ctrl-C that came in with gdb's last packet (its continue or step, in
  // the same read) is already off the socket, where the thread would never
  // see it: it stops the guest as soon as it runs.
  if (client && client->TakeInterrupts()) {
    events_.interrupt = true;
    request_stop_();
  }
  watching_ = true;
  cv_.notify_all();
}

Watcher::Events Watcher::Pause() {
  std::unique_lock<std::mutex> lock(mu_);
  watching_ = false;
  if (wake_[1] >= 0) (void)!::write(wake_[1], "p", 1);
  cv_.wait(lock, [this] { return !busy_; });
  // Drain the wake-ups now that the thread is idle.
  char buf[64];
  while (wake_[0] >= 0 && ::read(wake_[0], buf, sizeof buf) > 0) {
  }
  client_ = nullptr;
  return std::move(events_);
}

void Watcher::Loop() {
  // Host signals (SIGINT...) are for the vCPU thread, whose waits they interrupt.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return watching_ || quit_; });
    if (quit_) return;
    busy_ = true;
    lock.unlock();
    WatchOnce();
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

void Watcher::WatchOnce() {
  // Only this thread changes events_ and uses client_ while busy_.
  Connection* client = events_.client_lost ? nullptr : client_;
  pollfd p[3];
  int n = 0;
  p[n++] = {wake_[0], POLLIN, 0};
  p[n++] = {listener_.fd(), POLLIN, 0};
  if (client) p[n++] = {client->fd(), POLLIN, 0};
  if (::poll(p, static_cast<nfds_t>(n), -1) <= 0) return;
  if (p[0].revents) return;  // Pause() or the destructor: let Loop() look
  bool stop = false;
  if (client && p[2].revents) {
    if (client->Read(0) == Connection::ReadResult::kClosed) {
      events_.client_lost = true;
      stop = true;
    } else if (client->TakeInterrupts()) {
      events_.interrupt = true;
      stop = true;
    }
  }
  if (p[1].revents) {
    bool signalled = false;
    std::unique_ptr<Connection> c = listener_.Accept(0, &signalled);
    if (c) {
      if (!client_ && !events_.new_client) {
        events_.new_client = std::move(c);
        stop = true;
      }
      // else: one debugger at a time; the second connection is closed at once.
    }
  }
  if (stop) request_stop_();
}

}  // namespace xlat::gdb
