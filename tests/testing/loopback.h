// Loopback sockets for integration tests: a blocking client with a receive
// timeout, and a listener that stands in for a content server. Everything
// binds and connects to 127.0.0.1 only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dfs::testing {

inline sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

class TcpClient {
 public:
  explicit TcpClient(uint16_t port, int timeout_ms = 5000) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto a = Loopback(port);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~TcpClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }

  bool Send(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }
  // Exactly `n` bytes, or nullopt on close, error or timeout.
  std::optional<std::string> Receive(size_t n) {
    std::string out(n, '\0');
    size_t at = 0;
    while (at < n) {
      ssize_t got = recv(fd_, out.data() + at, n - at, 0);
      if (got <= 0) return std::nullopt;
      at += static_cast<size_t>(got);
    }
    return out;
  }
  // True when the peer closed the connection (recv returned 0).
  bool PeerClosed() {
    char c;
    return recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Sockets are close-on-exec: a server under test started later must not
// inherit them (it would keep a "closed" listener alive).
// A listening socket on 127.0.0.1 that accepts nothing: connects succeed
// (the kernel completes them), which is all a health probe checks.
class FakeContentServer {
 public:
  explicit FakeContentServer(uint16_t port = 0) { Open(port); }
  ~FakeContentServer() { Close(); }
  void Open(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = Loopback(port);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 64);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace dfs::testing
