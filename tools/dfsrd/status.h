// A dfsrd member's state as JSON: what `dfsrd status --json` prints (read
// from a stopped or running member's store) and what a running member
// answers on its metrics address at GET /status (what dfsd's status page
// polls, replication/FORMAT.md "Status"). Built from the store and the
// counters; reads only.
// Thread-safety: pure apart from the store reads (the store is safe).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "config.h"
#include "dfs/repl_state/state_store.h"

namespace dfs::dfsrd {

// Records a peer lacks are counted up to this (then "at least").
inline constexpr uint64_t kMaxBacklogCounted = 100'000;

struct StatusOptions {
  // Walks every record to count tombstones (the CLI; not the polled
  // /status, which must stay cheap on a large folder).
  bool count_tombstones = true;
  // The losing versions kept in .dfsrd/conflicts, as a running member
  // keeps count of them; nothing: counted by walking the folder (the CLI).
  std::optional<uint64_t> conflicts_kept;
};

// `counters`: the member's counters by their counters.json keys (an
// object; may be empty). `now_ms`: wall-clock now.
nlohmann::json MemberStatusJson(const GroupConfig& config,
                                const repl::StateStore& store,
                                const nlohmann::json& counters, int64_t now_ms,
                                StatusOptions options = {});

// Whether a peer counts as connected: an exchange either way within this
// long (pullers ask every poll_interval while linked).
int64_t ConnectedWithinMs(const GroupConfig& config);

}  // namespace dfs::dfsrd
