#include "dfs/domain_net/etcd_client.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <type_traits>

#include "dfs/common/coroutines.h"
#include "dfs/common/error.h"
#include "dfs/referral_net/auth.h"

namespace dfs::domain_net {

using namespace dfs::coroutines;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using SslStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

bool IsTls(std::string_view url) { return url.starts_with("https://"); }

Result<tcp::endpoint> EndpointOf(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == rest.npos) {
    return Fail(Errc::kInvalidArgument,
                "'" + std::string(url) + "' is not http[s]://IP:PORT");
  }
  std::string host(rest.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const std::string_view port_text = rest.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  boost::system::error_code bec;
  auto address = asio::ip::make_address(host, bec);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port == 0 || port > 65535 || bec) {
    return Fail(Errc::kInvalidArgument,
                "'" + std::string(url) +
                    "' is not http[s]://IP:PORT (numeric addresses only)");
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace

Result<std::vector<std::string>> ParseEndpoints(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view one = list.substr(0, comma);
    if (!one.empty()) {
      DFS_RETURN_IF_ERROR(EndpointOf(one));
      out.emplace_back(one);
    }
    if (comma == list.npos) break;
    list.remove_prefix(comma + 1);
  }
  if (out.empty()) {
    return Fail(Errc::kInvalidArgument,
                "no etcd endpoint: give --etcd http[s]://IP:PORT[,...]");
  }
  for (const auto& url : out) {
    if (IsTls(url) != IsTls(out.front())) {
      return Fail(Errc::kInvalidArgument,
                  "etcd endpoints mix http:// and https://: one cluster "
                  "speaks one of them");
    }
  }
  return out;
}

namespace {

// The TLS client context for https:// endpoints: TLS 1.2 or later, the
// member's certificate checked against the CA file (else the system's
// roots) and against the member's IP address; with a client certificate
// when etcd asks for one (--client-cert-auth).
Result<std::shared_ptr<ssl::context>> TlsContext(const EtcdTls& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds |
                       ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (files.ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(files.ca_file, ec);
  }
  if (ec) {
    return Fail(
        Errc::kInvalidArgument,
        "cannot use the etcd CA file '" + files.ca_file + "': " + ec.message());
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return Fail(Errc::kInvalidArgument,
                "an etcd client certificate needs both its certificate and "
                "its key file");
  }
  if (!files.cert_file.empty()) {
    context->use_certificate_chain_file(files.cert_file, ec);
    if (ec) {
      return Fail(Errc::kInvalidArgument,
                  "cannot use the etcd client certificate '" + files.cert_file +
                      "': " + ec.message());
    }
    // A private key others can read is refused, as every key file here.
    DFS_ASSIGN_OR_RETURN(std::string key,
                         referral_net::ReadOwnerOnlyFile(files.key_file));
    context->use_private_key(asio::buffer(key), ssl::context::pem, ec);
    if (ec) {
      return Fail(Errc::kInvalidArgument, "cannot use the etcd client key '" +
                                              files.key_file +
                                              "': " + ec.message());
    }
  }
  return context;
}

}  // namespace

class EtcdClient::Impl {
 public:
  Impl(asio::any_io_executor executor, EtcdOptions options,
       std::vector<tcp::endpoint> endpoints, std::shared_ptr<ssl::context> tls)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        endpoints_(std::move(endpoints)),
        tls_(std::move(tls)) {}

