// Blocking clients of dfsd for tools and tests: a framed connection with a
// deadline on every step (connect, send, receive: asynchronous operations
// run until the deadline, so a server that accepts and never answers
// costs the timeout), and a one-shot referral query built on it. The
// client shim (issue #5) builds its cache on the same framing.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "dfs/common/result.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"

namespace dfs::referral_net {

class FramedClient {
 public:
  // Connects to `server` (IP:PORT). `timeout` bounds the connect and each
  // later exchange as a whole (send and every receive until the reply is
  // complete); replies larger than `max_reply_bytes` are refused. After a
  // timeout the connection is closed. Errors: kInvalidArgument (bad
  // address), kIo.
  static Result<std::unique_ptr<FramedClient>> Connect(
      const std::string& server, std::chrono::milliseconds timeout,
      size_t max_reply_bytes);
  ~FramedClient();

  // Sends one frame and returns the next frame the server sends, by
  // `deadline` (one deadline can span several steps; timeout() is the one
  // Connect was given).
  // Errors: kIo (closed, timed out), kCorrupt / kLimitExceeded (a bad
  // frame).
  Result<referral::Frame> ExchangeBy(
      referral::FrameType type, std::string_view payload,
      std::chrono::steady_clock::time_point deadline);
  // Sends an already encoded frame (a sealed one, auth.h).
  Result<referral::Frame> ExchangeEncoded(
      const std::string& frame, std::chrono::steady_clock::time_point deadline);
  std::chrono::milliseconds timeout() const;

  class Impl;

 private:
  explicit FramedClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The error an error frame carries, as an Error (NTSTATUS mapped to Errc).
Error ErrorFromFrame(const referral::Frame& frame);

// Returns the RESP_GET_DFS_REFERRAL bytes. Errors: kIo (cannot connect,
// timeout, connection closed), kNotFound / kInvalidArgument /
// kUnsupported (the server's error frame, with its message), kCorrupt.
Result<std::string> FetchReferral(const std::string& server,
                                  const referral::ReferralRequest& request,
                                  std::chrono::milliseconds timeout);

}  // namespace dfs::referral_net
