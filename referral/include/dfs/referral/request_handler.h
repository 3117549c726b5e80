// dfsd's answer to one client frame, without sockets: a framed
// REQ_GET_DFS_REFERRAL in, the framed RESP_GET_DFS_REFERRAL (or an error
// frame) out, with what happened for the metrics. The connection code in
// referral_net only moves bytes and counts outcomes (the request_handler
// of Asio's HTTP server example, STYLE.md).
// Thread-safety: as the Resolver it uses (one thread).
#pragma once

#include <string>

#include "dfs/referral/framing.h"
#include "dfs/referral/resolver.h"

namespace dfs::referral {

enum class RequestOutcome {
  kOk,           // a referral (possibly with zero entries)
  kNotFound,     // no such root or folder, or it is offline
  kBadRequest,   // not a referral request, undecodable, a bad path
  kUnsupported,  // a referral level below 3
};

struct HandledRequest {
  std::string reply;  // one whole frame
  RequestOutcome outcome = RequestOutcome::kOk;
  // kOk: the root or folder referred to, `\host\root[\folder]` as the
  // client spelled it (what the status page counts per folder).
  std::string dfs_path;
};

class RequestHandler {
 public:
  // `resolver` must outlive the handler.
  explicit RequestHandler(Resolver& resolver) : resolver_(resolver) {}

  // Replication and admin frames are not this handler's: they are
  // kBadRequest here (the server routes them to a session first).
  HandledRequest Handle(const Frame& frame, const Requester& client);

 private:
  Resolver& resolver_;
};

}  // namespace dfs::referral
