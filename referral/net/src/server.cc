#include "dfs/referral_net/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <charconv>
#include <random>
#include <variant>

#include "coroutines.h"
#include "dfs/common/error.h"
#include "dfs/ns/path.h"
#include "dfs/ns/store.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/health.h"
#include "dfs/referral/limits.h"
#include "dfs/referral/namespace_copy.h"
#include "dfs/referral/request_handler.h"
#include "dfs/referral/resolver.h"
#include "dfs/referral/session.h"
#include "follower.h"
#include "listener.h"
#include "metrics.h"
#include "metrics_endpoint.h"
#include "prober.h"
#include "refresher.h"

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

// What dfsd is made of: the listener hands each connection to Serve, which
// moves frames between the socket and the pure request handler (referrals)
// or the connection's ServerSession (remote admin, replication), and runs
// the typed requests a session passes on; the refresher keeps the index
// current with the store, the follower keeps a replica's store current
// with its primary, the prober keeps the health table, and the metrics
// endpoint shows the counters. Everything runs on the io thread except
// admin commands and whole-namespace loads (admin_pool_) and snapshots
// (replication_pool_).
class Server::Impl {
 public:
  Impl(asio::io_context& io, ServerOptions options)
      : io_(io),
        options_(std::move(options)),
        listener_(io, metrics_),
        metrics_endpoint_(io, [this] { return metrics_.Render(); }),
        resolver_(
            index_, sites_,
            [this](const ns::Target& t) { return health_.Healthy(t); },
            options_.seed != 0 ? options_.seed : std::random_device{}()),
        prober_(io, options_.probe, health_, metrics_,
                [this] { return index_.TargetServers(); }) {
    session_keys_.admin_key = options_.admin_key;
    session_keys_.replica_key = options_.replica_key;
    session_keys_.admin_commands_enabled =
        static_cast<bool>(options_.admin_executor);
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
    DFS_ASSIGN_OR_RETURN(store_,
                         ns::Store::Open(options_.store_dir, store_options));
    if (!options_.replica_of.empty()) {
      DFS_RETURN_IF_ERROR(store_->MarkReplicaOf(options_.replica_of));
    }
    DFS_RETURN_IF_ERROR(store_->LoadInto(index_));
    DFS_ASSIGN_OR_RETURN(sites_, referral::SiteTable::FromNamespace(index_));
    metrics_.namespace_serial = index_.Serial();

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
    spdlog::info(
        "DFS1000 serving {} roots, {} folders (serial {}) on {}; at most {} "
        "connections, {} per address",
        index_.root_count(), index_.folder_count(), index_.Serial(),
        listener_.address(), limits.total, limits.per_address);

    listener_.Start([this](tcp::socket socket, Listener::ConnectionSlot slot) {
      asio::co_spawn(io_, Serve(std::move(socket), std::move(slot)),
                     LogErrors("connection"));
    });
    refresher_ = std::make_unique<StoreRefresher>(
        io_, *store_, index_, metrics_, admin_pool_, options_.refresh_interval,
        [this](uint64_t before) { NamespaceChanged(before); });
    refresher_->Start();
    prober_.Start();
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
    if (metrics_endpoint_.listening()) metrics_endpoint_.Start();
    return Status::Ok();
  }

  uint16_t port() const { return listener_.port(); }
  uint16_t metrics_port() const { return metrics_endpoint_.port(); }

  void Stop() {
    listener_.Stop();
    metrics_endpoint_.Stop();
    prober_.Stop();
    if (refresher_) refresher_->Stop();
    if (follower_) follower_->Stop();
  }

 private:
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

