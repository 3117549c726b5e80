#include "dfs/domain_net/mirror.h"

#include <spdlog/spdlog.h>

#include <map>

#include "dfs/common/backoff.h"
#include "dfs/common/coroutines.h"
#include "dfs/common/error.h"
#include "dfs/common/prometheus_text.h"
#include "dfs/domain/layout.h"

namespace dfs::domain_net {

using namespace dfs::coroutines;

namespace {

class EtcdMirror final : public referral_net::StoreSource {
 public:
  EtcdMirror(asio::io_context& io, ns::Store& store, MirrorOptions options,
             std::unique_ptr<EtcdClient> client, std::function<void()> wrote)
      : io_(io),
        store_(store),
        options_(std::move(options)),
        client_(std::move(client)),
        wrote_(std::move(wrote)),
        // Shared with the coroutines, which may outlive Stop by a step.
        alive_(std::make_shared<bool>(true)) {}

  void Start() {
    asio::co_spawn(io_, Follow(alive_), LogErrors("etcd mirror"));
    asio::co_spawn(io_, CheckHealth(alive_), LogErrors("etcd health"));
  }

  void Stop() override {
    *alive_ = false;
    client_->CancelWatch();
  }

  ~EtcdMirror() override { Stop(); }

  std::string MetricsText() const override {
    PrometheusText o;
    o.Gauge("dfs_etcd_connected",
            "Whether etcd answered the last health read (1) or not (0).",
            connected_ ? 1 : 0);
    o.Gauge("dfs_etcd_revision",
            "The etcd revision of the namespace this store holds.", revision_);
    o.Counter("dfs_etcd_changes_applied_total",
              "etcd revisions applied to the store.", changes_applied_);
    o.Counter("dfs_etcd_full_reads_total",
              "Times the whole namespace was read from etcd.", full_reads_);
    o.Counter("dfs_etcd_errors_total",
              "Failed etcd reads, watches and store writes.", errors_);
    return o.Take();
  }

 private:
  awaitable<void> Pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(io_, d);
    boost::system::error_code ec;
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
  }

  // The first error after contact is logged, then one line per
  // kErrorLogInterval with how many came: an outage of an hour is a
  // hundred lines, not one a second from each retry and health read.
  void NoteError(const std::string& what) {
    ++errors_;
    ++unlogged_errors_;
    const auto now = std::chrono::steady_clock::now();
    if (error_logged_ && now - error_logged_at_ < kErrorLogInterval) return;
    spdlog::warn(
        "DFS1031 etcd: {} ({} errors since the last such line); answering "
        "from the store at revision {} meanwhile",
        what, unlogged_errors_, revision_);
    unlogged_errors_ = 0;
    error_logged_ = true;
    error_logged_at_ = now;
  }

  // etcd answered (a health read, or the watch delivered).
  void NoteConnected() {
    if (!connected_) {
      spdlog::info("DFS1030 etcd at {} answers; the store holds revision {}",
                   client_->current_endpoint(), revision_);
      error_logged_ = false;  // the next outage's first error is logged
    }
    connected_ = true;
  }

  // The whole namespace, read at one revision, replaces the store's.
  awaitable<bool> ReadEverything() {
    auto range = co_await client_->RangeAll(options_.prefix,
                                            domain::PrefixEnd(options_.prefix));
    if (!range) {
      NoteError("reading the namespace: " + range.error().Message());
      co_return false;
    }
    auto puts = domain::PutsOf(options_.prefix, range->records);
    if (!puts) {
      NoteError("the namespace in etcd does not decode: " +
                puts.error().Message());
      co_return false;
    }
    Status replaced =
        store_.ReplaceWithMirror(*puts, static_cast<uint64_t>(range->revision));
    if (!replaced.ok() &&
        replaced.error().code != make_error_code(Errc::kConflict)) {
      NoteError("writing the store: " + replaced.error().Message());
      co_return false;
    }
    ++full_reads_;
    revision_ = std::max(revision_, range->revision);
    wrote_();
    spdlog::info(
        "DFS1032 read the whole namespace from etcd at revision {} "
        "({} records)",
        range->revision, puts->size());
    co_return true;
  }

