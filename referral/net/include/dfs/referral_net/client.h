// A blocking one-shot referral query over TCP, with a deadline: connect
// to a dfsd, send one REQ_GET_DFS_REFERRAL, read the reply. For tools and
// tests; the client shim (issue #5) builds its cache on the same framing.
#pragma once

#include <chrono>
#include <string>

#include "dfs/common/result.h"
#include "dfs/referral/codec.h"

namespace dfs::referral_net {

// Returns the RESP_GET_DFS_REFERRAL bytes. Errors: kIo (cannot connect,
// timeout, connection closed), kNotFound / kInvalidArgument /
// kUnsupported (the server's error frame, with its message), kCorrupt.
Result<std::string> FetchReferral(const std::string& server,
                                  const referral::ReferralRequest& request,
                                  std::chrono::milliseconds timeout);

}  // namespace dfs::referral_net