  // One POST to the current member, then to the others in turn. An answer
  // with an HTTP status other than 200 is returned as the body's error.
  // `resend`: whether the request may be sent again after it may have
  // reached a member (reads, leases: yes; a transaction: no, its outcome
  // is then unknown and the caller settles it).
  awaitable<Result<std::string>> Post(std::string path, std::string body,
                                      bool resend = true) {
    bool reauthenticated = false;
    Error last{make_error_code(Errc::kUnavailable), "no etcd member answered"};
    for (size_t tried = 0; tried < endpoints_.size(); ++tried) {
      if (!options_.user.empty() && token_.empty()) {
        auto token = co_await Authenticate();
        if (!token) {
          last = token.error();
          if (token.error().code == make_error_code(Errc::kPermissionDenied))
            co_return Unexpected(last);
          Rotate();
          continue;
        }
        token_ = *token;
      }
      bool sent = false;
      auto answer = co_await Exchange(endpoints_[current_], path, body,
                                      /*with_token=*/true, &sent);
      if (!answer) {
        last = answer.error();
        Rotate();
        if (sent && !resend) co_return Unexpected(last);
        continue;
      }
      if (answer->first == 200) co_return std::move(answer->second);
      Error error{make_error_code(Errc::kUnavailable),
                  domain::DescribeErrorBody(answer->second)};
      const bool token_refused =
          answer->first == 401 ||
          answer->second.find("invalid auth token") != std::string::npos;
      if (token_refused && !options_.user.empty() && !reauthenticated) {
        token_.clear();
        reauthenticated = true;
        --tried;  // the same member, with a fresh token
        continue;
      }
      // A member that is not part of a quorum answers 503-like errors:
      // another may do better.
      if (answer->first >= 500) {
        last = error;
        Rotate();
        if (!resend) co_return Unexpected(last);
        continue;
      }
      co_return Unexpected(error);
    }
    co_return Unexpected(last);
  }

  awaitable<Status> Watch(std::string key, std::string range_end,
                          int64_t start_revision, OnWatchMessage on_message) {
    if (!options_.user.empty() && token_.empty()) {
      auto token = co_await Authenticate();
      if (!token) co_return Unexpected(token.error());
      token_ = *token;
    }
    const tcp::endpoint endpoint = endpoints_[current_];
    cancelled_ = false;
    // CancelWatch reaches the connection through a weak pointer: nothing
    // here writes back into the client when the coroutine's frame goes.
    if (tls_) {
      auto owned = std::make_shared<SslStream>(executor_, *tls_);
      watch_stream_ = std::shared_ptr<beast::tcp_stream>(
          owned, &beast::get_lowest_layer(*owned));
      co_return co_await WatchOn(*owned, endpoint, std::move(key),
                                 std::move(range_end), start_revision,
                                 std::move(on_message));
    }
    auto owned = std::make_shared<beast::tcp_stream>(executor_);
    watch_stream_ = owned;
    co_return co_await WatchOn(*owned, endpoint, std::move(key),
                               std::move(range_end), start_revision,
                               std::move(on_message));
  }