  // Applies one watch message's events, a store change per revision.
  bool Apply(const domain::WatchMessage& message) {
    std::map<int64_t, std::vector<domain::EtcdRecord>> by_revision;
    for (const auto& e : message.events)
      by_revision[e.mod_revision].push_back(e);
    for (const auto& [revision, events] : by_revision) {
      if (revision <= revision_) continue;  // already held
      auto change = domain::ChangeOf(options_.prefix, revision, events);
      Status applied =
          change ? store_.ApplyMirrored(change->description, change->mutations,
                                        static_cast<uint64_t>(revision))
                 : Status(Unexpected(change.error()));
      if (!applied.ok()) {
        // The store and etcd disagree: read everything again.
        NoteError("applying revision " + std::to_string(revision) + ": " +
                  applied.error().Message());
        need_full_read_ = true;
        return false;
      }
      ++changes_applied_;
      revision_ = revision;
    }
    if (!by_revision.empty()) wrote_();
    return true;
  }

  awaitable<void> Follow(std::shared_ptr<bool> alive) {
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
    auto held = store_.SourceRevision();
    revision_ = held ? static_cast<int64_t>(*held) : 0;
    need_full_read_ = revision_ == 0;
    while (*alive) {
      if (need_full_read_) {
        if (!(co_await ReadEverything())) {
          co_await Pause(backoff.Next());
          continue;
        }
        need_full_read_ = false;
      }
      watch_endpoint_ = client_->current_endpoint();
      Status ended = co_await client_->Watch(
          options_.prefix, domain::PrefixEnd(options_.prefix), revision_ + 1,
          [&](const domain::WatchMessage& m) {
            if (!*alive) return false;
            if (m.compact_revision > 0) {
              spdlog::info(
                  "DFS1033 etcd compacted revision {} away: reading "
                  "the whole namespace again",
                  m.compact_revision);
              need_full_read_ = true;
              return false;
            }
            backoff.Reset();
            NoteConnected();
            return Apply(m);
          });
      watch_endpoint_.clear();
      if (!*alive) co_return;
      if (!ended.ok()) NoteError("watch: " + ended.error().Message());
      if (!need_full_read_) co_await Pause(backoff.Next());
    }
  }

  awaitable<void> CheckHealth(std::shared_ptr<bool> alive) {
    int behind = 0;
    while (*alive) {
      co_await Pause(options_.health_interval);
      if (!*alive) co_return;
      const std::string marker = domain::MarkerKey(options_.prefix);
      auto read = co_await client_->Range(marker, "", 0, 1);
      if (!*alive) co_return;
      if (!read) {
        connected_ = false;
        NoteError("no member answers: " + read.error().Message());
        client_->CancelWatch();  // it may sit on a member that hangs
        continue;
      }
      NoteConnected();
      const int64_t marker_revision =
          read->records.empty() ? 0 : read->records.front().mod_revision;
      behind = marker_revision > revision_ ? behind + 1 : 0;
      const bool elsewhere = !watch_endpoint_.empty() &&
                             watch_endpoint_ != client_->current_endpoint();
      if (elsewhere || behind >= 2) {
        spdlog::info("DFS1034 restarting the etcd watch on {} ({})",
                     client_->current_endpoint(),
                     elsewhere ? "its member stopped answering"
                               : "it fell behind the marker");
        behind = 0;
        client_->CancelWatch();
      }
    }
  }

  asio::io_context& io_;
  ns::Store& store_;
  MirrorOptions options_;
  std::unique_ptr<EtcdClient> client_;
  std::function<void()> wrote_;
  std::shared_ptr<bool> alive_;
  int64_t revision_ = 0;
  bool need_full_read_ = false;
  bool connected_ = false;
  std::string watch_endpoint_;
  static constexpr auto kErrorLogInterval = std::chrono::seconds(30);
  bool error_logged_ = false;
  std::chrono::steady_clock::time_point error_logged_at_{};
  uint64_t unlogged_errors_ = 0;
  uint64_t changes_applied_ = 0, full_reads_ = 0, errors_ = 0;
};

}  // namespace

Result<std::unique_ptr<referral_net::StoreSource>> StartMirror(
    asio::io_context& io, ns::Store& store, MirrorOptions options,
    std::function<void()> wrote) {
  DFS_RETURN_IF_ERROR(domain::ValidatePrefix(options.prefix));
  DFS_ASSIGN_OR_RETURN(auto client,
                       EtcdClient::Create(io.get_executor(), options.etcd));
  auto mirror = std::make_unique<EtcdMirror>(
      io, store, std::move(options), std::move(client), std::move(wrote));
  mirror->Start();
  return std::unique_ptr<referral_net::StoreSource>(std::move(mirror));
}

}  // namespace dfs::domain_net
