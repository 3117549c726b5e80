#include "dfs/client_net/control_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "accept_loop.h"
#include "dfs/common/error.h"

namespace dfs::client_net {
namespace {

void SetTimeouts(int fd, std::chrono::milliseconds t) {
  // These sockets are blocking, so the kernel applies the timeouts.
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path) {
    return Fail(Errc::kInvalidArgument,
                "control socket path " + path + " is too long (at most " +
                    std::to_string(sizeof a.sun_path - 1) + " bytes)");
  }
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

// Reads until a newline; false on close, timeout or more than `limit`.
bool ReadLine(int fd, size_t limit, std::string& line) {
  char buf[4096];
  for (;;) {
    const size_t nl = line.find('\n');
    if (nl != std::string::npos) {
      line.resize(nl);
      return true;
    }
    if (line.size() > limit) return false;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    line.append(buf, static_cast<size_t>(n));
  }
}

std::string ErrorReply(const std::string& message) {
  return nlohmann::json{{"ok", false}, {"error", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

class ControlServer::Impl {
 public:
  ~Impl() {
    loop_.reset();  // no request is being answered after this
    if (!path_.empty()) unlink(path_.c_str());
  }

  void Answer(int fd) {
    ucred peer{};
    socklen_t len = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
        (peer.uid != geteuid() && peer.uid != 0)) {
      SendAll(fd, ErrorReply("not the mount's owner") + "\n");
      return;
    }
    SetTimeouts(fd, std::chrono::seconds(2));
    std::string line;
    if (!ReadLine(fd, client::kMaxControlRequestBytes, line)) {
      SendAll(fd, ErrorReply("no complete request line") + "\n");
      return;
    }
    auto request = client::ParseControlRequest(line);
    std::string reply =
        request ? handler_(*request) : ErrorReply(request.error().context);
    SendAll(fd, reply + "\n");
  }

  std::string path_;
  Handler handler_;
  std::unique_ptr<AcceptLoop> loop_;
};

ControlServer::ControlServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ControlServer::~ControlServer() = default;

Result<std::unique_ptr<ControlServer>> ControlServer::Start(
    const std::string& path, Handler handler) {
  DFS_ASSIGN_OR_RETURN(sockaddr_un address, Address(path));
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Fail(Errc::kInvalidArgument,
                  path + " exists and is not a socket: not replacing it");
    }
    // A live mount answers; a dead one's socket refuses the connection.
    client::ControlRequest probe;
    auto live = AskControl(path, probe, std::chrono::milliseconds(500));
    if (live || live.error().code != make_error_code(Errc::kNotFound)) {
      return Fail(Errc::kInvalidArgument,
                  "another dfsclient mount answers on " + path);
    }
    unlink(path.c_str());
  }
  auto impl = std::make_unique<Impl>();
  impl->handler_ = std::move(handler);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Fail(Errc::kIo, std::string("control socket: ") + strerror(errno));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return Fail(Errc::kIo, "cannot listen on " + path + ": " + strerror(errno));
  }
  impl->path_ = path;  // from here on, the destructor removes it
  if (chmod(path.c_str(), 0600) != 0 || listen(fd, 16) != 0) {
    const std::string why = strerror(errno);
    close(fd);
    return Fail(Errc::kIo, "cannot listen on " + path + ": " + why);
  }
  Impl* raw = impl.get();
  impl->loop_ = std::make_unique<AcceptLoop>();  // owns `fd` from here
  if (!impl->loop_->Start(fd, [raw](int c) { raw->Answer(c); })) {
    return Fail(Errc::kIo, "cannot listen on " + path + ": " + strerror(errno));
  }
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

Result<std::string> AskControl(const std::string& path,
                               const client::ControlRequest& request,
                               std::chrono::milliseconds timeout) {
  DFS_ASSIGN_OR_RETURN(sockaddr_un address, Address(path));
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Errc::kIo, strerror(errno));
  SetTimeouts(fd, timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return Fail(Errc::kNotFound, "no mount answers on " + path);
    }
    return Fail(Errc::kIo,
                "cannot reach the mount on " + path + ": " + strerror(err));
  }
  std::string line;
  const bool ok = SendAll(fd, client::EncodeControlRequest(request)) &&
                  ReadLine(fd, client::kMaxControlReplyBytes, line);
  close(fd);
  if (!ok) {
    return Fail(Errc::kIo, "the mount on " + path + " did not answer in time");
  }
  return line;
}

}  // namespace dfs::client_net
