// The Unix socket a running `dfsclient mount` answers control requests on
// (dfs/client/control.h), and the client side `dfsclient pktinfo|pktflush|
// fail` use. The socket is owner-only (0600, in the owner-only cache
// folder) and every connection's peer must be the same user or root
// (SO_PEERCRED): nobody else can flush or fail over a web node's mount.
// Thread-safety: a ControlServer serves on its own thread; AskControl may
// be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "dfs/client/control.h"
#include "dfs/common/result.h"

namespace dfs::client_net {

class ControlServer {
 public:
  // Returns the reply line (JSON, no newline) for one request.
  using Handler = std::function<std::string(const client::ControlRequest&)>;

  // Listens on `path`. A socket file left by a mount that died is
  // replaced; one a live mount answers on is not. Errors:
  // kInvalidArgument (path too long for a socket, not a socket, a live
  // mount answers there), kIo.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& path,
                                                      Handler handler);
  // Stops serving and removes the socket file.
  ~ControlServer();

  class Impl;

 private:
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sends `request` to the mount listening on `path` and returns its reply
// line. Errors: kNotFound (no mount listens there: no socket, or a dead
// one), kIo (it did not answer within `timeout`), kLimitExceeded.
Result<std::string> AskControl(const std::string& path,
                               const client::ControlRequest& request,
                               std::chrono::milliseconds timeout);

}  // namespace dfs::client_net
