// The change log: one entry per committed change, keyed by its serial
// (big-endian, so LMDB's order is serial order), trimmed to
// StoreOptions::change_log_keep. Followers (dfsd's index through CatchUp,
// replicas through ChangesSince) pull exactly what they are missing, or
// learn they must reload (kNeedResync).
#include <chrono>

#include "store_tables.h"

namespace dfs::ns {

int64_t NowMillis(const StoreOptions& options) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             options.clock->Now().time_since_epoch())
      .count();
}

Status CommitEntry(const Store::Impl& impl, TableView& view,
                   const ChangeEntry& entry) {
  const std::string serial_key = EncodeBigEndian64(entry.serial);
  DFS_RETURN_IF_ERROR(
      view.Put(impl.tables_.log, serial_key, EncodeChangeEntry(entry)));
  DFS_RETURN_IF_ERROR(view.Put(impl.tables_.meta, "serial", serial_key));
  // Trim the log to the configured length; each commit removes the few
  // entries that fell off, so this stays O(1) per change.
  if (entry.serial > impl.options_.change_log_keep) {
    const uint64_t cutoff = entry.serial - impl.options_.change_log_keep;
    Status trimmed = view.txn().DeleteFromStartWhile(
        impl.tables_.log, [&](std::string_view key) {
          auto serial = DecodeBigEndian64(key);
          return serial && *serial <= cutoff;
        });
    if (!trimmed.ok()) {
      return Fail(Errc::kIo,
                  "trimming the change log: " + trimmed.error().Message());
    }
  }
  return view.txn().Commit("committing the change");
}

Result<uint64_t> Store::Serial() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  return TableView(txn, impl_->tables_).Serial();
}

Result<std::vector<ChangeEntry>> Store::ChangesSince(uint64_t since,
                                                     size_t max_entries) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  TableView view(txn, impl_->tables_);
  std::vector<ChangeEntry> out;
  const uint64_t serial = view.Serial();
  if (since >= serial) return out;
  DFS_ASSIGN_OR_RETURN(lmdb::Cursor cursor, txn.OpenCursor(impl_->tables_.log));
  DFS_ASSIGN_OR_RETURN(auto at, cursor.Seek(EncodeBigEndian64(since + 1)));
  uint64_t expect = since + 1;
  bool gap = false;
  while (at && out.size() < max_entries) {
    DFS_ASSIGN_OR_RETURN(ChangeEntry entry, DecodeChangeEntry(at->value));
    if (entry.serial != expect) {
      gap = true;
      break;
    }
    out.push_back(std::move(entry));
    ++expect;
    DFS_ASSIGN_OR_RETURN(at, cursor.Next());
  }
  if (gap || (out.empty() && since < serial)) {
    return Fail(Errc::kNeedResync, "the change log no longer holds serial " +
                                       std::to_string(since + 1));
  }
  return out;
}

Result<bool> Store::CatchUp(NamespaceIndex& index, bool allow_reload) const {
  auto reload = [&]() -> Result<bool> {
    if (!allow_reload) {
      return Fail(Errc::kNeedResync,
                  "the namespace must be reloaded from serial " +
                      std::to_string(index.Serial()));
    }
    DFS_RETURN_IF_ERROR(LoadInto(index));
    return true;
  };
  constexpr size_t kBatch = 1024;
  bool changed = false;
  for (;;) {
    auto changes = ChangesSince(index.Serial(), kBatch);
    if (!changes) {
      if (changes.error().code != make_error_code(Errc::kNeedResync)) {
        return Unexpected<Error>(std::move(changes).error());
      }
      return reload();
    }
    for (const ChangeEntry& entry : *changes) {
      if (entry.resync_required) return reload();
      for (const Mutation& m : entry.mutations) {
        // The index disagrees with the log: rebuild rather than drift.
        if (!index.Apply(m)) return reload();
      }
      index.SetSerial(entry.serial);
      changed = true;
    }
    if (changes->size() < kBatch) return changed;
  }
}

}  // namespace dfs::ns
