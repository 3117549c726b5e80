// What a replica store does that a primary does not: it is marked as a
// copy (local changes are refused), applies its primary's change-log
// entries in serial order, or replaces everything with a snapshot; and
// what a primary hands out for that: the snapshot of its whole namespace.
#include "store_tables.h"

namespace dfs::ns {

Status Store::MarkReplicaOf(std::string_view primary) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginWrite());
  TableView view(txn, impl_->tables_);
  DFS_RETURN_IF_ERROR(view.Put(impl_->tables_.meta, "replica_of", primary));
  return txn.Commit("marking the store a replica");
}

Result<std::optional<std::string>> Store::ReplicaOf() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(auto primary,
                       txn.Get(impl_->tables_.meta, "replica_of"));
  if (!primary) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*primary));
}

Status Store::ApplyReplicated(const ChangeEntry& entry) {
  if (entry.resync_required) {
    return Fail(Errc::kNeedResync,
                "serial " + std::to_string(entry.serial) +
                    " was too large to log; fetch a snapshot");
  }
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginWrite());
  TableView view(txn, impl_->tables_);
  if (entry.serial != view.Serial() + 1) {
    return Fail(Errc::kConflict, "replicated serial " +
                                     std::to_string(entry.serial) +
                                     " does not follow local serial " +
                                     std::to_string(view.Serial()));
  }
  for (const Mutation& m : entry.mutations) DFS_RETURN_IF_ERROR(view.Apply(m));
  return CommitEntry(*impl_, view, entry);
}

namespace {

// Replaces every record with `puts` in `view`'s transaction (the change
// log too unless `keep_log`) and commits one resync entry at `serial`: a
// follower of this store reloads rather than replays.
Status ReplaceAllRecords(const Store::Impl& impl, TableView& view,
                         const std::vector<Mutation>& puts, uint64_t serial,
                         std::string description, bool keep_log) {
  const StoreTables& t = impl.tables_;
  for (lmdb::Dbi table : {t.roots, t.folders, t.aliases, t.log, t.sites}) {
    if (keep_log && table == t.log) continue;
    DFS_RETURN_IF_ERROR(view.txn().Clear(table));
  }
  for (const Mutation& m : puts) DFS_RETURN_IF_ERROR(view.Apply(m));
  ChangeEntry marker;
  marker.serial = serial;
  marker.unix_millis = NowMillis(impl.options_);
  marker.description = std::move(description);
  marker.resync_required = true;
  return CommitEntry(impl, view, marker);
}

}  // namespace

Status Store::ReplaceWith(const ChangeEntry& snapshot) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginWrite());
  TableView view(txn, impl_->tables_);
  return ReplaceAllRecords(*impl_, view, snapshot.mutations, snapshot.serial,
                           "snapshot from the primary", /*keep_log=*/false);
}

namespace {

constexpr std::string_view kSourceRevision = "source_revision";

Result<uint64_t> SourceRevisionIn(lmdb::Txn& txn, const StoreTables& t) {
  DFS_ASSIGN_OR_RETURN(auto held, txn.Get(t.meta, kSourceRevision));
  if (!held) return uint64_t{0};
  auto revision = DecodeBigEndian64(*held);
  if (!revision) {
    return Fail(Errc::kCorrupt, "the store's source revision is damaged");
  }
  return *revision;
}

// Records `source_revision` in `view`'s transaction; kConflict when it
// does not move forward.
Status AdvanceSourceRevision(TableView& view, const StoreTables& t,
                             uint64_t source_revision) {
  DFS_ASSIGN_OR_RETURN(uint64_t held, SourceRevisionIn(view.txn(), t));
  if (source_revision <= held) {
    return Fail(Errc::kConflict,
                "source revision " + std::to_string(source_revision) +
                    " is not after the store's " + std::to_string(held));
  }
  return view.Put(t.meta, kSourceRevision, EncodeBigEndian64(source_revision));
}

}  // namespace

Status Store::ApplyMirrored(std::string_view description,
                            const std::vector<Mutation>& mutations,
                            uint64_t source_revision) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginWrite());
  TableView view(txn, impl_->tables_);
  DFS_RETURN_IF_ERROR(
      AdvanceSourceRevision(view, impl_->tables_, source_revision));
  ChangeEntry entry;
  entry.serial = view.Serial() + 1;
  entry.unix_millis = NowMillis(impl_->options_);
  entry.description = std::string(description.substr(0, kMaxDescriptionBytes));
  for (const Mutation& m : mutations) DFS_RETURN_IF_ERROR(view.Apply(m));
  if (mutations.size() > kMaxLoggedMutations) {
    entry.resync_required = true;  // as Update logs a huge change
  } else {
    entry.mutations = mutations;
  }
  return CommitEntry(*impl_, view, entry);
}

Status Store::ReplaceWithMirror(const std::vector<Mutation>& puts,
                                uint64_t source_revision) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginWrite());
  TableView view(txn, impl_->tables_);
  DFS_RETURN_IF_ERROR(
      AdvanceSourceRevision(view, impl_->tables_, source_revision));
  // The local log goes on (serials stay consecutive for its followers).
  return ReplaceAllRecords(*impl_, view, puts, view.Serial() + 1,
                           "the whole namespace from its source",
                           /*keep_log=*/true);
}

Result<uint64_t> Store::SourceRevision() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  return SourceRevisionIn(txn, impl_->tables_);
}

Result<ChangeEntry> Store::SnapshotEntry() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  TableView view(txn, impl_->tables_);
  ChangeEntry snapshot;
  snapshot.serial = view.Serial();
  snapshot.description = "snapshot";
  DFS_RETURN_IF_ERROR(ScanRecords(view, [&](Mutation&& m) {
    snapshot.mutations.push_back(std::move(m));
    return Status::Ok();
  }));
  return snapshot;
}

}  // namespace dfs::ns