  awaitable<void> Serve(tcp::socket raw, Listener::ConnectionSlot slot) {
    auto socket = std::make_shared<tcp::socket>(std::move(raw));
    auto idle = std::make_shared<referral::IdleDeadline>(options_.idle_timeout,
                                                         SteadyClock::now());
    asio::co_spawn(io_, Watchdog(socket, idle), LogErrors("watchdog"));
    const referral::Requester client = ClientOf(*socket);
    const std::string& peer = slot.address();
    referral::Framer framer;
    referral::ServerSession session(session_keys_, auth_throttle_, peer);
    std::array<char, 4096> buffer;
    boost::system::error_code ec;
    for (;;) {
      const size_t n = co_await socket->async_read_some(
          asio::buffer(buffer), redirect_error(use_awaitable, ec));
      if (ec) break;
      auto frames = framer.Feed(std::string_view(buffer.data(), n));
      if (!frames) {
        ++metrics_.malformed_frames;
        spdlog::warn("DFS1007 closing a connection: {}",
                     frames.error().Message());
        break;
      }
      idle->OnRead(frames->size(), SteadyClock::now());
      bool drop = false;
      for (const auto& frame : *frames) {
        Reply reply;
        if (session.Claims(frame)) {
          referral::SessionStep step =
              session.OnFrame(frame, SteadyClock::now());
          if (!(co_await AfterStep(step, peer))) {
            drop = true;
            break;
          }
          if (step.max_payload) framer.set_max_payload(*step.max_payload);
          if (step.request) {
            // A named request, not a temporary: g++ 12 destroys
            // temporaries inside a co_await expression twice.
            const referral::SessionRequest request = std::move(*step.request);
            reply = co_await Run(request, session, peer);
          } else {
            reply.bytes = std::move(step.reply);
          }
        } else {
          reply.bytes = Answer(frame, client);
        }
        co_await Send(*socket, reply, ec);
        if (ec) break;
      }
      if (ec || drop) break;
    }
    socket->close(ec);
  }

  // The reply to one frame; a snapshot's holds one of the few snapshot
  // slots until it is written.
  struct Reply {
    std::string bytes;
    bool holds_snapshot_slot = false;
  };

  awaitable<void> Send(tcp::socket& socket, const Reply& reply,
                       boost::system::error_code& ec) {
    if (!reply.holds_snapshot_slot) {
      co_await asio::async_write(socket, asio::buffer(reply.bytes),
                                 redirect_error(use_awaitable, ec));
      co_return;
    }
    // A peer that does not read a snapshot is cut off at the deadline: its
    // memory and its slot come back.
    asio::steady_timer write_deadline(io_, options_.replica_timeout);
    write_deadline.async_wait([&socket](const boost::system::error_code& e) {
      boost::system::error_code ignored;
      if (!e) socket.close(ignored);
    });
    co_await asio::async_write(socket, asio::buffer(reply.bytes),
                               redirect_error(use_awaitable, ec));
    write_deadline.cancel();
    --snapshots_in_flight_;
  }

  // Logs and counts what a session step did; false: drop the connection.
  awaitable<bool> AfterStep(const referral::SessionStep& step,
                            const std::string& peer) {
    using referral::SessionEvent;
    switch (step.event) {
      case SessionEvent::kBadMac:
        ++metrics_.malformed_frames;
        spdlog::warn(
            "DFS1007 closing an authenticated connection from {}: a frame "
            "whose MAC does not match",
            peer);
        co_return false;
      case SessionEvent::kWrongKey:
      case SessionEvent::kThrottled:
      case SessionEvent::kUnauthenticated:
        if (step.log_refusals) {
          spdlog::warn(
              "DFS1020 session refused: {} from {} ({} refusals since the "
              "last such line)",
              step.event == SessionEvent::kWrongKey    ? "wrong key"
              : step.event == SessionEvent::kThrottled ? "too many wrong keys"
                                                       : "not authenticated",
              peer, *step.log_refusals);
        }
        if (step.event == SessionEvent::kWrongKey) {
          // Every wrong key costs its connection a pause: guessing is slow
          // even before the throttle refuses the address.
          asio::steady_timer pause(io_, referral::kWrongKeyDelay);
          boost::system::error_code ignored;
          co_await pause.async_wait(redirect_error(use_awaitable, ignored));
        }
        break;
      default:
        break;
    }
    co_return !step.close;
  }

  awaitable<void> Watchdog(std::shared_ptr<tcp::socket> socket,
                           std::shared_ptr<referral::IdleDeadline> idle) {
    asio::steady_timer timer(io_);
    while (socket->is_open()) {
      timer.expires_at(idle->deadline());
      boost::system::error_code ec;
      co_await timer.async_wait(redirect_error(use_awaitable, ec));
      if (socket->is_open() && idle->Expired(SteadyClock::now())) {
        ++metrics_.idle_closed;
        socket->close(ec);
      }
    }
  }

