#include "dfs/referral_net/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <charconv>
#include <deque>
#include <map>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "dfs/common/error.h"
#include "dfs/ns/path.h"
#include "dfs/ns/store.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/health.h"
#include "dfs/referral/limits.h"
#include "dfs/referral/replication.h"
#include "dfs/referral/request_handler.h"
#include "dfs/referral/resolver.h"
#include "dfs/referral_net/auth.h"
#include "dfs/referral_net/peer_link.h"
#include "gcc12_coroutines.h"
#include "metrics.h"

namespace dfs::referral_net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxHttpRequestBytes = 8192;

using referral::kStatusAccessDenied;
using referral::kStatusInvalidParameter;
using referral::kStatusNotFound;
using referral::kStatusNotSupported;

std::string ErrorFrame(uint32_t status, std::string_view message) {
  return referral::EncodeErrorFrame(status, message);
}

// Logs a coroutine's escaping exception instead of dropping it (STYLE.md:
// never asio::detached).
auto LogErrors(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("DFS1099 {} failed: {}", what, ex.what());
    }
  };
}

}  // namespace

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

class Server::Impl {
 public:
  Impl(asio::io_context& io, ServerOptions options)
      : io_(io),
        options_(std::move(options)),
        acceptor_(io),
        metrics_acceptor_(io),
        resolver_(
            index_, sites_, [this](const ns::Target& t) { return Healthy(t); },
            options_.seed != 0 ? options_.seed : std::random_device{}()) {}

