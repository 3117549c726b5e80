#include "dfs/referral/codec.h"

#include <unicode/ustring.h>

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"
#include "dfs/ns/path.h"

namespace dfs::referral {
namespace {

void Put16(std::string& out, size_t at, uint16_t v) {
  out[at] = static_cast<char>(v & 0xff);
  out[at + 1] = static_cast<char>(v >> 8);
}

uint16_t Get16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) |
                               (static_cast<uint8_t>(b[at + 1]) << 8));
}

// The null-terminated UTF-16LE string at `at`, bounded by the message.
Result<std::string> StringAt(std::string_view msg, size_t at,
                             std::string_view what) {
  if (at >= msg.size()) {
    return Fail(Errc::kCorrupt, std::string(what) + " offset " +
                                    std::to_string(at) + " lies outside the " +
                                    std::to_string(msg.size()) +
                                    "-byte message");
  }
  for (size_t i = at; i + 1 < msg.size(); i += 2) {
    if (msg[i] == 0 && msg[i + 1] == 0)
      return FromUtf16Le(msg.substr(at, i - at));
    if ((i - at) / 2 > kMaxRequestPathUnits) break;
  }
  return Fail(Errc::kCorrupt, std::string(what) + " has no terminating null");
}

}  // namespace

std::string ToUtf16Le(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t units = 0;
  u_strFromUTF8(nullptr, 0, &units, utf8.data(),
                static_cast<int32_t>(utf8.size()), &status);
  std::u16string buf(static_cast<size_t>(units), u'\0');
  status = U_ZERO_ERROR;
  u_strFromUTF8(reinterpret_cast<UChar*>(buf.data()), units, nullptr,
                utf8.data(), static_cast<int32_t>(utf8.size()), &status);
  std::string out;
  out.reserve(buf.size() * 2);
  for (char16_t u : buf) {
    out += static_cast<char>(u & 0xff);
    out += static_cast<char>(u >> 8);
  }
  return out;
}

Result<std::string> FromUtf16Le(std::string_view b) {
  if (b.size() % 2 != 0)
    return Fail(Errc::kCorrupt, "UTF-16 string of odd length");
  std::u16string units(b.size() / 2, u'\0');
  for (size_t i = 0; i < units.size(); ++i) {
    units[i] = static_cast<char16_t>(Get16(b, 2 * i));
  }
  auto out = ns::Utf16ToUtf8(units);
  if (!out) return Fail(Errc::kCorrupt, "invalid UTF-16 (unpaired surrogate)");
  return *out;
}

std::string EncodeRequest(const ReferralRequest& request) {
  std::string out(2, '\0');
  Put16(out, 0, request.max_referral_level);
  out += ToUtf16Le(request.path);
  out += std::string(2, '\0');
  return out;
}

Result<ReferralRequest> DecodeRequest(std::string_view bytes) {
  if (bytes.size() < 4) {
    return Fail(Errc::kCorrupt,
                "referral request of " + std::to_string(bytes.size()) +
                    " bytes is shorter than its 4-byte minimum");
  }
  if (bytes.size() % 2 != 0)
    return Fail(Errc::kCorrupt, "referral request of odd length");
  if ((bytes.size() - 2) / 2 > kMaxRequestPathUnits + 1) {
    return Fail(Errc::kLimitExceeded, "request path longer than " +
                                          std::to_string(kMaxRequestPathUnits) +
                                          " UTF-16 units");
  }
  ReferralRequest r;
  r.max_referral_level = Get16(bytes, 0);
  std::string_view name = bytes.substr(2);
  if (Get16(name, name.size() - 2) != 0) {
    return Fail(Errc::kCorrupt, "request path is not null-terminated");
  }
  name.remove_suffix(2);
  for (size_t i = 0; i < name.size(); i += 2) {
    if (Get16(name, i) == 0)
      return Fail(Errc::kCorrupt, "request path holds a null");
  }
  DFS_ASSIGN_OR_RETURN(r.path, FromUtf16Le(name));
  return r;
}

