#include "dfs/common/metrics_http.h"

namespace dfs {

bool HttpRequestReady(std::string_view request) {
  return request.find("\r\n\r\n") != std::string_view::npos ||
         request.size() >= kMaxHttpRequestBytes;
}

std::optional<HttpGet> ParseHttpGet(std::string_view request) {
  if (!request.starts_with("GET ")) return std::nullopt;
  std::string_view target = request.substr(4);
  target = target.substr(0, target.find_first_of(" \r\n"));
  HttpGet get;
  const size_t question = target.find('?');
  get.path = target.substr(0, question);
  if (question != std::string_view::npos) {
    get.query = target.substr(question + 1);
    get.has_query = true;
  }
  return get;
}

bool WantsMetrics(std::string_view request) {
  auto get = ParseHttpGet(request);
  return get &&
         (get->path == "/metrics" || (get->path == "/" && !get->has_query));
}

bool RequestsPath(std::string_view request, std::string_view path) {
  auto get = ParseHttpGet(request);
  return get && get->path == path;
}

std::string HttpResponse(int status, std::string_view reason,
                         std::string_view type, std::string_view extra_head,
                         std::string_view body) {
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " +
                         std::string(reason) +
                         "\r\nContent-Type: " + std::string(type) + "\r\n" +
                         std::string(extra_head) +
                         "Content-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n";
  response.append(body);
  return response;
}

std::string JsonHttpResponse(std::string_view json) {
  return HttpResponse(200, "OK", "application/json",
                      "Cache-Control: no-store\r\n", json);
}

std::string MetricsHttpResponse(std::string_view request,
                                std::string_view metrics) {
  if (!WantsMetrics(request)) {
    return HttpResponse(404, "Not Found", "text/plain", "",
                        "not found: try /metrics\n");
  }
  return HttpResponse(200, "OK", "text/plain; version=0.0.4", "", metrics);
}

}  // namespace dfs
