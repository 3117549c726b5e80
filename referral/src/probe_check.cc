#include "dfs/referral/probe_check.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "dfs/common/error.h"

namespace dfs::referral {

namespace {

void PutLe16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void PutLe32(std::string& out, uint32_t v) {
  PutLe16(out, static_cast<uint16_t>(v & 0xffff));
  PutLe16(out, static_cast<uint16_t>(v >> 16));
}
void PutZeros(std::string& out, size_t n) { out.append(n, '\0'); }

// SMB2 NEGOTIATE (MS-SMB2 2.2.1.2 header, 2.2.3 request) offering the
// dialects that need no negotiate contexts, in a direct-TCP transport
// frame (MS-SMB2 2.1: a zero byte and a 24-bit big-endian length).
std::string SmbNegotiate() {
  constexpr std::array<uint16_t, 4> kDialects = {0x0202, 0x0210, 0x0300,
                                                 0x0302};
  std::string smb;
  smb.append("\xfeSMB", 4);  // ProtocolId
  PutLe16(smb, 64);          // StructureSize
  PutLe16(smb, 0);           // CreditCharge
  PutLe32(smb, 0);           // Status
  PutLe16(smb, 0);           // Command: NEGOTIATE
  PutLe16(smb, 1);           // CreditRequest
  PutLe32(smb, 0);           // Flags
  PutLe32(smb, 0);           // NextCommand
  PutZeros(smb, 8);          // MessageId 0
  PutLe32(smb, 0);           // Reserved (ProcessId)
  PutLe32(smb, 0);           // TreeId
  PutZeros(smb, 8);          // SessionId
  PutZeros(smb, 16);         // Signature
  PutLe16(smb, 36);          // NEGOTIATE StructureSize
  PutLe16(smb, static_cast<uint16_t>(kDialects.size()));
  PutLe16(smb, 1);                     // SecurityMode: signing enabled
  PutLe16(smb, 0);                     // Reserved
  PutLe32(smb, 0);                     // Capabilities
  smb.append("dfsd-probe-guid!", 16);  // ClientGuid
  PutZeros(smb, 8);                    // ClientStartTime
  for (uint16_t d : kDialects) PutLe16(smb, d);
  std::string frame;
  frame.push_back('\0');
  frame.push_back(static_cast<char>((smb.size() >> 16) & 0xff));
  frame.push_back(static_cast<char>((smb.size() >> 8) & 0xff));
  frame.push_back(static_cast<char>(smb.size() & 0xff));
  return frame + smb;
}

ProbeVerdict JudgeSmb(std::string_view r) {
  // A transport frame (zero byte, length) holding an SMB2 or SMB1 message.
  if (r.size() < 8) {
    if (!r.empty() && r[0] != '\0') return ProbeVerdict::kNotServing;
    return ProbeVerdict::kNeedMore;
  }
  if (r[0] != '\0') return ProbeVerdict::kNotServing;
  const std::string_view magic = r.substr(4, 4);
  return magic == std::string_view("\xfeSMB", 4) ||
                 magic == std::string_view("\xffSMB", 4)
             ? ProbeVerdict::kServing
             : ProbeVerdict::kNotServing;
}

ProbeVerdict JudgeHttp(std::string_view r) {
  // "HTTP/1.x NNN": the status code decides (5xx: the server is up but
  // not serving; a web farm routes elsewhere).
  constexpr std::string_view kPrefix = "HTTP/1.";
  const size_t have = std::min(r.size(), kPrefix.size());
  if (r.substr(0, have) != kPrefix.substr(0, have)) {
    return ProbeVerdict::kNotServing;
  }
  if (r.size() < 12) {
    return r.size() >= kMaxProbeAnswerBytes ? ProbeVerdict::kNotServing
                                            : ProbeVerdict::kNeedMore;
  }
  const char first = r[9];
  if (r[8] != ' ' || first < '1' || first > '5') {
    return ProbeVerdict::kNotServing;
  }
  return first == '5' ? ProbeVerdict::kNotServing : ProbeVerdict::kServing;
}

}  // namespace

Result<ProbeCheck> ParseProbeCheck(std::string_view name) {
  if (name == "connect") return ProbeCheck::kConnect;
  if (name == "smb") return ProbeCheck::kSmb;
  if (name == "http") return ProbeCheck::kHttp;
  return Fail(
      Errc::kInvalidArgument,
      "unknown probe check '" + std::string(name) + "' (connect, smb or http)");
}

std::string_view ToString(ProbeCheck check) {
  switch (check) {
    case ProbeCheck::kConnect:
      return "connect";
    case ProbeCheck::kSmb:
      return "smb";
    case ProbeCheck::kHttp:
      return "http";
  }
  return "connect";
}

std::string ProbeRequest(ProbeCheck check, std::string_view host) {
  switch (check) {
    case ProbeCheck::kConnect:
      return {};
    case ProbeCheck::kSmb:
      return SmbNegotiate();
    case ProbeCheck::kHttp: {
      // A server name from the namespace; anything but a host name's
      // characters is left out (no header can be injected).
      std::string clean;
      for (char c : host) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
            c == '-' || c == '_' || c == ':') {
          clean.push_back(c);
        }
      }
      return "HEAD / HTTP/1.0\r\nHost: " + clean +
             "\r\nUser-Agent: dfsd-probe\r\nConnection: close\r\n\r\n";
    }
  }
  return {};
}

ProbeVerdict JudgeProbeAnswer(ProbeCheck check, std::string_view received) {
  if (received.size() > kMaxProbeAnswerBytes) {
    received = received.substr(0, kMaxProbeAnswerBytes);
  }
  switch (check) {
    case ProbeCheck::kConnect:
      return ProbeVerdict::kServing;
    case ProbeCheck::kSmb:
      return JudgeSmb(received);
    case ProbeCheck::kHttp:
      return JudgeHttp(received);
  }
  return ProbeVerdict::kNotServing;
}

}  // namespace dfs::referral
