// The HTTP side of a Prometheus endpoint, without sockets: when a request
// head is complete, and the whole response to it. dfsd (Asio) and
// dfsclient (a plain thread) serve their /metrics through these.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dfs {

// A request head larger than this is answered as it stands (404).
inline constexpr size_t kMaxHttpRequestBytes = 8 * 1024;

// Whether `request` (the bytes read so far) is ready to be answered: its
// head ended, or it reached kMaxHttpRequestBytes.
bool HttpRequestReady(std::string_view request);

// The whole response: `GET /metrics` (or `GET /`) answers `metrics` as
// Prometheus text; anything else is 404.
std::string MetricsHttpResponse(std::string_view request,
                                std::string_view metrics);
// A GET request line, `GET <path>[?<query>] ...`, split (views into the
// request); nothing for any other method. Every route here reads it so.
struct HttpGet {
  std::string_view path, query;
  bool has_query = false;
};
std::optional<HttpGet> ParseHttpGet(std::string_view request);
// Whether `request` is `GET <path>` (with or without a query).
bool RequestsPath(std::string_view request, std::string_view path);
// A whole response (`Connection: close`); `extra_head`: more header lines,
// each ending in CRLF.
std::string HttpResponse(int status, std::string_view reason,
                         std::string_view type, std::string_view extra_head,
                         std::string_view body);
// A whole 200 response carrying `json` (no caching: it is a reading).
std::string JsonHttpResponse(std::string_view json);
// Whether `request` asks for the metrics (so the caller renders them only
// then).
bool WantsMetrics(std::string_view request);

}  // namespace dfs