  Status Start() {
    ns::StoreOptions store_options;
    if (!options_.replica_of.empty()) {
      if (KeyFor(SessionPurpose::kReplication).empty()) {
        return Fail(Errc::kInvalidArgument,
                    "a replica needs the key its primary proves "
                    "(--replica-key FILE, or --admin-key FILE)");
      }
      DFS_ASSIGN_OR_RETURN(replica_endpoint_,
                           ParseEndpoint(options_.replica_of));
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
    DFS_RETURN_IF_ERROR(Bind(acceptor_, options_.listen));
    if (!options_.metrics_listen.empty()) {
      DFS_RETURN_IF_ERROR(Bind(metrics_acceptor_, options_.metrics_listen));
    }
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    limits_ = referral::DeriveConnectionLimits(
        options_.max_connections, options_.max_connections_per_address,
        nofile.rlim_cur);
    if (limits_.capped) {
      spdlog::warn(
          "DFS1006 --max-connections {} is more than the {} descriptors this "
          "process may open allow: using {}",
          options_.max_connections, nofile.rlim_cur, limits_.total);
    }
    spdlog::info(
        "DFS1000 serving {} roots, {} folders (serial {}) on {}; at most {} "
        "connections, {} per address",
        index_.root_count(), index_.folder_count(), index_.Serial(),
        Describe(acceptor_), limits_.total, limits_.per_address);
    asio::co_spawn(io_, AcceptLoop(), LogErrors("accept loop"));
    asio::co_spawn(io_, RefreshLoop(), LogErrors("refresh loop"));
    if (options_.probe.enabled)
      asio::co_spawn(io_, ProbeLoop(), LogErrors("probe loop"));
    if (!options_.replica_of.empty()) {
      asio::co_spawn(io_, ReplicaLoop(), LogErrors("replica loop"));
    }
    if (metrics_acceptor_.is_open()) {
      asio::co_spawn(io_, MetricsLoop(), LogErrors("metrics loop"));
    }
    return Status::Ok();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  uint16_t metrics_port() const {
    return metrics_acceptor_.is_open()
               ? metrics_acceptor_.local_endpoint().port()
               : 0;
  }

  void Stop() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    metrics_acceptor_.close(ec);
  }

 private:
  static std::string Describe(const tcp::acceptor& a) {
    auto ep = a.local_endpoint();
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  Status Bind(tcp::acceptor& acceptor, const std::string& where) {
    DFS_ASSIGN_OR_RETURN(tcp::endpoint ep, ParseEndpoint(where));
    boost::system::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Fail(Errc::kIo, "cannot listen on " + where + ": " + ec.message());
    return Status::Ok();
  }

  // ------------------------------------------------------------ referrals

  // Why a connection was refused, for the sparse DFS1006 line.
  enum class Refusal { kTotal, kPerAddress, kDescriptors };

  // One log line per kRefusalLogInterval at most, with counts: a flood of
  // connections cannot become a flood of log lines.
  void NoteRefusal(Refusal why) {
    ++metrics_.connections_rejected;
    ++refusals_[static_cast<size_t>(why)];
    const auto now = Clock::now();
    if (now - refusals_logged_at_ < kRefusalLogInterval) return;
    spdlog::warn(
        "DFS1006 connections refused since the last such line: {} at the "
        "limit of {} open, {} over {} from one address, {} out of "
        "descriptors",
        refusals_[0], limits_.total, refusals_[1], limits_.per_address,
        refusals_[2]);
    refusals_ = {};
    refusals_logged_at_ = now;
  }

  awaitable<void> AcceptLoop() {
    auto backoff = kMinAcceptBackoff;
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping_) co_return;
        if (ec == asio::error::no_descriptors ||
            ec == asio::error::no_buffer_space ||
            ec == asio::error::no_memory || ec.value() == ENFILE) {
          // The kernel keeps the connection queued; retrying at once would
          // spin a core. Wait, longer each time, until one gets through.
          NoteRefusal(Refusal::kDescriptors);
          asio::steady_timer pause(io_, backoff);
          co_await pause.async_wait(redirect_error(use_awaitable, ec));
          backoff = std::min(backoff * 2, kMaxAcceptBackoff);
        }
        continue;
      }
      backoff = kMinAcceptBackoff;
      auto remote = socket.remote_endpoint(ec);
      std::string address = ec ? "?" : remote.address().to_string();
      if (metrics_.connections_open >= limits_.total) {
        NoteRefusal(Refusal::kTotal);
        socket.close(ec);
        continue;
      }
      size_t& from_address = connections_by_address_[address];
      if (from_address >= limits_.per_address) {
        NoteRefusal(Refusal::kPerAddress);
        socket.close(ec);
        continue;
      }
      ++from_address;
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io_, Serve(std::move(socket), std::move(address)),
                     LogErrors("connection"));
    }
  }

  awaitable<void> Serve(tcp::socket raw, std::string address) {
    // Whatever ends this coroutine gives the address its slot back.
    struct AddressSlot {
      std::map<std::string, size_t>& counts;
      std::string address;
      ~AddressSlot() {
        auto it = counts.find(address);
        if (it != counts.end() && --it->second == 0) counts.erase(it);
      }
    } slot{connections_by_address_, std::move(address)};
    auto socket = std::make_shared<tcp::socket>(std::move(raw));
    auto deadline = std::make_shared<Clock::time_point>(Clock::now() +
                                                        options_.idle_timeout);
    ++metrics_.connections_open;
    ++metrics_.connections_total;
    asio::co_spawn(io_, Watchdog(socket, deadline), LogErrors("watchdog"));
    referral::Client client;
    boost::system::error_code ec;
    auto remote = socket->remote_endpoint(ec);
    const std::string peer = ec ? "?" : remote.address().to_string();
    if (!ec) {
      auto address = remote.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address =
            asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      if (auto ip = referral::IpAddress::Parse(address.to_string()))
        client.address = *ip;
    }
    referral::Framer framer;
    PeerSession session;
    std::array<char, 4096> buffer;
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
      // Only whole frames buy more time: a peer trickling one frame byte
      // by byte still meets the deadline it started with.
      if (!frames->empty()) *deadline = Clock::now() + options_.idle_timeout;
      bool drop = false;
      for (const auto& frame : *frames) {
        SessionReply reply;
        if (session.sealer) {
          // After the handshake every frame must carry its MAC; one that
          // does not ends the connection (nothing in it is trusted).
          auto opened = session.sealer->Open(frame);
          if (!opened) {
            ++metrics_.malformed_frames;
            spdlog::warn(
                "DFS1007 closing an authenticated connection from "
                "{}: {}",
                peer, opened.error().Message());
            drop = true;
            break;
          }
          // A named frame, not a temporary: g++ 12 destroys temporaries
          // inside a co_await expression twice.
          const referral::Frame inner{frame.type, std::move(*opened)};
          reply = co_await Session(inner, session, framer, peer);
        } else if (frame.type >= referral::FrameType::kAdminHello ||
                   frame.type == referral::FrameType::kChangesRequest ||
                   frame.type == referral::FrameType::kSnapshotRequest) {
          reply = co_await Session(frame, session, framer, peer);
        } else {
          reply.bytes = Answer(frame, client);
        }
        if (reply.holds_snapshot_slot) {
          // A peer that does not read a snapshot is cut off at the
          // deadline: its memory and its slot come back.
          auto write_deadline = std::make_shared<asio::steady_timer>(io_);
          write_deadline->expires_after(options_.replica_timeout);
          write_deadline->async_wait(
              [socket](const boost::system::error_code& e) {
                boost::system::error_code ignored;
                if (!e) socket->close(ignored);
              });
          co_await asio::async_write(*socket, asio::buffer(reply.bytes),
                                     redirect_error(use_awaitable, ec));
          write_deadline->cancel();
          --snapshots_in_flight_;
        } else {
          co_await asio::async_write(*socket, asio::buffer(reply.bytes),
                                     redirect_error(use_awaitable, ec));
        }
        if (ec) break;
      }
      if (ec || drop) break;
    }
    socket->close(ec);
    --metrics_.connections_open;
  }

  awaitable<void> Watchdog(std::shared_ptr<tcp::socket> socket,
                           std::shared_ptr<Clock::time_point> deadline) {
    asio::steady_timer timer(io_);
    while (socket->is_open()) {
      timer.expires_at(*deadline);
      boost::system::error_code ec;
      co_await timer.async_wait(redirect_error(use_awaitable, ec));
      if (socket->is_open() && Clock::now() >= *deadline) {
        ++metrics_.idle_closed;
        socket->close(ec);
      }
    }
  }

  // The pure handler answers; this counts what it did.
  std::string Answer(const referral::Frame& frame,
                     const referral::Client& client) {
    const auto start = Clock::now();
    referral::HandledRequest handled = handler_.Handle(frame, client);
    switch (handled.outcome) {
      case referral::RequestOutcome::kOk:
        ++metrics_.referrals_ok;
        metrics_.ObserveLatency(Clock::now() - start);
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

  // ------------------------------------------------------------ admin

  // One connection's authenticated session (remote admin or replication):
  // the handshake's nonces, then the purpose it proved a key for and the
  // sealer every later frame goes through.
  struct PeerSession {
    std::string client_nonce, server_nonce;
    SessionPurpose purpose = SessionPurpose::kAdmin;
    std::optional<FrameSealer> sealer;
  };
  struct SessionReply {
    std::string bytes;
    bool holds_snapshot_slot = false;
  };

  // The key a purpose is proved with; empty: that purpose is off here.
  const std::string& KeyFor(SessionPurpose purpose) const {
    if (purpose == SessionPurpose::kReplication &&
        !options_.replica_key.empty()) {
      return options_.replica_key;
    }
    return options_.admin_key;
  }

  // A member coroutine with a by-value parameter: the command lives in the
  // coroutine frame (a capturing lambda's captures would not outlive it).
  awaitable<referral::AdminResult> RunAdminCommand(
      referral::AdminCommand command) {
    co_return options_.admin_executor(command);
  }

  static constexpr size_t kMaxAuthFailures = 5;
  static constexpr auto kAuthFailureWindow = std::chrono::seconds(60);
  static constexpr auto kWrongKeyDelay = std::chrono::milliseconds(500);
  static constexpr auto kAuthLogInterval = std::chrono::seconds(10);
  static constexpr size_t kMaxTrackedAuthAddresses = 65536;

  // One log line per kAuthLogInterval at most, with the count since the
  // last one: a guessing peer cannot fill the log.
  void NoteAuthRefusal(const std::string& peer, const char* why) {
    ++auth_refusals_unlogged_;
    const auto now = Clock::now();
    if (now - auth_logged_at_ >= kAuthLogInterval) {
      spdlog::warn(
          "DFS1020 remote admin refused: {} from {} ({} refusals "
          "since the last such line)",
          why, peer, auth_refusals_unlogged_);
      auth_refusals_unlogged_ = 0;
      auth_logged_at_ = now;
    }
    if (auth_failures_.size() > kMaxTrackedAuthAddresses) {
      std::erase_if(auth_failures_, [&](const auto& kv) {
        return kv.second.empty() || now - kv.second.back() > kAuthFailureWindow;
      });
    }
  }

  // A member coroutine (a capturing lambda's captures would not outlive
  // it). The connection waits for it, so `sealer` stays valid.
  awaitable<std::string> BuildSnapshot(FrameSealer* sealer) {
    auto snapshot = store_->SnapshotEntry();
    if (!snapshot) {
      co_return sealer->Seal(
          referral::FrameType::kError,
          referral::EncodeErrorPayload(
              {kStatusInvalidParameter, snapshot.error().Message()}));
    }
    co_return sealer->Seal(referral::FrameType::kSnapshotReply,
                           ns::EncodeChangeEntry(*snapshot));
  }

  awaitable<SessionReply> Session(const referral::Frame& frame,
                                  PeerSession& session,
                                  referral::Framer& framer,
                                  const std::string& peer) {
    auto plain = [](std::string bytes) {
      return SessionReply{std::move(bytes), false};
    };
    auto sealed = [&](referral::FrameType type, std::string_view payload) {
      return SessionReply{session.sealer->Seal(type, payload), false};
    };
    if (session.sealer) {
      // Authenticated: only what the proved purpose allows.
      if (session.purpose == SessionPurpose::kAdmin &&
          frame.type == referral::FrameType::kAdminCommand) {
        if (!options_.admin_executor) {
          co_return sealed(referral::FrameType::kError,
                           referral::EncodeErrorPayload(
                               {kStatusAccessDenied, "remote admin is off"}));
        }
        auto command = referral::DecodeAdminCommand(frame.payload);
        if (!command) {
          co_return sealed(
              referral::FrameType::kError,
              referral::EncodeErrorPayload(
                  {kStatusInvalidParameter, command.error().Message()}));
        }
        std::string line;
        for (const auto& a : command->args)
          line += (line.empty() ? "" : " ") + a.substr(0, 200);
        spdlog::info("DFS1021 remote admin from {}: {}", peer, line);
        // Commands may take seconds (a large import): run them off the
        // thread that answers referrals.
        referral::AdminResult result = co_await asio::co_spawn(
            admin_pool_, RunAdminCommand(std::move(*command)), use_awaitable);
        co_return sealed(referral::FrameType::kAdminResult,
                         referral::EncodeAdminResult(result));
      }
      if (session.purpose == SessionPurpose::kReplication &&
          frame.type == referral::FrameType::kChangesRequest) {
        auto [type, payload] = AnswerChanges(frame);
        co_return sealed(type, payload);
      }
      if (session.purpose == SessionPurpose::kReplication &&
          frame.type == referral::FrameType::kSnapshotRequest) {
        if (snapshots_in_flight_ >= kMaxSnapshotsInFlight) {
          co_return sealed(referral::FrameType::kError,
                           referral::EncodeErrorPayload(
                               {kStatusInvalidParameter,
                                "busy: other snapshots are being sent; ask "
                                "again later"}));
        }
        ++snapshots_in_flight_;
        // Built off the thread that answers referrals (0.5 s at 100,000
        // folders), sealed there too; the slot is held until it is sent.
        FrameSealer* sealer = &*session.sealer;
        std::string bytes = co_await asio::co_spawn(
            replication_pool_, BuildSnapshot(sealer), use_awaitable);
        co_return SessionReply{std::move(bytes), true};
      }
      co_return sealed(
          referral::FrameType::kError,
          referral::EncodeErrorPayload(
              {kStatusInvalidParameter, "not allowed in this session"}));
    }
    switch (frame.type) {
      case referral::FrameType::kAdminHello: {
        if (frame.payload.size() != 1 + kSessionNonceBytes ||
            (frame.payload[0] != static_cast<char>(SessionPurpose::kAdmin) &&
             frame.payload[0] !=
                 static_cast<char>(SessionPurpose::kReplication))) {
          co_return plain(ErrorFrame(
              kStatusInvalidParameter,
              "hello needs a purpose and a 32-byte nonce (session protocol "
              "v2: update dfsutil/dfsd)"));
        }
        session.purpose = static_cast<SessionPurpose>(frame.payload[0]);
        if (KeyFor(session.purpose).empty() ||
            (session.purpose == SessionPurpose::kAdmin &&
             !options_.admin_executor)) {
          co_return plain(ErrorFrame(
              kStatusAccessDenied,
              session.purpose == SessionPurpose::kAdmin
                  ? "remote administration is off on this server (start "
                    "dfsd with --admin-key FILE)"
                  : "replication is off on this server (start dfsd with "
                    "--replica-key FILE)"));
        }
        session.client_nonce = frame.payload.substr(1);
        session.server_nonce = NewNonce();
        co_return plain(referral::EncodeFrame(
            referral::FrameType::kAdminChallenge,
            session.server_nonce +
                ServerProof(KeyFor(session.purpose), session.purpose,
                            session.client_nonce, session.server_nonce)));
      }
      case referral::FrameType::kAdminAuth: {
        // Guessing is throttled per address: after kMaxAuthFailures wrong
        // keys within kAuthFailureWindow, that address is refused without
        // a check until the window has passed, and every wrong key costs
        // its connection kWrongKeyDelay.
        auto& failures = auth_failures_[peer];
        const auto now = Clock::now();
        while (!failures.empty() &&
               now - failures.front() > kAuthFailureWindow) {
          failures.pop_front();
        }
        if (failures.size() >= kMaxAuthFailures) {
          session.server_nonce.clear();
          NoteAuthRefusal(peer, "too many wrong keys");
          co_return plain(ErrorFrame(kStatusAccessDenied,
                                     "too many wrong keys from this address: "
                                     "try again in a minute; nothing was "
                                     "changed"));
        }
        const std::string& key = KeyFor(session.purpose);
        const bool ok =
            !session.server_nonce.empty() && !key.empty() &&
            MacMatches(ClientProof(key, session.purpose, session.client_nonce,
                                   session.server_nonce),
                       frame.payload);
        if (!ok) {
          session.server_nonce.clear();  // one try per challenge
          failures.push_back(now);
          NoteAuthRefusal(peer, "wrong key");
          asio::steady_timer pause(co_await asio::this_coro::executor,
                                   kWrongKeyDelay);
          boost::system::error_code ignored;
          co_await pause.async_wait(redirect_error(use_awaitable, ignored));
          co_return plain(ErrorFrame(kStatusAccessDenied,
                                     "wrong key: nothing was changed"));
        }
        session.sealer.emplace(
            SessionKey(key, session.purpose, session.client_nonce,
                       session.server_nonce),
            /*is_client=*/false);
        // Only now may this connection send frames big enough for imports.
        if (session.purpose == SessionPurpose::kAdmin) {
          framer.set_max_payload(referral::kMaxAdminUploadBytes + 64 * 1024);
        }
        co_return sealed(
            referral::FrameType::kAdminResult,
            referral::EncodeAdminResult({0, "authenticated\n", ""}));
      }
      case referral::FrameType::kChangesRequest:
      case referral::FrameType::kSnapshotRequest:
        co_return plain(ErrorFrame(
            kStatusAccessDenied,
            "replication needs an authenticated session (dfsd --replica-key "
            "on both sides)"));
      case referral::FrameType::kAdminCommand:
        spdlog::warn("DFS1020 remote admin refused: not authenticated");
        co_return plain(ErrorFrame(
            kStatusAccessDenied,
            "not authenticated: give --key FILE; nothing was changed"));
      default:
        co_return plain(
            ErrorFrame(kStatusInvalidParameter, "unexpected session frame"));
    }
  }

  // ------------------------------------------------------------ replication

  // The primary's side: its change log, straight from the store (a chained
  // replica serves its own copy of the log the same way).
  // (frame type, payload) of the reply to a changes request.
  std::pair<referral::FrameType, std::string> AnswerChanges(
      const referral::Frame& frame) {
    auto error = [](const Error& e) {
      return std::pair{
          referral::FrameType::kError,
          referral::EncodeErrorPayload({kStatusInvalidParameter, e.Message()})};
    };
    auto request = referral::DecodeChangesRequest(frame.payload);
    if (!request) return error(request.error());
    referral::ChangesReply reply;
    auto serial = store_->Serial();
    if (!serial) return error(serial.error());
    reply.primary_serial = *serial;
    auto entries = store_->ChangesSince(request->since, request->max_entries);
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

  // The replica's side. One authenticated link to the primary at a time
  // (PeerLink: connect, both sides prove the replica key, a MAC on every
  // frame, a deadline on every exchange); any failure drops the link and
  // tries again after a pause, so a dead or lying primary costs nothing but
  // a log line: referrals keep coming from the local store.
  awaitable<bool> FetchSnapshot(PeerLink& link) {
    auto reply =
        co_await link.Exchange(referral::FrameType::kSnapshotRequest, "");
    if (!reply || reply->type != referral::FrameType::kSnapshotReply) {
      co_return false;
    }
    auto snapshot =
        ns::DecodeChangeEntry(reply->payload, ns::kMaxSnapshotMutations);
    if (!snapshot) {
      spdlog::error("DFS1014 bad snapshot from primary {}: {}",
                    options_.replica_of, snapshot.error().Message());
      co_return false;
    }
    Status replaced = store_->ReplaceWith(*snapshot);
    if (!replaced.ok()) {
      spdlog::error("DFS1005 writing the snapshot failed: {}",
                    replaced.error().Message());
      co_return false;
    }
    spdlog::info(
        "DFS1012 replica reloaded from a snapshot of {} at serial {} ({} "
        "records)",
        options_.replica_of, snapshot->serial, snapshot->mutations.size());
    co_return true;
  }

  awaitable<void> ReplicaLoop() {
    asio::steady_timer pause(io_);
    bool primary_lost = false, behind = false;
    PeerLink link(io_.get_executor(), replica_endpoint_,
                  KeyFor(SessionPurpose::kReplication),
                  SessionPurpose::kReplication, options_.replica_timeout,
                  referral::kMaxReplicationFrameBytes);
    Backoff stalled(options_.refresh_interval, kMaxReplicaStallPause);
    while (!stopping_) {
      boost::system::error_code ec;
      Status opened = co_await link.Open();
      if (opened.ok()) {
        if (primary_lost)
          spdlog::info("DFS1015 primary {} reachable again",
                       options_.replica_of);
        primary_lost = false;
        stalled.Reset();
        while (!stopping_ && link.is_open()) {
          auto local = store_->Serial();
          if (!local) break;
          const std::string request = referral::EncodeChangesRequest(
              {*local, referral::kMaxChangesPerReply});
          auto reply = co_await link.Exchange(
              referral::FrameType::kChangesRequest, request);
          if (!reply) {
            if (reply.error().code == make_error_code(Errc::kCorrupt)) {
              spdlog::error("DFS1014 bad frame from primary {}: {}",
                            options_.replica_of, reply.error().Message());
            }
            break;
          }
          if (reply->type != referral::FrameType::kChangesReply) break;
          auto changes = referral::DecodeChangesReply(reply->payload);
          if (!changes) {
            spdlog::error("DFS1014 bad changes from primary {}: {}",
                          options_.replica_of, changes.error().Message());
            break;
          }
          bool need_snapshot =
              changes->resync_needed || changes->primary_serial < *local;
          for (const auto& entry : changes->entries) {
            if (need_snapshot) break;
            Status applied = store_->ApplyReplicated(entry);
            if (!applied.ok()) need_snapshot = true;
          }
          if (need_snapshot && !(co_await FetchSnapshot(link))) break;
          auto now = store_->Serial();
          if (now && *now < changes->primary_serial) {
            if (!behind) {
              spdlog::warn("DFS1010 replica behind: serial {}, primary {}",
                           *now, changes->primary_serial);
            }
            behind = true;
            if (*now > *local) {
              stalled.Reset();
              continue;  // progress: more to fetch right away
            }
            // The primary claims more than it sends: asking again at once
            // would spin (and load it). Wait, longer each time it repeats.
            const auto wait = stalled.Next();
            if (wait == options_.refresh_interval) {
              spdlog::error(
                  "DFS1014 primary {} claims serial {} but sent nothing "
                  "after {}; asking again later",
                  options_.replica_of, changes->primary_serial, *now);
            }
            pause.expires_after(wait);
            co_await pause.async_wait(redirect_error(use_awaitable, ec));
            continue;
          }
          stalled.Reset();
          if (behind)
            spdlog::info("DFS1011 replica caught up at serial {}",
                         changes->primary_serial);
          behind = false;
          pause.expires_after(options_.refresh_interval);
          co_await pause.async_wait(redirect_error(use_awaitable, ec));
        }
        link.Close();
      } else if (opened.error().code ==
                 make_error_code(Errc::kPermissionDenied)) {
        spdlog::error("DFS1014 primary {}: {}; not replicating from it",
                      options_.replica_of, opened.error().Message());
      } else if (!primary_lost) {
        primary_lost = true;
        spdlog::warn(
            "DFS1013 primary {} unreachable ({}); serving the local copy",
            options_.replica_of, opened.error().Message());
      }
      pause.expires_after(options_.refresh_interval);
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
    }
  }

  // ------------------------------------------------------------ refresh

  awaitable<void> RefreshLoop() {
    asio::steady_timer timer(io_);
    while (!stopping_) {
      timer.expires_after(options_.refresh_interval);
      boost::system::error_code ec;
      co_await timer.async_wait(redirect_error(use_awaitable, ec));
      const uint64_t before = index_.Serial();
      auto changed = store_->CatchUp(index_, /*allow_reload=*/false);
      if (!changed &&
          changed.error().code == make_error_code(Errc::kNeedResync)) {
        if (co_await ReloadOffThread()) {
          ++metrics_.reloads;
          LogNamespaceChange(before);
        }
        continue;
      }
      if (!changed) {
        ++metrics_.refresh_errors;
        spdlog::error("DFS1005 reading the store failed: {}",
                      changed.error().Message());
        continue;
      }
      if (*changed) LogNamespaceChange(before);
    }
  }

  void LogNamespaceChange(uint64_t before) {
    // Sites are few; rebuilding their table on every change is cheap.
    if (auto sites = referral::SiteTable::FromNamespace(index_))
      sites_ = std::move(*sites);
    ++metrics_.refreshes;
    metrics_.namespace_serial = index_.Serial();
    spdlog::info(
        "DFS1003 namespace changed: serial {} -> {} ({} roots, {} folders)",
        before, index_.Serial(), index_.root_count(), index_.folder_count());
  }

  // A change the log cannot replay (a huge import, a replica snapshot, a
  // log trimmed past us) means reading the whole namespace: seconds for a
  // million folders. Do that on the worker thread and swap the result in,
  // so referrals are answered from the old namespace meanwhile.
  awaitable<bool> ReloadOffThread() {
    Loaded fresh =
        co_await asio::co_spawn(admin_pool_, LoadFresh(), use_awaitable);
    if (!fresh.index) {
      ++metrics_.refresh_errors;
      spdlog::error("DFS1005 reloading the namespace failed: {}", fresh.error);
      co_return false;
    }
    index_ = std::move(*fresh.index);
    co_return true;
  }

  // Default-constructible, as co_spawn's result must be.
  struct Loaded {
    std::unique_ptr<ns::NamespaceIndex> index;
    std::string error;
  };

  awaitable<Loaded> LoadFresh() {
    Loaded out;
    auto fresh = std::make_unique<ns::NamespaceIndex>();
    Status loaded = store_->LoadInto(*fresh);
    if (loaded.ok()) {
      out.index = std::move(fresh);
    } else {
      out.error = loaded.error().Message();
    }
    co_return out;
  }

  // ------------------------------------------------------------ health

  bool Healthy(const ns::Target& t) const { return health_.Healthy(t); }

  awaitable<void> ProbeLoop() {
    asio::steady_timer timer(io_);
    while (!stopping_) {
      for (const std::string& server : index_.TargetServers()) {
        asio::co_spawn(io_, Probe(server), LogErrors("probe"));
      }
      timer.expires_after(options_.probe.interval);
      boost::system::error_code ec;
      co_await timer.async_wait(redirect_error(use_awaitable, ec));
    }
  }

  awaitable<void> Probe(std::string server) {
    const std::string key = ns::FoldCase(server);
    std::vector<tcp::endpoint> endpoints;
    boost::system::error_code ec;
    auto mapped = options_.probe.address_of.find(key);
    if (mapped != options_.probe.address_of.end()) {
      if (auto ep = ParseEndpoint(mapped->second)) endpoints.push_back(*ep);
    } else if (auto address = asio::ip::make_address(server, ec); !ec) {
      endpoints.emplace_back(address, options_.probe.default_port);
    } else if (options_.probe.resolve_names) {
      // A name: ask the system resolver, as any client of that server would.
      tcp::resolver resolver(io_);
      auto results = co_await resolver.async_resolve(
          server, std::to_string(options_.probe.default_port),
          redirect_error(use_awaitable, ec));
      if (!ec) {
        for (const auto& r : results) endpoints.push_back(r.endpoint());
      }
    } else {
      if (unprobed_.insert(key).second) {
        spdlog::info(
            "DFS1008 not probing {}: no address (give --probe {}=IP:PORT, or "
            "--probe-dns)",
            server, server);
      }
      co_return;
    }
    bool up = false;
    for (const auto& ep : endpoints) {
      tcp::socket socket(io_);
      asio::steady_timer timeout(io_);
      timeout.expires_after(options_.probe.timeout);
      timeout.async_wait([&socket](const boost::system::error_code& e) {
        if (!e) socket.close();
      });
      co_await socket.async_connect(ep, redirect_error(use_awaitable, ec));
      timeout.cancel();
      if (!ec && socket.is_open()) {
        up = true;
        break;
      }
    }
    ++(up ? metrics_.probes_up : metrics_.probes_down);
    switch (health_.Record(server, up)) {
      case referral::HealthChange::kCameUp:
        spdlog::info("DFS1002 target server up: {}", server);
        break;
      case referral::HealthChange::kWentDown:
        spdlog::warn("DFS1001 target server down: {}", server);
        break;
      case referral::HealthChange::kNone:
        break;
    }
    metrics_.servers_down = health_.DownCount();
  }

  // ------------------------------------------------------------ metrics

  awaitable<void> MetricsLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket = co_await metrics_acceptor_.async_accept(
          redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping_) co_return;
        continue;
      }
      asio::co_spawn(io_, ServeMetrics(std::move(socket)),
                     LogErrors("metrics"));
    }
  }

  awaitable<void> ServeMetrics(tcp::socket socket) {
    std::string request;
    std::array<char, 1024> buffer;
    boost::system::error_code ec;
    asio::steady_timer timeout(io_);
    timeout.expires_after(std::chrono::seconds(5));
    timeout.async_wait([&socket](const boost::system::error_code& e) {
      if (!e) socket.close();
    });
    while (request.find("\r\n\r\n") == std::string::npos &&
           request.size() < kMaxHttpRequestBytes) {
      const size_t n = co_await socket.async_read_some(
          asio::buffer(buffer), redirect_error(use_awaitable, ec));
      if (ec) co_return;
      request.append(buffer.data(), n);
    }
    timeout.cancel();
    const bool ok = request.rfind("GET /metrics ", 0) == 0 ||
                    request.rfind("GET /metrics?", 0) == 0;
    const std::string body =
        ok ? metrics_.Render() : "not found: try /metrics\n";
    const std::string response =
        std::string(ok ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.0 404 Not Found\r\n") +
        "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    co_await asio::async_write(socket, asio::buffer(response),
                               redirect_error(use_awaitable, ec));
    socket.close(ec);
  }

  asio::io_context& io_;
  ServerOptions options_;
  tcp::acceptor acceptor_, metrics_acceptor_;
  std::unique_ptr<ns::Store> store_;
  ns::NamespaceIndex index_;
  referral::SiteTable sites_;
  referral::Resolver resolver_;
  referral::RequestHandler handler_{resolver_};
  tcp::endpoint replica_endpoint_;
  asio::thread_pool admin_pool_{1};
  // Snapshots for replicas are built here, never on the referral thread.
  asio::thread_pool replication_pool_{1};
  static constexpr size_t kMaxSnapshotsInFlight = 2;
  size_t snapshots_in_flight_ = 0;
  static constexpr auto kRefusalLogInterval = std::chrono::seconds(10);
  static constexpr std::chrono::milliseconds kMaxReplicaStallPause{5000};
  static constexpr auto kMinAcceptBackoff = std::chrono::milliseconds(10);
  static constexpr auto kMaxAcceptBackoff = std::chrono::milliseconds(1000);
  referral::ConnectionLimits limits_;
  std::map<std::string, size_t> connections_by_address_;
  std::array<uint64_t, 3> refusals_{};
  Clock::time_point refusals_logged_at_{};
  // Wrong admin keys by client address (the io thread only).
  std::map<std::string, std::deque<Clock::time_point>> auth_failures_;
  uint64_t auth_refusals_unlogged_ = 0;
  Clock::time_point auth_logged_at_{};
  referral::HealthTable health_;
  std::unordered_set<std::string> unprobed_;
  Metrics metrics_;
  bool stopping_ = false;
};

Server::Server(asio::io_context& io, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
uint16_t Server::metrics_port() const { return impl_->metrics_port(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace dfs::referral_net
