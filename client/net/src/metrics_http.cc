#include "dfs/client_net/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "accept_loop.h"
#include "dfs/common/error.h"
#include "dfs/common/metrics_http.h"

namespace dfs::client_net {
class MetricsHttpServer::Impl {
 public:
  void Answer(int c) {
    timeval tv{2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string request;
    char buf[1024];
    while (!HttpRequestReady(request)) {
      const ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    if (route_) {
      if (auto answer = route_(request)) {
        SendAll(c, *answer);
        return;
      }
    }
    SendAll(c, MetricsHttpResponse(
                   request, WantsMetrics(request) ? render_() : std::string()));
  }

  std::function<std::string()> render_;
  Route route_;
  std::string address_;
  std::unique_ptr<AcceptLoop> loop_;  // last: stopped before the rest goes
};

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
MetricsHttpServer::~MetricsHttpServer() = default;
const std::string& MetricsHttpServer::address() const {
  return impl_->address_;
}

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::function<std::string()> render,
    Route route) {
  const size_t colon = address.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      port = std::stoi(address.substr(colon + 1), &used);
      if (used != address.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535 ||
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    return Fail(Errc::kInvalidArgument,
                "metrics address " + address + " is not IP:PORT");
  }
  a.sin_port = htons(static_cast<uint16_t>(port));
  auto impl = std::make_unique<Impl>();
  impl->render_ = std::move(render);
  impl->route_ = std::move(route);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(fd, 16) != 0) {
    const std::string why = strerror(errno);
    if (fd >= 0) close(fd);
    return Fail(Errc::kIo, "cannot serve metrics on " + address + ": " + why);
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  impl->address_ = std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
  Impl* raw = impl.get();
  impl->loop_ = std::make_unique<AcceptLoop>();
  if (!impl->loop_->Start(fd, [raw](int c) { raw->Answer(c); })) {
    return Fail(Errc::kIo, "cannot serve metrics on " + address);
  }
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(std::move(impl)));
}

}  // namespace dfs::client_net
