#include "status.h"

#include <algorithm>
#include <filesystem>

namespace dfs::dfsrd {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

uint64_t ConflictsKept(const fs::path& folder) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           folder / ".dfsrd" / "conflicts", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) ++n;
  }
  return n;
}

uint64_t CounterOf(const json& counters, const char* key) {
  if (!counters.is_object()) return 0;
  auto it = counters.find(key);
  return it != counters.end() && it->is_number_unsigned() ? it->get<uint64_t>()
                                                          : 0;
}

}  // namespace

int64_t ConnectedWithinMs(const GroupConfig& config) {
  return std::max<int64_t>(3000, 4 * config.poll_interval.count());
}

json MemberStatusJson(const GroupConfig& config, const repl::StateStore& store,
                      const json& counters, int64_t now_ms,
                      StatusOptions options) {
  auto high = store.HighSeq();
  const uint64_t our_high = high ? *high : 0;
  auto records = store.RecordCount();
  json out;
  out["group"] = config.group;
  out["member"] = config.member;
  out["address"] = config.self().address;
  out["folder"] = config.self().folder.filename().string();
  out["sequence"] = our_high;
  out["records"] = records ? *records : 0;
  if (options.count_tombstones) {
    uint64_t tombstones = 0;
    (void)store.ForEach([&](const repl::FileRecord& r) {
      tombstones += r.deleted;
      return true;
    });
    out["tombstones"] = tombstones;
  }
  out["conflicts_kept"] = options.conflicts_kept
                              ? *options.conflicts_kept
                              : ConflictsKept(config.self().folder);
  out["counters"] = counters.is_object() ? counters : json::object();
  // What deltas (and local copies, and compression) spared the wire: the
  // content the received files stand for, less the bytes that came in.
  const uint64_t content = CounterOf(counters, "content_bytes_received");
  const uint64_t wire = CounterOf(counters, "bytes_received");
  out["bytes_saved"] = content > wire ? content - wire : 0;
  out["conflicts"] = CounterOf(counters, "conflicts");
  out["peers"] = json::array();
  const int64_t fresh_ms = ConnectedWithinMs(config);
  for (const MemberConfig& m : config.Upstreams()) {
    auto state = store.Peer(m.name);
    if (!state) continue;
    const int64_t contact = state->LastContactMs();
    json p;
    p["name"] = m.name;
    p["address"] = m.address;
    p["connected"] = contact > 0 && now_ms - contact < fresh_ms;
    p["last_contact_ms_ago"] =
        contact > 0 ? json(now_ms - contact) : json(nullptr);
    // Theirs not taken yet: a sequence distance (an upper bound: later
    // records replace earlier ones), as of the last contact.
    p["backlog_in"] = state->BacklogIn();
    // Ours they have not taken: counted exactly (to kMaxBacklogCounted).
    auto pending = store.PendingAfter(state->served_seq, kMaxBacklogCounted);
    if (pending) {
      p["backlog_out"] = pending->records;
      p["backlog_out_complete"] = pending->complete;
      p["oldest_pending_out_ms_ago"] =
          pending->oldest_recorded_ms
              ? json(
                    std::max<int64_t>(0, now_ms - *pending->oldest_recorded_ms))
              : json(nullptr);
    } else {
      p["backlog_out"] = state->BacklogOut(our_high);
      p["backlog_out_complete"] = false;
      p["oldest_pending_out_ms_ago"] = nullptr;
    }
    // Out of contact longer than a tombstone lives: its whole index is
    // being taken again (replication/README.md).
    p["rejoining"] = state->rejoining;
    out["peers"].push_back(p);
  }
  return out;
}

}  // namespace dfs::dfsrd