  // The pure handler answers; this counts what it did.
  std::string Answer(const referral::Frame& frame,
                     const referral::Requester& client) {
    const auto start = SteadyClock::now();
    referral::HandledRequest handled = handler_.Handle(frame, client);
    switch (handled.outcome) {
      case referral::RequestOutcome::kOk:
        ++metrics_.referrals_ok;
        metrics_.ObserveLatency(SteadyClock::now() - start);
        break;
      case referral::RequestOutcome::kNotFound:
        ++metrics_.referrals_not_found;
        break;
      case referral::RequestOutcome::kBadRequest:
        ++metrics_.referrals_bad_request;
        break;
      case referral::RequestOutcome::kUnsupported:
        ++metrics_.referrals_unsupported;
        break;
    }
    return std::move(handled.reply);
  }

  // ------------------------------------------------------------ requests

  // Runs a request an authenticated session passed on and seals its
  // answer.
  awaitable<Reply> Run(const referral::SessionRequest& request,
                       referral::ServerSession& session,
                       const std::string& peer) {
    if (const auto* command = std::get_if<referral::AdminCommand>(&request)) {
      std::string line;
      for (const auto& a : command->args)
        line += (line.empty() ? "" : " ") + a.substr(0, 200);
      spdlog::info("DFS1021 remote admin from {}: {}", peer, line);
      // Commands may take seconds (a large import): run them off the
      // thread that answers referrals.
      referral::AdminResult result = co_await asio::co_spawn(
          admin_pool_, RunAdminCommand(*command), use_awaitable);
      co_return Reply{session.Seal(referral::FrameType::kAdminResult,
                                   referral::EncodeAdminResult(result))};
    }
    if (const auto* changes = std::get_if<referral::ChangesRequest>(&request)) {
      auto [type, payload] = AnswerChanges(*changes);
      co_return Reply{session.Seal(type, payload)};
    }
    if (std::holds_alternative<referral::ContentFrame>(request)) {
      // dfsd holds no content key, so no session gets here; refuse anyway.
      co_return Reply{session.SealError(kStatusInvalidParameter,
                                        "not allowed in this session")};
    }
    // A snapshot.
    if (snapshots_in_flight_ >= kMaxSnapshotsInFlight) {
      co_return Reply{session.SealError(
          kStatusInvalidParameter,
          "busy: other snapshots are being sent; ask again later")};
    }
    ++snapshots_in_flight_;
    // Built off the thread that answers referrals (0.5 s at 100,000
    // folders), sealed there too; the slot is held until it is sent.
    std::string bytes = co_await asio::co_spawn(
        replication_pool_, BuildSnapshot(&session), use_awaitable);
    co_return Reply{std::move(bytes), true};
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

  void NamespaceChanged(uint64_t before) {
    // Sites are few; rebuilding their table on every change is cheap.
    if (auto sites = referral::SiteTable::FromNamespace(index_))
      sites_ = std::move(*sites);
    ++metrics_.refreshes;
    metrics_.namespace_serial = index_.Serial();
    spdlog::info(
        "DFS1003 namespace changed: serial {} -> {} ({} roots, {} folders)",
        before, index_.Serial(), index_.root_count(), index_.folder_count());
  }

  static constexpr size_t kMaxSnapshotsInFlight = 2;

  asio::io_context& io_;
  ServerOptions options_;
  Metrics metrics_;
  Listener listener_;
  MetricsEndpoint metrics_endpoint_;
  std::unique_ptr<ns::Store> store_;
  ns::NamespaceIndex index_;
  referral::SiteTable sites_;
  referral::HealthTable health_;
  referral::Resolver resolver_;
  referral::RequestHandler handler_{resolver_};
  referral::SessionKeys session_keys_;
  referral::AuthThrottle auth_throttle_;
  Prober prober_;
  std::unique_ptr<StoreRefresher> refresher_;
  std::unique_ptr<NamespaceFollower> follower_;
  // Admin commands and whole-namespace loads run here.
  asio::thread_pool admin_pool_{1};
  // Snapshots for replicas are built here, never on the referral thread.
  asio::thread_pool replication_pool_{1};
  size_t snapshots_in_flight_ = 0;
};

Server::Server(asio::io_context& io, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
uint16_t Server::metrics_port() const { return impl_->metrics_port(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace dfs::referral_net
