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

std::string JsonHttpResponse(std::string_view json) {
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      "Cache-Control: no-store\r\nContent-Length: " +
      std::to_string(json.size()) + "\r\nConnection: close\r\n\r\n";
  response.append(json);
  return response;
}

std::string MetricsHttpResponse(std::string_view request,
                                std::string_view metrics) {
  if (!WantsMetrics(request)) {
    return "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
           "Content-Length: 24\r\nConnection: close\r\n\r\n"
           "not found: try /metrics\n";
  }
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
      "Content-Length: " +
      std::to_string(metrics.size()) + "\r\nConnection: close\r\n\r\n";
  response.append(metrics);
  return response;
}

}  // namespace dfs