  template <typename Stream>
  awaitable<Status> WatchOn(Stream& stream, tcp::endpoint endpoint,
                            std::string key, std::string range_end,
                            int64_t start_revision, OnWatchMessage on_message) {
    beast::tcp_stream& connection = beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    const char* step = co_await Open(stream, endpoint, ec);
    if (ec) {
      Rotate();
      co_return Fail(
          Errc::kUnavailable,
          "etcd at " + Describe(endpoint) + " (" + step + "): " + ec.message());
    }
    auto request = MakeRequest(
        "/v3/watch", domain::WatchRequest(key, range_end, start_revision));
    co_await http::async_write(stream, request,
                               redirect_error(use_awaitable, ec));
    if (ec) {
      Rotate();
      co_return Fail(Errc::kUnavailable,
                     "etcd at " + Describe(endpoint) + ": " + ec.message());
    }
    // The answer streams for as long as the watch lasts: no deadline on
    // reading it (the mirror checks etcd's health apart and cancels).
    connection.expires_never();
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    beast::flat_buffer buffer;
    co_await http::async_read_header(stream, buffer, parser,
                                     redirect_error(use_awaitable, ec));
    if (ec) {
      co_return Fail(Errc::kUnavailable, "etcd at " + Describe(endpoint) +
                                             " watch: " + ec.message());
    }
    if (parser.get().result_int() != 200) {
      co_return Fail(Errc::kUnavailable,
                     "etcd at " + Describe(endpoint) + " refused the watch (" +
                         std::to_string(parser.get().result_int()) + ")");
    }
    domain::WatchStream messages;
    std::array<char, 16384> chunk;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      co_await http::async_read_some(stream, buffer, parser,
                                     redirect_error(use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
      const size_t got = chunk.size() - parser.get().body().size;
      auto parsed = messages.Feed(std::string_view(chunk.data(), got));
      if (!parsed) co_return Unexpected(parsed.error());
      for (const auto& m : *parsed) {
        if (!on_message(m)) co_return Status::Ok();
        if (m.canceled) {
          co_return Fail(
              Errc::kUnavailable,
              "etcd cancelled the watch" + (m.cancel_reason.empty()
                                                ? std::string()
                                                : ": " + m.cancel_reason));
        }
      }
    }
    if (cancelled_) {
      cancelled_ = false;
      co_return Status::Ok();
    }
    co_return Fail(Errc::kUnavailable,
                   "etcd at " + Describe(endpoint) + " ended the watch" +
                       (ec ? ": " + ec.message() : std::string()));
  }

  void CancelWatch() {
    if (auto stream = watch_stream_.lock()) {
      cancelled_ = true;
      boost::system::error_code ignored;
      stream->socket().close(ignored);
    }
  }

  std::string current_endpoint() const { return options_.endpoints[current_]; }

 private:
  static std::string Describe(const tcp::endpoint& e) {
    return e.address().to_string() + ":" + std::to_string(e.port());
  }

  void Rotate() { current_ = (current_ + 1) % endpoints_.size(); }

  http::request<http::string_body> MakeRequest(const std::string& path,
                                               std::string body) const {
    http::request<http::string_body> request{http::verb::post, path, 11};
    request.set(http::field::host, Describe(endpoints_[current_]));
    request.set(http::field::content_type, "application/json");
    if (!token_.empty()) request.set(http::field::authorization, token_);
    request.body() = std::move(body);
    request.prepare_payload();
    return request;
  }

  awaitable<Result<std::string>> Authenticate() {
    auto answer = co_await Exchange(
        endpoints_[current_], "/v3/auth/authenticate",
        domain::AuthenticateRequest(options_.user, options_.password),
        /*with_token=*/false);
    if (!answer) co_return Unexpected(answer.error());
    co_return domain::ParseAuthenticateResponse(answer->second);
  }

  // Connects `stream` to `endpoint` within the request timeout (and, over
  // TLS, completes the handshake, the member's certificate checked against
  // its address). On failure `ec` is set and the step is returned.
  template <typename Stream>
  awaitable<const char*> Open(Stream& stream, const tcp::endpoint& endpoint,
                              boost::system::error_code& ec) {
    beast::tcp_stream& connection = beast::get_lowest_layer(stream);
    connection.expires_after(options_.request_timeout);
    co_await connection.async_connect(endpoint,
                                      redirect_error(use_awaitable, ec));
    if (ec) co_return "connect";
    if constexpr (std::is_same_v<Stream, SslStream>) {
      stream.set_verify_callback(
          ssl::host_name_verification(endpoint.address().to_string()));
      co_await stream.async_handshake(ssl::stream_base::client,
                                      redirect_error(use_awaitable, ec));
      if (ec) co_return "TLS handshake";
    }
    co_return "";
  }

  // One request and its answer (status, body) on a fresh connection,
  // within the request timeout.
  awaitable<Result<std::pair<int, std::string>>> Exchange(
      tcp::endpoint endpoint, std::string path, std::string body,
      bool with_token = true, bool* sent = nullptr) {
    if (tls_) {
      SslStream stream(executor_, *tls_);
      co_return co_await ExchangeOn(stream, endpoint, std::move(path),
                                    std::move(body), with_token, sent);
    }
    beast::tcp_stream stream(executor_);
    co_return co_await ExchangeOn(stream, endpoint, std::move(path),
                                  std::move(body), with_token, sent);
  }

  template <typename Stream>
  awaitable<Result<std::pair<int, std::string>>> ExchangeOn(
      Stream& stream, tcp::endpoint endpoint, std::string path,
      std::string body, bool with_token, bool* sent) {
    boost::system::error_code ec;
    auto failed = [&](const char* step) {
      return Fail(Errc::kUnavailable, "etcd at " + Describe(endpoint) + " (" +
                                          step + "): " + ec.message());
    };
    const char* step = co_await Open(stream, endpoint, ec);
    if (ec) co_return failed(step);
    auto request = MakeRequest(path, std::move(body));
    if (!with_token) request.erase(http::field::authorization);
    if (sent != nullptr) *sent = true;  // from here on it may arrive
    co_await http::async_write(stream, request,
                               redirect_error(use_awaitable, ec));
    if (ec) co_return failed("send");
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(domain::kMaxBodyBytes);
    co_await http::async_read(stream, buffer, parser,
                              redirect_error(use_awaitable, ec));
    if (ec) co_return failed("answer");
    // The answer is whole; the connection is not reused (a TLS close
    // notify would only cost a round trip).
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(
        tcp::socket::shutdown_both, ignored);
    co_return std::pair{static_cast<int>(parser.get().result_int()),
                        std::move(parser.get().body())};
  }

  asio::any_io_executor executor_;
  EtcdOptions options_;
  std::vector<tcp::endpoint> endpoints_;
  std::shared_ptr<ssl::context> tls_;  // null: http://
  size_t current_ = 0;
  std::string token_;
  std::weak_ptr<beast::tcp_stream> watch_stream_;
  bool cancelled_ = false;
};

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(
    asio::any_io_executor executor, EtcdOptions options) {
  if (options.endpoints.empty()) {
    return Fail(Errc::kInvalidArgument, "no etcd endpoint");
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& url : options.endpoints) {
    DFS_ASSIGN_OR_RETURN(tcp::endpoint e, EndpointOf(url));
    endpoints.push_back(e);
    if (IsTls(url) != IsTls(options.endpoints.front())) {
      return Fail(Errc::kInvalidArgument,
                  "etcd endpoints mix http:// and https://");
    }
  }
  std::shared_ptr<ssl::context> tls;
  if (IsTls(options.endpoints.front())) {
    DFS_ASSIGN_OR_RETURN(tls, TlsContext(options.tls));
  } else if (!options.tls.ca_file.empty() || !options.tls.cert_file.empty()) {
    return Fail(Errc::kInvalidArgument,
                "etcd TLS files given for http:// endpoints: give them as "
                "https://IP:PORT");
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(
      std::make_unique<Impl>(std::move(executor), std::move(options),
                             std::move(endpoints), std::move(tls))));
}

EtcdClient::EtcdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdClient::~EtcdClient() = default;

awaitable<Result<domain::RangeResponse>> EtcdClient::Range(
    std::string key, std::string range_end, int64_t revision, int64_t limit) {
  auto body = co_await impl_->Post(
      "/v3/kv/range", domain::RangeRequest(key, range_end, revision, limit));
  if (!body) co_return Unexpected(body.error());
  co_return domain::ParseRangeResponse(*body);
}

awaitable<Result<domain::RangeResponse>> EtcdClient::RangeAll(
    std::string key, std::string range_end) {
  constexpr int64_t kPage = 10000;
  domain::RangeResponse all;
  std::string from = key;
  for (;;) {
    auto page = co_await Range(from, range_end, all.revision, kPage);
    if (!page) co_return Unexpected(page.error());
    if (all.revision == 0) all.revision = page->revision;
    if (all.records.size() + page->records.size() > 20'000'000) {
      co_return Fail(Errc::kLimitExceeded,
                     "over 20,000,000 keys under the prefix");
    }
    for (auto& r : page->records) all.records.push_back(std::move(r));
    if (!page->more || page->records.empty()) break;
    // The next page starts just after the last key.
    from = all.records.back().key + std::string(1, '\0');
  }
  co_return all;
}

awaitable<Result<domain::TxnResponse>> EtcdClient::Txn(std::string body) {
  auto answer =
      co_await impl_->Post("/v3/kv/txn", std::move(body), /*resend=*/false);
  if (!answer) co_return Unexpected(answer.error());
  co_return domain::ParseTxnResponse(*answer);
}

awaitable<Status> EtcdClient::Watch(std::string key, std::string range_end,
                                    int64_t start_revision,
                                    OnWatchMessage on_message) {
  return impl_->Watch(std::move(key), std::move(range_end), start_revision,
                      std::move(on_message));
}

void EtcdClient::CancelWatch() { impl_->CancelWatch(); }

std::string EtcdClient::current_endpoint() const {
  return impl_->current_endpoint();
}

awaitable<Result<std::string>> EtcdClient::Post(std::string path,
                                                std::string body) {
  return impl_->Post(std::move(path), std::move(body));
}

}  // namespace dfs::domain_net
