// What dfsd's prober asks a target server beyond "does it accept a TCP
// connection?" (--probe-check): a server that hangs (SIGSTOP, a wedged
// file service) still has its connections completed by the kernel, so
// only an answer at the application level tells it is serving.
//   connect  the TCP connection is accepted (the default)
//   smb      an SMB2 NEGOTIATE request (MS-SMB2 2.2.3) is answered with an
//            SMB2 (or SMB1) message
//   http     `HEAD / HTTP/1.0` is answered with a status line below 500
// Pure: the bytes to send and the verdict on the bytes received so far;
// referral_net's prober does the I/O within its timeout.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "dfs/common/result.h"

namespace dfs::referral {

enum class ProbeCheck { kConnect, kSmb, kHttp };

// The answer is judged within this many bytes (more is never read).
inline constexpr size_t kMaxProbeAnswerBytes = 512;

// Errors: kInvalidArgument naming the checks there are.
Result<ProbeCheck> ParseProbeCheck(std::string_view name);
std::string_view ToString(ProbeCheck check);

// The request to write once connected (empty for kConnect). `host`: the
// server's name, for HTTP's Host header.
std::string ProbeRequest(ProbeCheck check, std::string_view host);

enum class ProbeVerdict {
  kNeedMore,    // not enough bytes yet to judge
  kServing,     // the service answered as it should
  kNotServing,  // something answered, but not the service, or it failed
};
// `received`: every byte read so far (at most kMaxProbeAnswerBytes; at
// that size a verdict is always given).
ProbeVerdict JudgeProbeAnswer(ProbeCheck check, std::string_view received);

}  // namespace dfs::referral
