#include "dfs/common/metrics_http.h"

namespace dfs {

bool HttpRequestReady(std::string_view request) {
  return request.find("\r\n\r\n") != std::string_view::npos ||
         request.size() >= kMaxHttpRequestBytes;
}

bool WantsMetrics(std::string_view request) {
  for (std::string_view path : {"GET /metrics ", "GET /metrics?", "GET / "}) {
    if (request.substr(0, path.size()) == path) return true;
  }
  return false;
}

bool RequestsPath(std::string_view request, std::string_view path) {
  if (!request.starts_with("GET ")) return false;
  std::string_view target = request.substr(4);
  target = target.substr(0, target.find(' '));
  return target.substr(0, target.find('?')) == path;
}

namespace {
// A whole 200 response; `extra_head`: more header lines, each ending CRLF.
std::string Ok(std::string_view type, std::string_view extra_head,
               std::string_view body) {
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: " + std::string(type) + "\r\n" +
      std::string(extra_head) +
      "Content-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  response.append(body);
  return response;
}
}  // namespace

std::string JsonHttpResponse(std::string_view json) {
  return Ok("application/json", "Cache-Control: no-store\r\n", json);
}

std::string MetricsHttpResponse(std::string_view request,
                                std::string_view metrics) {
  if (!WantsMetrics(request)) {
    return "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
           "Content-Length: 24\r\nConnection: close\r\n\r\n"
           "not found: try /metrics\n";
  }
  return Ok("text/plain; version=0.0.4", "", metrics);
}

}  // namespace dfs
