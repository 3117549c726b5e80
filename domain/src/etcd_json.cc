#include "dfs/domain/etcd_json.h"

#include <openssl/evp.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "dfs/common/error.h"

namespace dfs::domain {

using nlohmann::json;

namespace {

Error Corrupt(std::string_view what) {
  return Error{make_error_code(Errc::kCorrupt),
               "etcd answered something that is not " + std::string(what)};
}

// Parses without exceptions; a discarded value when `body` is not JSON.
json Parse(std::string_view body) {
  return json::parse(body.begin(), body.end(), nullptr,
                     /*allow_exceptions=*/false);
}

// A proto3 int64: a string of digits (or, leniently, a number); absent
// means 0.
Result<int64_t> Int64(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return Unexpected(Corrupt(std::string(field)));
  const auto& s = it->get_ref<const std::string&>();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return Unexpected(Corrupt(std::string(field) + " as a number"));
  }
  return v;
}

bool Bool(const json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

Result<std::string> Bytes(const json& object, const char* field,
                          size_t max_bytes) {
  auto it = object.find(field);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return Unexpected(Corrupt(std::string(field)));
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() > (max_bytes + 2) / 3 * 4) {
    return Fail(Errc::kLimitExceeded, std::string("etcd sent a ") + field +
                                          " over " + std::to_string(max_bytes) +
                                          " bytes");
  }
  return FromBase64(text);
}

Result<EtcdRecord> Record(const json& kv) {
  if (!kv.is_object()) return Unexpected(Corrupt("a key-value"));
  EtcdRecord r;
  DFS_ASSIGN_OR_RETURN(r.key, Bytes(kv, "key", kMaxKeyBytes));
  DFS_ASSIGN_OR_RETURN(r.value, Bytes(kv, "value", kMaxValueBytes));
  DFS_ASSIGN_OR_RETURN(r.mod_revision, Int64(kv, "mod_revision"));
  return r;
}

Result<int64_t> HeaderRevision(const json& object) {
  auto header = object.find("header");
  if (header == object.end() || !header->is_object()) return int64_t{0};
  return Int64(*header, "revision");
}

// etcd's own error bodies: {"error": "...", "code": N, "message": "..."}.
std::optional<Error> EtcdError(const json& body);

// An answer's body as a JSON object: kLimitExceeded over `max_bytes`,
// etcd's error when it is one, kCorrupt when it is not an object.
Result<json> ParseAnswer(std::string_view body, size_t max_bytes,
                         const char* what) {
  if (body.size() > max_bytes) {
    return Fail(Errc::kLimitExceeded,
                std::string("etcd's ") + what + " is too large");
  }
  json j = Parse(body);
  if (auto e = EtcdError(j)) return Unexpected(*e);
  if (!j.is_object()) return Unexpected(Corrupt(what));
  return j;
}

// etcd's own error bodies: {"error": "...", "code": N, "message": "..."}.
std::optional<Error> EtcdError(const json& body) {
  if (!body.is_object() || !body.contains("error")) return std::nullopt;
  std::string message;
  auto m = body.find("message");
  if (m != body.end() && m->is_string()) message = m->get<std::string>();
  auto e = body.find("error");
  if (message.empty() && e->is_string()) message = e->get<std::string>();
  if (message.empty() && e->is_object()) {
    auto inner = e->find("message");
    if (inner != e->end() && inner->is_string())
      message = inner->get<std::string>();
  }
  int code = 0;
  auto c = body.find("code");
  if (c != body.end() && c->is_number_integer()) code = c->get<int>();
  // gRPC codes: 16 unauthenticated, 7 permission denied, 3 invalid
  // argument (etcd's "too many operations", "request is too large"), 11
  // out of range (a compacted revision); the rest (unavailable, deadline,
  // no leader) may pass on another member or later.
  Errc errc = Errc::kUnavailable;
  if (code == 16 || code == 7) errc = Errc::kPermissionDenied;
  if (code == 3) errc = Errc::kInvalidArgument;
  if (code == 11) errc = Errc::kNeedResync;
  if (message.find("user name is empty") != std::string::npos ||
      message.find("invalid auth token") != std::string::npos) {
    errc = Errc::kPermissionDenied;
    message +=
        " (etcd has authentication on: give --etcd-user and "
        "--etcd-password-file)";
  }
  return Error{make_error_code(errc),
               "etcd: " + message.substr(0, 512) +
                   (code ? " (code " + std::to_string(code) + ")" : "")};
}

}  // namespace

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> FromBase64(std::string_view text) {
  if (text.size() % 4 != 0) return Unexpected(Corrupt("base64"));
  if (text.empty()) return std::string();
  std::string out(text.size() / 4 * 3, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (n < 0) return Unexpected(Corrupt("base64"));
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string RangeRequest(std::string_view key, std::string_view range_end,
                         int64_t revision, int64_t limit) {
  json body = {{"key", Base64(key)}, {"range_end", Base64(range_end)}};
  if (revision > 0) body["revision"] = std::to_string(revision);
  if (limit > 0) body["limit"] = std::to_string(limit);
  return body.dump();
}

Result<RangeResponse> ParseRangeResponse(std::string_view body) {
  DFS_ASSIGN_OR_RETURN(const json j,
                       ParseAnswer(body, kMaxBodyBytes, "range answer"));
  RangeResponse r;
  DFS_ASSIGN_OR_RETURN(r.revision, HeaderRevision(j));
  r.more = Bool(j, "more");
  auto kvs = j.find("kvs");
  if (kvs != j.end()) {
    if (!kvs->is_array()) return Unexpected(Corrupt("a list of keys"));
    if (kvs->size() > kMaxRecords) {
      return Fail(Errc::kLimitExceeded, "etcd sent over " +
                                            std::to_string(kMaxRecords) +
                                            " keys in one answer");
    }
    r.records.reserve(kvs->size());
    for (const json& kv : *kvs) {
      DFS_ASSIGN_OR_RETURN(EtcdRecord rec, Record(kv));
      r.records.push_back(std::move(rec));
    }
  }
  if (r.revision <= 0) return Unexpected(Corrupt("a range answer (revision)"));
  return r;
}

std::string ChangeTxnRequest(std::string_view marker,
                             int64_t marker_mod_revision,
                             std::string_view marker_value,
                             std::string_view receipt_key, int64_t lease,
                             const RecordChanges& changes) {
  json compare = json::array();
  if (marker_mod_revision > 0) {
    compare.push_back({{"key", Base64(marker)},
                       {"target", "MOD"},
                       {"result", "EQUAL"},
                       {"mod_revision", std::to_string(marker_mod_revision)}});
  } else {
    compare.push_back({{"key", Base64(marker)},
                       {"target", "VERSION"},
                       {"result", "EQUAL"},
                       {"version", "0"}});
  }
  json success = json::array();
  success.push_back(
      {{"request_put",
        {{"key", Base64(marker)}, {"value", Base64(marker_value)}}}});
  success.push_back({{"request_put",
                      {{"key", Base64(receipt_key)},
                       {"value", Base64(marker_value)},
                       {"lease", std::to_string(lease)}}}});
  for (const auto& kv : changes.puts) {
    success.push_back(
        {{"request_put",
          {{"key", Base64(kv.key)}, {"value", Base64(kv.value)}}}});
  }
  for (const auto& key : changes.deletes) {
    success.push_back({{"request_delete_range", {{"key", Base64(key)}}}});
  }
  return json{{"compare", compare}, {"success", success}}.dump();
}

std::string PutTxnRequest(const std::vector<KeyValue>& puts) {
  json success = json::array();
  for (const auto& kv : puts) {
    success.push_back(
        {{"request_put",
          {{"key", Base64(kv.key)}, {"value", Base64(kv.value)}}}});
  }
  return json{{"success", success}}.dump();
}

Result<TxnResponse> ParseTxnResponse(std::string_view body) {
  DFS_ASSIGN_OR_RETURN(const json j,
                       ParseAnswer(body, kMaxBodyBytes, "txn answer"));
  TxnResponse r;
  r.succeeded = Bool(j, "succeeded");
  DFS_ASSIGN_OR_RETURN(r.revision, HeaderRevision(j));
  if (r.revision <= 0) return Unexpected(Corrupt("a txn answer (revision)"));
  return r;
}

std::string LeaseGrantRequest(int64_t ttl_seconds) {
  return json{{"TTL", std::to_string(ttl_seconds)}}.dump();
}

Result<int64_t> ParseLeaseGrantResponse(std::string_view body) {
  DFS_ASSIGN_OR_RETURN(const json j, ParseAnswer(body, 65536, "lease"));
  DFS_ASSIGN_OR_RETURN(int64_t id, Int64(j, "ID"));
  if (id == 0) return Unexpected(Corrupt("a lease (no ID)"));
  return id;
}

std::string AuthenticateRequest(std::string_view name,
                                std::string_view password) {
  return json{{"name", name}, {"password", password}}.dump();
}

Result<std::string> ParseAuthenticateResponse(std::string_view body) {
  if (body.size() > 65536) {
    return Fail(Errc::kLimitExceeded, "etcd's auth answer is too large");
  }
  const json j = Parse(body);
  if (auto e = EtcdError(j)) {
    return Fail(Errc::kPermissionDenied, e->context);
  }
  auto token = j.is_object() ? j.find("token") : j.end();
  if (!j.is_object() || token == j.end() || !token->is_string() ||
      token->get_ref<const std::string&>().empty() ||
      token->get_ref<const std::string&>().size() > 4096) {
    return Unexpected(Corrupt("an auth token"));
  }
  return token->get<std::string>();
}

std::string WatchRequest(std::string_view key, std::string_view range_end,
                         int64_t start_revision) {
  json create = {{"key", Base64(key)}, {"range_end", Base64(range_end)}};
  if (start_revision > 0)
    create["start_revision"] = std::to_string(start_revision);
  return json{{"create_request", create}}.dump();
}

Result<std::vector<WatchMessage>> WatchStream::Feed(std::string_view bytes) {
  pending_.append(bytes);
  std::vector<WatchMessage> out;
  size_t start = 0;
  for (;;) {
    const size_t end = pending_.find('\n', start);
    if (end == std::string::npos) break;
    std::string_view line(pending_.data() + start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    const json j = Parse(line);
    if (auto e = EtcdError(j)) return Unexpected(*e);
    auto result = j.is_object() ? j.find("result") : j.end();
    if (!j.is_object() || result == j.end() || !result->is_object()) {
      return Unexpected(Corrupt("a watch message"));
    }
    WatchMessage m;
    DFS_ASSIGN_OR_RETURN(m.revision, HeaderRevision(*result));
    m.created = Bool(*result, "created");
    m.canceled = Bool(*result, "canceled");
    DFS_ASSIGN_OR_RETURN(m.compact_revision,
                         Int64(*result, "compact_revision"));
    auto reason = result->find("cancel_reason");
    if (reason != result->end() && reason->is_string())
      m.cancel_reason = reason->get<std::string>().substr(0, 512);
    auto events = result->find("events");
    if (events != result->end()) {
      if (!events->is_array() || events->size() > kMaxRecords) {
        return Unexpected(Corrupt("a list of watch events"));
      }
      for (const json& e : *events) {
        if (!e.is_object()) return Unexpected(Corrupt("a watch event"));
        auto kv = e.find("kv");
        if (kv == e.end()) return Unexpected(Corrupt("a watch event (kv)"));
        DFS_ASSIGN_OR_RETURN(EtcdRecord r, Record(*kv));
        auto type = e.find("type");
        if (type != e.end()) {
          if (!type->is_string()) return Unexpected(Corrupt("an event type"));
          const auto& t = type->get_ref<const std::string&>();
          if (t == "DELETE") {
            r.deleted = true;
          } else if (t != "PUT") {
            return Unexpected(Corrupt("an event type"));
          }
        }
        m.events.push_back(std::move(r));
      }
    }
    out.push_back(std::move(m));
  }
  pending_.erase(0, start);
  if (pending_.size() > kMaxBodyBytes) {
    return Fail(Errc::kLimitExceeded, "a watch message from etcd over " +
                                          std::to_string(kMaxBodyBytes) +
                                          " bytes");
  }
  return out;
}

std::string DescribeErrorBody(std::string_view body) {
  const json j = Parse(body.substr(0, 65536));
  if (auto e = EtcdError(j)) return e->context;
  std::string head(body.substr(0, 200));
  for (char& c : head) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return head;
}

}  // namespace dfs::domain
