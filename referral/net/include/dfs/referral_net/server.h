// dfsd's server: the Boost.Asio shell around the pure referral engine.
//
// The caller's io_context thread (the io thread) accepts connections and
// keeps the namespace index current from the store's change log every
// `refresh_interval`, runs the health probes and serves the metrics. The
// connections are served by `threads` referral workers, each a thread with
// its own io_context, handed connections round robin: a referral is a
// lookup of about a microsecond between two system calls, so the system
// calls are what more cores buy. Workers read the index under a
// readers-writer lock the io thread takes to change it.
//
// Per connection (connection.h): bytes go through a Framer (at most one
// 64 KiB frame buffered), each request is answered before the next is read
// (no unbounded write queue), a connection idle for `idle_timeout` is
// closed, and a malformed frame closes it. Thread-safety: call everything
// from the io thread, except Stop, which may be posted from anywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dfs/common/asio.h"
#include "dfs/common/result.h"
#include "dfs/referral/admin.h"
#include "dfs/referral/probe_check.h"

namespace dfs::ns {
class Store;
}

namespace dfs::referral_net {

// What keeps dfsd's store a mirror of a namespace kept elsewhere (a domain
// namespace in etcd: dfs::domain_net::EtcdMirror). Runs on the io thread.
class StoreSource {
 public:
  virtual ~StoreSource() = default;
  virtual void Stop() = 0;
  // Its samples for /metrics (Prometheus text).
  virtual std::string MetricsText() const = 0;
};

struct ProbeOptions {
  bool enabled = true;
  uint16_t default_port = 445;
  // Per target server (case-insensitive): where to probe it instead of
  // server:default_port, e.g. {"web1", "127.0.0.1:8081"}.
  std::map<std::string, std::string> address_of;
  // Whether to look up server names that are neither mapped above nor IP
  // literals. Off by default: a probe then never causes a DNS query, and an
  // unmapped name is simply not probed (taken as healthy; logged once).
  bool resolve_names = false;
  std::chrono::milliseconds interval{2000};
  // The whole probe (connect, and the check's exchange) within this.
  std::chrono::milliseconds timeout{1000};
  // What counts as up beyond an accepted connection (referral/probe_check.h).
  referral::ProbeCheck check = referral::ProbeCheck::kConnect;
};

struct ServerOptions {
  std::filesystem::path store_dir;
  std::string listen = "127.0.0.1:0";
  std::string metrics_listen;  // empty: no HTTP metrics endpoint
  std::chrono::milliseconds refresh_interval{200};
  std::chrono::milliseconds idle_timeout{60000};
  // Threads answering referrals (0: one per core this process may run
  // on: dfs/common/cores.h).
  size_t threads = 0;
  // Client connections at once (0: derived from RLIMIT_NOFILE, at most
  // 4096) and from one address (0: a quarter of that); see
  // referral/limits.h. A value above what the descriptor limit allows is
  // capped, with a warning.
  size_t max_connections = 0;
  size_t max_connections_per_address = 0;
  ProbeOptions probe;
  uint64_t seed = 0;  // 0: random
  // IP:PORT of the primary dfsd when this server is a replica: it keeps
  // its own store (created if missing, marked read-only) current from the
  // primary's change log, and serves referrals from it.
  std::string replica_of;
  std::chrono::milliseconds replica_timeout{10000};
  // Remote administration: off unless a key is set. A connection that
  // proves the key may run commands; `admin_executor` runs one (dfsutil's
  // argument list and an optional uploaded file) against this server's
  // store on a worker thread, so referrals keep flowing meanwhile.
  std::string admin_key;
  // Replication: a replica and its primary prove this key to each other
  // and MAC every frame (referral/FORMAT.md); without it the admin key is
  // used, and with neither this server serves no replica (a replica
  // cannot start without one).
  std::string replica_key;
  std::function<referral::AdminResult(const referral::AdminCommand&)>
      admin_executor;
  // Domain mode: the store (created if missing, marked a replica of
  // `source_name`, so local changes are refused) is kept by what
  // `start_source` starts once it is open; referrals are answered from the
  // store as always, so they go on while the source is unreachable. The
  // source calls `wrote` after each change it writes (the server reads it
  // at once instead of at the next refresh).
  std::string source_name;
  // A Samba msdfs root kept equal to the namespace root `samba_namespace`
  // (`\\host\root`): a link per folder in dfsd's order, rewritten within
  // a second of a namespace change or a probe's change (referral/msdfs.h).
  std::filesystem::path samba_root_dir;
  std::string samba_namespace;
  // dfsrd members whose GET /status (on their metrics address, IP:PORT)
  // the status page polls every `dfsrd_poll_interval` for its replication
  // section: an allow-list from the operator, never an address a client
  // named (referral/replication_status.h).
  std::vector<std::string> dfsrd_members;
  std::chrono::milliseconds dfsrd_poll_interval{2000};
  std::function<std::unique_ptr<StoreSource>(boost::asio::io_context& io,
                                             ns::Store& store,
                                             std::function<void()> wrote)>
      start_source;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options);
  ~Server();

  // Opens the store, loads the namespace and binds the listeners.
  // Errors: the store's, or kIo when an address cannot be bound.
  Status Start();
  uint16_t port() const;
  uint16_t metrics_port() const;
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "host:port" -> endpoint; only numeric addresses are accepted (no name
// lookups happen for listening, nor for probing unless resolve_names).
Result<boost::asio::ip::tcp::endpoint> ParseEndpoint(std::string_view text);

}  // namespace dfs::referral_net
