#include "dfs/referral_net/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <random>
#include <thread>
#include <variant>

#include "connection.h"
#include "coroutines.h"
#include "dfs/common/clock.h"
#include "dfs/common/cores.h"
#include "dfs/common/error.h"
#include "dfs/ns/path.h"
#include "dfs/ns/store.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/health.h"
#include "dfs/referral/limits.h"
#include "dfs/referral/msdfs.h"
#include "dfs/referral/namespace_copy.h"
#include "dfs/referral/request_handler.h"
#include "dfs/referral/resolver.h"
#include "dfs/referral/session.h"
#include "dfs/referral/status_page.h"
#include "dfsrd_poller.h"
#include "follower.h"
#include "listener.h"
#include "metrics.h"
#include "metrics_endpoint.h"
#include "msdfs_dir.h"
#include "prober.h"
#include "refresher.h"
#include "serving_state.h"

namespace dfs::referral_net {

using SteadyClock = std::chrono::steady_clock;

using referral::kStatusInvalidParameter;

Result<tcp::endpoint> ParseEndpoint(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == text.npos) {
    return Fail(Errc::kInvalidArgument,
                "'" + std::string(text) + "' is not HOST:PORT");
  }
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return Fail(Errc::kInvalidArgument,
                "'" + std::string(port_text) + "' is not a port");
  }
  boost::system::error_code bec;
  auto address = asio::ip::make_address(host, bec);
  if (bec) {
    return Fail(Errc::kInvalidArgument,
                "'" + host + "' is not a numeric IP address");
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

// What dfsd is made of: the listener accepts on the io thread and hands
// each connection to a worker (round robin): a thread with its own
// io_context, resolver and counters that serves its connections
// (connection.h) and answers their referrals from the serving state under
// its read lock. On the io thread, the refresher keeps the index current
// with the store, the follower keeps a replica's store current with its
// primary, the prober keeps the health table (both under the state's
// write lock) and the metrics endpoint shows the counters. Admin commands
// and whole-namespace loads run on admin_pool_, snapshots on
// replication_pool_.
class Server::Impl {
  class Worker;

 public:
  Impl(asio::io_context& io, ServerOptions options)
      : io_(io),
        options_(std::move(options)),
        listener_(io, metrics_),
        metrics_endpoint_(
            io,
            [this] {
              return metrics_.Render() +
                     (source_ ? source_->MetricsText() : "");
            },
            [this](std::string_view request) {
              return referral::StatusHttpResponse(request, status_sources_,
                                                  metrics_endpoint_.loopback());
            }),
        prober_(io, options_.probe, state_, metrics_,
                [this] { return state_.index.TargetServers(); }),
        dfsrd_poller_(io, options_.dfsrd_members, options_.dfsrd_poll_interval,
                      std::min<std::chrono::milliseconds>(
                          options_.dfsrd_poll_interval, kDfsrdStatusTimeout)) {
    session_keys_.admin_key = options_.admin_key;
    session_keys_.replica_key = options_.replica_key;
    session_keys_.admin_commands_enabled =
        static_cast<bool>(options_.admin_executor);
    // The status page's readings, taken on the io thread (the index's only
    // writer: no lock needed to read it there).
    status_sources_.namespace_json =
        [this](const referral::NamespacePage& page) {
          return referral::NamespaceJson(state_.index, state_.sites,
                                         state_.health, page);
        };
    status_sources_.health_json = [this] {
      return referral::HealthJson(state_.health);
    };
    status_sources_.referrals_json = [this] {
      std::map<std::string, uint64_t> counts;
      for (const WorkerCounters& w : metrics_.workers)
        w.paths.MergeInto(counts);
      return referral::ReferralsJson(counts, UnixMillis());
    };
    status_sources_.replication_json = [this] { return dfsrd_poller_.Json(); };
    connection_settings_ = ConnectionSettings{
        .idle_timeout = options_.idle_timeout,
        .snapshot_write_timeout = options_.replica_timeout,
        .keys = &session_keys_,
        .throttle = &auth_throttle_,
    };
  }

  Status Start() {
    ns::StoreOptions store_options;
    tcp::endpoint primary;
    if (!options_.replica_of.empty()) {
      if (session_keys_.For(referral::SessionPurpose::kReplication).empty()) {
        return Fail(Errc::kInvalidArgument,
                    "a replica needs the key its primary proves "
                    "(--replica-key FILE, or --admin-key FILE)");
      }
      DFS_ASSIGN_OR_RETURN(primary, ParseEndpoint(options_.replica_of));
      store_options.create_if_missing = true;
    }
    if (options_.start_source) store_options.create_if_missing = true;
    DFS_ASSIGN_OR_RETURN(store_,
                         ns::Store::Open(options_.store_dir, store_options));
    if (!options_.replica_of.empty()) {
      DFS_RETURN_IF_ERROR(store_->MarkReplicaOf(options_.replica_of));
    }
    if (options_.start_source) {
      DFS_RETURN_IF_ERROR(store_->MarkReplicaOf(options_.source_name));
    }
    DFS_RETURN_IF_ERROR(store_->LoadInto(state_.index));
    DFS_ASSIGN_OR_RETURN(state_.sites,
                         referral::SiteTable::FromNamespace(state_.index));
    metrics_.namespace_serial = state_.index.Serial();

    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    const referral::ConnectionLimits limits = referral::DeriveConnectionLimits(
        options_.max_connections, options_.max_connections_per_address,
        nofile.rlim_cur);
    if (limits.capped) {
      spdlog::warn(
          "DFS1006 --max-connections {} is more than the {} descriptors this "
          "process may open allow: using {}",
          options_.max_connections, nofile.rlim_cur, limits.total);
    }
    DFS_RETURN_IF_ERROR(listener_.Listen(options_.listen, limits));
    if (!options_.metrics_listen.empty()) {
      DFS_RETURN_IF_ERROR(metrics_endpoint_.Listen(options_.metrics_listen));
    }
    StartWorkers();
    spdlog::info(
        "DFS1000 serving {} roots, {} folders (serial {}) on {} with {} "
        "referral threads; at most {} connections, {} per address",
        state_.index.root_count(), state_.index.folder_count(),
        state_.index.Serial(), listener_.address(), workers_.size(),
        limits.total, limits.per_address);

    listener_.Start(
        [this]() -> asio::io_context& {
          return workers_[next_worker_++ % workers_.size()]->io();
        },
        [this](tcp::socket socket, Listener::ConnectionSlot slot) {
          Worker& worker = WorkerOf(socket);
          asio::co_spawn(socket.get_executor(),
                         Serve(worker, std::move(socket), std::move(slot)),
                         LogErrors("connection"));
        });
    refresher_ = std::make_unique<StoreRefresher>(
        io_, *store_, state_, metrics_, admin_pool_, options_.refresh_interval,
        [this](uint64_t before) { NamespaceChanged(before); });
    refresher_->Start();
    prober_.Start();
    dfsrd_poller_.Start();
    if (!options_.replica_of.empty()) {
      follower_ = std::make_unique<NamespaceFollower>(
          io_, *store_,
          FollowerOptions{
              .primary = primary,
              .primary_name = options_.replica_of,
              .key = session_keys_.For(referral::SessionPurpose::kReplication),
              .timeout = options_.replica_timeout,
              .interval = options_.refresh_interval,
          });
      follower_->Start();
    }
    if (!options_.samba_root_dir.empty()) {
      prober_.OnHealthChange([this] { SyncSamba(); });
      SyncSamba();
    }
    if (options_.start_source) {
      source_ =
          options_.start_source(io_, *store_, [this] { refresher_->Poke(); });
    }
    if (metrics_endpoint_.listening()) metrics_endpoint_.Start();
    return Status::Ok();
  }

  uint16_t port() const { return listener_.port(); }
  uint16_t metrics_port() const { return metrics_endpoint_.port(); }

  void Stop() {
    listener_.Stop();
    metrics_endpoint_.Stop();
    prober_.Stop();
    dfsrd_poller_.Stop();
    if (refresher_) refresher_->Stop();
    if (follower_) follower_->Stop();
    if (source_) source_->Stop();
  }

 private:
  // A thread answering referrals: its own io_context (the connections the
  // listener gave it), resolver (random engine and scratch are per thread)
  // and counters.
  class Worker final : public ConnectionHost {
   public:
    Worker(Impl& server, WorkerCounters& counters, uint64_t seed)
        : server_(server),
          counters_(counters),
          resolver_(
              server.state_.index, server.state_.sites,
              [&state = server.state_](const ns::Target& t) {
                return state.health.Healthy(t);
              },
              seed) {}
    ~Worker() override {
      work_.reset();
      io_.stop();
      if (thread_.joinable()) thread_.join();
    }
    void Start() {
      thread_ = std::thread([this] {
        try {
          io_.run();
        } catch (const std::exception& e) {
          spdlog::critical("DFS1099 a referral thread failed: {}", e.what());
          std::abort();
        }
      });
    }
    asio::io_context& io() { return io_; }
    WorkerCounters& counters() { return counters_; }

    // The pure handler answers under the state's read lock; this counts
    // what it did.
    std::string Answer(const referral::Frame& frame,
                       const referral::Requester& client) override {
      const auto start = SteadyClock::now();
      referral::HandledRequest handled;
      {
        auto reading = server_.state_.Read();
        handled = handler_.Handle(frame, client);
      }
      switch (handled.outcome) {
        case referral::RequestOutcome::kOk:
          counters_.referrals_ok.Add();
          counters_.ObserveLatency(SteadyClock::now() - start);
          // Per root or folder for the status page, in the client's
          // spelling (folded when read, off this path).
          counters_.paths.Add(handled.dfs_path);
          break;
        case referral::RequestOutcome::kNotFound:
          counters_.referrals_not_found.Add();
          break;
        case referral::RequestOutcome::kBadRequest:
          counters_.referrals_bad_request.Add();
          break;
        case referral::RequestOutcome::kUnsupported:
          counters_.referrals_unsupported.Add();
          break;
      }
      return std::move(handled.reply);
    }

    awaitable<Reply> Run(const referral::SessionRequest& request,
                         referral::ServerSession& session,
                         const std::string& peer) override {
      return server_.Run(request, session, peer);
    }

   private:
    Impl& server_;
    WorkerCounters& counters_;
    referral::Resolver resolver_;
    referral::RequestHandler handler_{resolver_};
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_ =
        asio::make_work_guard(io_);
    std::thread thread_;
  };

  void StartWorkers() {
    size_t threads = options_.threads;
    if (threads == 0) threads = CoresAvailable();
    std::mt19937_64 seeds(options_.seed != 0 ? options_.seed
                                             : std::random_device{}());
    for (size_t i = 0; i < threads; ++i) {
      metrics_.workers.emplace_back();
      workers_.push_back(
          std::make_unique<Worker>(*this, metrics_.workers.back(), seeds()));
    }
    for (auto& worker : workers_) worker->Start();
  }

  Worker& WorkerOf(tcp::socket& socket) {
    for (auto& worker : workers_) {
      if (&worker->io() ==
          &asio::query(socket.get_executor(), asio::execution::context)) {
        return *worker;
      }
    }
    return *workers_.front();  // unreachable: sockets are made on a worker
  }

  // ------------------------------------------------------------ connections

  static referral::Requester ClientOf(const tcp::socket& socket) {
    referral::Requester client;
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return client;
    auto address = remote.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    if (auto ip = referral::IpAddress::Parse(address.to_string())) {
      client.address = *ip;
    }
    return client;
  }

  // Runs on the worker's thread; the slot is given back when it ends.
  awaitable<void> Serve(Worker& worker, tcp::socket socket,
                        Listener::ConnectionSlot slot) {
    const referral::Requester client = ClientOf(socket);
    auto connection =
        std::make_shared<Connection<tcp::socket, asio::steady_timer>>(
            std::move(socket), client, slot.address(), worker,
            connection_settings_, worker.counters());
    co_await connection->Serve();
  }

  // ------------------------------------------------------------ requests

  // Runs a request an authenticated session passed on and seals its
  // answer (on the connection's worker thread).
  awaitable<Reply> Run(const referral::SessionRequest& request,
                       referral::ServerSession& session,
                       const std::string& peer) {
    if (const auto* command = std::get_if<referral::AdminCommand>(&request)) {
      std::string line;
      for (const auto& a : command->args)
        line += (line.empty() ? "" : " ") + a.substr(0, 200);
      spdlog::info("DFS1021 remote admin from {}: {}", peer, line);
      // Commands may take seconds (a large import): run them off the
      // threads that answer referrals.
      referral::AdminResult result = co_await asio::co_spawn(
          admin_pool_, RunAdminCommand(*command), use_awaitable);
      co_return Reply{session.Seal(referral::FrameType::kAdminResult,
                                   referral::EncodeAdminResult(result)),
                      std::nullopt};
    }
    if (const auto* changes = std::get_if<referral::ChangesRequest>(&request)) {
      auto [type, payload] = AnswerChanges(*changes);
      co_return Reply{session.Seal(type, payload), std::nullopt};
    }
    if (std::holds_alternative<referral::ContentFrame>(request)) {
      // dfsd holds no content key, so no session gets here; refuse anyway.
      co_return Reply{session.SealError(kStatusInvalidParameter,
                                        "not allowed in this session"),
                      std::nullopt};
    }
    // A snapshot.
    auto slot =
        SnapshotSlot::TryTake(snapshots_in_flight_, kMaxSnapshotsInFlight);
    if (!slot) {
      co_return Reply{
          session.SealError(kStatusInvalidParameter,
                            "busy: other snapshots are being sent; ask again "
                            "later"),
          std::nullopt};
    }
    // Built off the threads that answer referrals (0.5 s at 100,000
    // folders); the slot is held until it is sent.
    std::string bytes = co_await asio::co_spawn(
        replication_pool_, BuildSnapshot(&session), use_awaitable);
    co_return Reply{std::move(bytes), std::move(slot)};
  }

  // A member coroutine with a by-value parameter: the command lives in the
  // coroutine frame (a capturing lambda's captures would not outlive it).
  awaitable<referral::AdminResult> RunAdminCommand(
      referral::AdminCommand command) {
    co_return options_.admin_executor(command);
  }

  // A member coroutine (a capturing lambda's captures would not outlive
  // it). The connection waits for it, so `session` stays valid.
  awaitable<std::string> BuildSnapshot(referral::ServerSession* session) {
    auto snapshot = store_->SnapshotEntry();
    if (!snapshot) {
      co_return session->SealError(kStatusInvalidParameter,
                                   snapshot.error().Message());
    }
    co_return session->Seal(referral::FrameType::kSnapshotReply,
                            ns::EncodeChangeEntry(*snapshot));
  }

  // The primary's side of replication: its change log, straight from the
  // store (a chained replica serves its own copy of the log the same way).
  std::pair<referral::FrameType, std::string> AnswerChanges(
      const referral::ChangesRequest& request) {
    auto error = [](const Error& e) {
      return std::pair{
          referral::FrameType::kError,
          referral::EncodeErrorPayload({kStatusInvalidParameter, e.Message()})};
    };
    referral::ChangesReply reply;
    auto serial = store_->Serial();
    if (!serial) return error(serial.error());
    reply.primary_serial = *serial;
    auto entries = store_->ChangesSince(request.since, request.max_entries);
    if (!entries) {
      if (entries.error().code != make_error_code(Errc::kNeedResync)) {
        return error(entries.error());
      }
      reply.resync_needed = true;
    } else {
      reply.entries = std::move(*entries);
    }
    return std::pair{referral::FrameType::kChangesReply,
                     referral::EncodeChangesReply(reply)};
  }

  // ------------------------------------------------------------ namespace

  // On the io thread, under the state's write lock (StoreRefresher).
  void NamespaceChanged(uint64_t before) {
    // Sites are few; rebuilding their table on every change is cheap.
    if (auto sites = referral::SiteTable::FromNamespace(state_.index))
      state_.sites = std::move(*sites);
    ++metrics_.refreshes;
    metrics_.namespace_serial = state_.index.Serial();
    // After the write lock is released: it writes files.
    if (!options_.samba_root_dir.empty())
      asio::post(io_, [this] { SyncSamba(); });
    spdlog::info(
        "DFS1003 namespace changed: serial {} -> {} ({} roots, {} folders)",
        before, state_.index.Serial(), state_.index.root_count(),
        state_.index.folder_count());
  }

  // Rewrites the Samba msdfs root's links that changed (io thread: the
  // index's only writer, so it reads without the lock).
  void SyncSamba() {
    if (options_.samba_root_dir.empty()) return;
    auto links = referral::MsdfsLinksFor(
        state_.index, options_.samba_namespace, state_.sites,
        [this](const ns::Target& t) { return state_.health.Healthy(t); });
    Result<MsdfsSync> synced =
        links ? SyncMsdfsDirectory(options_.samba_root_dir, links->links)
              : Result<MsdfsSync>(Unexpected(links.error()));
    if (!synced) {
      if (synced.error().Message() != samba_error_) {
        samba_error_ = synced.error().Message();
        spdlog::error("DFS1041 cannot keep the Samba msdfs root {}: {}",
                      options_.samba_root_dir.string(), samba_error_);
      }
      return;
    }
    samba_error_.clear();
    if (synced->written + synced->removed > 0) {
      spdlog::info(
          "DFS1040 Samba msdfs root {}: {} links written, {} removed, {} "
          "unchanged{}",
          options_.samba_root_dir.string(), synced->written, synced->removed,
          synced->unchanged,
          links->skipped.empty()
              ? std::string()
              : "; left out: " + links->skipped.front() +
                    (links->skipped.size() > 1
                         ? " and " + std::to_string(links->skipped.size() - 1) +
                               " more"
                         : ""));
    }
  }

  static constexpr size_t kMaxSnapshotsInFlight = 2;

  asio::io_context& io_;
  ServerOptions options_;
  Metrics metrics_;
  Listener listener_;
  MetricsEndpoint metrics_endpoint_;
  std::unique_ptr<ns::Store> store_;
  ServingState state_;
  referral::SessionKeys session_keys_;
  referral::AuthThrottle auth_throttle_;
  ConnectionSettings connection_settings_;
  Prober prober_;
  static constexpr std::chrono::milliseconds kDfsrdStatusTimeout{1000};
  DfsrdPoller dfsrd_poller_;
  std::unique_ptr<StoreRefresher> refresher_;
  std::unique_ptr<NamespaceFollower> follower_;
  std::unique_ptr<StoreSource> source_;
  std::string samba_error_;
  referral::StatusSources status_sources_;
  std::atomic<size_t> snapshots_in_flight_{0};
  size_t next_worker_ = 0;
  // Destroyed before the pools (their last jobs may post to a worker),
  // after everything a connection touches.
  std::vector<std::unique_ptr<Worker>> workers_;
  // Admin commands and whole-namespace loads run here.
  asio::thread_pool admin_pool_{1};
  // Snapshots for replicas are built here, never on a referral thread.
  asio::thread_pool replication_pool_{1};
};

Server::Server(asio::io_context& io, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
uint16_t Server::metrics_port() const { return impl_->metrics_port(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace dfs::referral_net
