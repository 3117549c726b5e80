// The bodies of etcd's v3 HTTP/JSON gateway (etcd 3.4: POST /v3/kv/range,
// /v3/kv/txn, /v3/watch, /v3/auth/authenticate), built and parsed without
// I/O. Keys and values travel base64-encoded, 64-bit numbers as strings,
// and proto3 leaves out fields at their zero value (a PUT event has no
// "type", a failed transaction no "succeeded").
//
// Everything parsed here comes from the network: each body is bounded
// (kMaxBodyBytes), each record's key and value (kMaxKeyBytes,
// kMaxValueBytes) and each count (kMaxRecords) before it is kept; a body
// that is not what etcd sends is kCorrupt, an etcd error is kUnavailable
// (or kPermissionDenied for authentication) with etcd's message.
// Thread-safety: pure functions; a WatchStream belongs to one watch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/domain/layout.h"

namespace dfs::domain {

inline constexpr size_t kMaxBodyBytes = size_t{64} << 20;
inline constexpr size_t kMaxKeyBytes = 16384;
inline constexpr size_t kMaxValueBytes = size_t{1} << 20;
inline constexpr size_t kMaxRecords = 100000;

std::string Base64(std::string_view bytes);
Result<std::string> FromBase64(std::string_view text);

// ---- range: every key in [key, range_end) at `revision` (0: the newest),
// at most `limit` (0: no limit) ----
std::string RangeRequest(std::string_view key, std::string_view range_end,
                         int64_t revision, int64_t limit);
struct RangeResponse {
  int64_t revision = 0;  // the store's revision the read saw
  std::vector<EtcdRecord> records;
  bool more = false;  // the limit cut the answer short
};
Result<RangeResponse> ParseRangeResponse(std::string_view body);

// ---- txn: if `marker` was last changed at `marker_mod_revision` (0: does
// not exist), put the marker, the change's receipt (`receipt_key`, under
// `lease`: it expires) and the records, and delete; else nothing ----
std::string ChangeTxnRequest(std::string_view marker,
                             int64_t marker_mod_revision,
                             std::string_view marker_value,
                             std::string_view receipt_key, int64_t lease,
                             const RecordChanges& changes);
// Unconditional puts in one transaction (loading a namespace into etcd).
std::string PutTxnRequest(const std::vector<KeyValue>& puts);
struct TxnResponse {
  bool succeeded = false;
  int64_t revision = 0;  // the revision the change made (or the current one)
};
Result<TxnResponse> ParseTxnResponse(std::string_view body);

// ---- leases: one that lives `ttl_seconds` ----
std::string LeaseGrantRequest(int64_t ttl_seconds);
Result<int64_t> ParseLeaseGrantResponse(std::string_view body);

// ---- auth ----
std::string AuthenticateRequest(std::string_view name,
                                std::string_view password);
Result<std::string> ParseAuthenticateResponse(std::string_view body);

// ---- watch: every change to [key, range_end) from `start_revision` ----
std::string WatchRequest(std::string_view key, std::string_view range_end,
                         int64_t start_revision);
struct WatchMessage {
  int64_t revision = 0;  // header revision
  bool created = false;
  bool canceled = false;
  // Set when the start revision was compacted away: read everything again.
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<EtcdRecord> events;
};
// The gateway streams one JSON object per message ({"result": ...} or
// {"error": ...}), each on its own line. Feed takes bytes as they arrive
// and returns the messages they complete. Errors: kCorrupt (not JSON, not
// a watch message, over kMaxBodyBytes without a message end),
// kUnavailable (an error message from etcd).
class WatchStream {
 public:
  Result<std::vector<WatchMessage>> Feed(std::string_view bytes);

 private:
  std::string pending_;
};

// An error body from the gateway ({"error": ..., "code": N, "message":
// ...}) as text, or the first bytes of whatever else came.
std::string DescribeErrorBody(std::string_view body);

}  // namespace dfs::domain
