// A client of etcd's v3 HTTP/JSON gateway over Boost.Beast: range reads,
// conditional transactions and watches against any member of a cluster.
//
// Each request goes to the member that answered last; when it cannot be
// reached or does not answer within `request_timeout`, the next member is
// tried (each once per request), so a stopped or partitioned member costs
// one timeout, not an outage. Over https:// every exchange is TLS (1.2 or
// later), the member's certificate checked against the CA and the member's
// IP address, with a client certificate where etcd asks for one. With a
// user name, the client authenticates
// (POST /v3/auth/authenticate) and sends the token with every request,
// authenticating again when etcd says the token expired.
//
// A request whose connection fails after it was sent has an unknown
// outcome; Txn reports that as kUnavailable and the caller decides (dfsutil
// reads again and looks for its change: etcd_admin.h).
//
// Thread-safety: one client belongs to one executor (strand-free: call it
// from one thread at a time).
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dfs/common/asio.h"
#include "dfs/common/result.h"
#include "dfs/domain/etcd_json.h"

namespace dfs::domain_net {

// TLS to etcd (https:// endpoints): PEM files.
struct EtcdTls {
  std::string ca_file;  // the CA that signed the members' certificates
                        // (empty: the system's roots)
  // A client certificate and its owner-only key, for etcd's
  // --client-cert-auth (both or neither).
  std::string cert_file, key_file;
};

struct EtcdOptions {
  // http://IP:PORT or https://IP:PORT of each member, all one scheme
  // (numeric addresses: no name lookups; a member's certificate must name
  // its IP address).
  std::vector<std::string> endpoints;
  EtcdTls tls;
  std::string user;      // empty: no authentication
  std::string password;  // with `user`
  std::chrono::milliseconds request_timeout{2000};
};

// "http[s]://IP:PORT,..." -> the list. Errors: kInvalidArgument (a bad
// address, or http:// and https:// mixed).
Result<std::vector<std::string>> ParseEndpoints(std::string_view list);

class EtcdClient {
 public:
  // Errors: kInvalidArgument (no endpoint, one that is not
  // http[s]://IP:PORT, TLS files that cannot be read or a key others can
  // read, TLS files with http:// endpoints).
  static Result<std::unique_ptr<EtcdClient>> Create(
      boost::asio::any_io_executor executor, EtcdOptions options);
  ~EtcdClient();

  // Every key in [key, range_end) at one revision, read in pages (all
  // pages at the first page's revision).
  boost::asio::awaitable<Result<domain::RangeResponse>> RangeAll(
      std::string key, std::string range_end);
  boost::asio::awaitable<Result<domain::RangeResponse>> Range(
      std::string key, std::string range_end, int64_t revision, int64_t limit);
  boost::asio::awaitable<Result<domain::TxnResponse>> Txn(std::string body);
  // Any gateway call: the answer's body (HTTP 200), else etcd's error.
  boost::asio::awaitable<Result<std::string>> Post(std::string path,
                                                   std::string body);

  // Watches [key, range_end) from `start_revision`, calling `on_message`
  // for each message until it returns false, the watch is cancelled by
  // etcd, the connection ends, or Cancel() is called. Returns why it
  // ended (ok: on_message said stop or Cancel).
  using OnWatchMessage = std::function<bool(const domain::WatchMessage&)>;
  boost::asio::awaitable<Status> Watch(std::string key, std::string range_end,
                                       int64_t start_revision,
                                       OnWatchMessage on_message);
  // Ends a running Watch (from the client's executor).
  void CancelWatch();

  // The member that answered last ("http://IP:PORT").
  std::string current_endpoint() const;

  class Impl;

 private:
  explicit EtcdClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs `task` to completion on a private io_context (for blocking callers
// such as dfsutil).
// (T need not be default-constructible; an exception the task throws is
// rethrown here.)
template <typename T>
T RunBlocking(
    std::function<boost::asio::awaitable<T>(boost::asio::any_io_executor)>
        task) {
  boost::asio::io_context io(1);
  std::optional<T> result;
  std::exception_ptr failure;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        result.emplace(co_await task(io.get_executor()));
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

}  // namespace dfs::domain_net