Result<std::string> EncodeResponse(const Referral& referral,
                                   uint16_t max_level) {
  if (max_level < kMinReferralLevel) {
    return Fail(Errc::kUnsupported,
                "referral level " + std::to_string(max_level) +
                    " requested; this server answers 3 and 4");
  }
  const uint16_t version = max_level >= 4 ? 4 : 3;
  const std::string dfs_path =
      ToUtf16Le(referral.dfs_path) + std::string(2, '\0');
  std::vector<std::string> addresses;
  // Keep as many targets as fit under the 16-bit offsets.
  size_t total = kHeaderBytes + dfs_path.size();
  for (const auto& t : referral.targets) {
    std::string a = ToUtf16Le(t.path) + std::string(2, '\0');
    if (total + kV3EntryBytes + a.size() > kMaxResponseBytes) break;
    total += kV3EntryBytes + a.size();
    addresses.push_back(std::move(a));
  }
  const size_t n = addresses.size();
  std::string out(kHeaderBytes + n * kV3EntryBytes, '\0');
  Put16(out, 0, referral.path_consumed_bytes);
  Put16(out, 2, static_cast<uint16_t>(n));
  // MS-DFSC 2.2.4: R when every target answers referrals (root targets,
  // an interlink's namespaces); S when every target can be used without
  // another referral (not an interlink's). TargetFailback exists only in
  // V4: it MUST be 0 in a V3 response.
  uint32_t flags = 0;
  if (referral.root_referral || referral.interlink) flags |= kReferralServers;
  if (!referral.interlink) flags |= kStorageServers;
  if (referral.failback && version == 4) flags |= kTargetFailback;
  out[4] = static_cast<char>(flags);
  // Strings follow the entries: the DFS path once, then each address.
  const size_t dfs_path_at = out.size();
  out += dfs_path;
  for (size_t i = 0; i < n; ++i) {
    const size_t entry = kHeaderBytes + i * kV3EntryBytes;
    const size_t address_at = out.size();
    out += addresses[i];
    uint16_t entry_flags = 0;
    if (version == 4 && referral.targets[i].set_boundary)
      entry_flags |= kTargetSetBoundary;
    if (version == 4 && i == 0) entry_flags |= kTargetSetBoundary;  // MUST
    Put16(out, entry + 0, version);
    Put16(out, entry + 2, kV3EntryBytes);
    Put16(out, entry + 4, referral.root_referral || referral.interlink ? 1 : 0);
    Put16(out, entry + 6, entry_flags);
    Put16(out, entry + 8, static_cast<uint16_t>(referral.ttl_seconds & 0xffff));
    Put16(out, entry + 10, static_cast<uint16_t>(referral.ttl_seconds >> 16));
    Put16(out, entry + 12, static_cast<uint16_t>(dfs_path_at - entry));
    Put16(out, entry + 14, static_cast<uint16_t>(dfs_path_at - entry));
    Put16(out, entry + 16, static_cast<uint16_t>(address_at - entry));
    // ServiceSiteGuid: 16 zero bytes, already there.
  }
  return out;
}

Result<DecodedResponse> DecodeResponse(std::string_view b) {
  if (b.size() > kMaxResponseBytes) {
    return Fail(Errc::kLimitExceeded, "referral response larger than 64 KiB");
  }
  if (b.size() < kHeaderBytes)
    return Fail(Errc::kCorrupt, "referral response shorter than its header");
  DecodedResponse r;
  r.path_consumed = Get16(b, 0);
  const uint16_t count = Get16(b, 2);
  ByteReader header(b.substr(4, 4));
  r.header_flags = *header.U32("flags");
  size_t at = kHeaderBytes;
  for (uint16_t i = 0; i < count; ++i) {
    if (at + 8 > b.size())
      return Fail(Errc::kCorrupt,
                  "referral entry " + std::to_string(i) + " is truncated");
    DecodedEntry e;
    e.version = Get16(b, at);
    const uint16_t size = Get16(b, at + 2);
    if (e.version != 3 && e.version != 4) {
      return Fail(Errc::kUnsupported,
                  "referral entry version " + std::to_string(e.version));
    }
    if (size < kV3EntryBytes || at + size > b.size()) {
      return Fail(Errc::kCorrupt, "referral entry " + std::to_string(i) +
                                      " declares size " + std::to_string(size));
    }
    e.server_type = Get16(b, at + 4);
    e.flags = Get16(b, at + 6);
    if (e.flags & kNameListReferral) {
      return Fail(Errc::kUnsupported,
                  "name-list referrals (domain/DC) are not read");
    }
    e.ttl = Get16(b, at + 8) | (static_cast<uint32_t>(Get16(b, at + 10)) << 16);
    DFS_ASSIGN_OR_RETURN(e.dfs_path,
                         StringAt(b, at + Get16(b, at + 12), "DFSPath"));
    DFS_ASSIGN_OR_RETURN(e.alternate_path, StringAt(b, at + Get16(b, at + 14),
                                                    "DFSAlternatePath"));
    DFS_ASSIGN_OR_RETURN(e.network_address,
                         StringAt(b, at + Get16(b, at + 16), "NetworkAddress"));
    r.entries.push_back(std::move(e));
    at += size;
  }
  return r;
}

}  // namespace dfs::referral
