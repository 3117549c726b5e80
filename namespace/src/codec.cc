#include "dfs/ns/codec.h"

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"
#include "dfs/ns/path.h"

namespace dfs::ns {
namespace {

enum class MutationTag : uint8_t {
  kPutRoot = 1,
  kDeleteRoot = 2,
  kPutFolder = 3,
  kDeleteFolder = 4,
  kPutAlias = 5,
  kDeleteAlias = 6,
  kPutSubnet = 7,
  kDeleteSubnet = 8,
  kPutSiteCost = 9,
  kDeleteSiteCost = 10,
};

void WriteTarget(ByteWriter& w, const Target& t) {
  w.String(t.server);
  w.String(t.share);
  w.U8(static_cast<uint8_t>(t.state));
  w.U8(static_cast<uint8_t>(t.priority_class));
  w.U8(t.priority_rank);
  w.String(t.site);
}

template <typename Enum>
Result<Enum> ReadEnum(ByteReader& r, std::string_view what, uint8_t max) {
  DFS_ASSIGN_OR_RETURN(uint8_t v, r.U8(what));
  if (v > max) {
    return Fail(Errc::kCorrupt,
                std::string(what) + " has unknown value " + std::to_string(v));
  }
  return static_cast<Enum>(v);
}

Result<Target> ReadTarget(ByteReader& r) {
  Target t;
  DFS_ASSIGN_OR_RETURN(t.server, r.String("target server", kMaxHostBytes));
  DFS_ASSIGN_OR_RETURN(t.share, r.String("target share", kMaxPathBytes));
  DFS_ASSIGN_OR_RETURN(t.state, ReadEnum<State>(r, "target state", 1));
  DFS_ASSIGN_OR_RETURN(t.priority_class,
                       ReadEnum<PriorityClass>(r, "priority class", 4));
  DFS_ASSIGN_OR_RETURN(t.priority_rank, r.U8("priority rank"));
  if (t.priority_rank > kMaxPriorityRank) {
    return Fail(Errc::kCorrupt,
                "priority rank " + std::to_string(t.priority_rank) +
                    " is above " + std::to_string(kMaxPriorityRank));
  }
  DFS_ASSIGN_OR_RETURN(t.site, r.String("target site", kMaxSiteNameBytes));
  return t;
}

void WriteTargets(ByteWriter& w, const std::vector<Target>& targets) {
  w.U32(static_cast<uint32_t>(targets.size()));
  for (const auto& t : targets) WriteTarget(w, t);
}

Result<std::vector<Target>> ReadTargets(ByteReader& r) {
  DFS_ASSIGN_OR_RETURN(uint32_t n, r.U32("target count"));
  if (n > kMaxTargetsPerFolder) {
    return Fail(Errc::kLimitExceeded, std::to_string(n) +
                                          " targets; the limit is " +
                                          std::to_string(kMaxTargetsPerFolder));
  }
  // A target takes at least 15 bytes; refuse counts the input cannot hold
  // before reserving memory for them.
  if (n > r.remaining() / 15) {
    return Fail(Errc::kCorrupt, "target count " + std::to_string(n) +
                                    " exceeds what the record holds");
  }
  std::vector<Target> targets;
  targets.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    DFS_ASSIGN_OR_RETURN(Target t, ReadTarget(r));
    targets.push_back(std::move(t));
  }
  return targets;
}

Status ReadVersion(ByteReader& r, std::string_view what) {
  DFS_ASSIGN_OR_RETURN(uint8_t v, r.U8(what));
  if (v != kRecordVersion) {
    return Fail(Errc::kUnsupported, std::string(what) + " version " +
                                        std::to_string(v) +
                                        " (this build reads version " +
                                        std::to_string(kRecordVersion) + ")");
  }
  return Status::Ok();
}

void WriteRootBody(ByteWriter& w, const Root& root) {
  w.U8(kRecordVersion);
  w.String(root.host);
  w.String(root.name);
  w.U32(root.ttl_seconds);
  w.U8(root.failback ? 1 : 0);
  w.U8(static_cast<uint8_t>(root.ordering));
  w.U8(static_cast<uint8_t>(root.state));
  w.String(root.comment);
  WriteTargets(w, root.targets);
}

Result<Root> ReadRootBody(ByteReader& r) {
  DFS_RETURN_IF_ERROR(ReadVersion(r, "root record"));
  Root root;
  DFS_ASSIGN_OR_RETURN(root.host, r.String("root host", kMaxHostBytes));
  DFS_ASSIGN_OR_RETURN(root.name, r.String("root name", kMaxComponentBytes));
  DFS_ASSIGN_OR_RETURN(root.ttl_seconds, r.U32("root TTL"));
  DFS_ASSIGN_OR_RETURN(uint8_t failback, r.U8("root failback"));
  if (failback > 1) return Fail(Errc::kCorrupt, "root failback is not 0 or 1");
  root.failback = failback == 1;
  DFS_ASSIGN_OR_RETURN(root.ordering,
                       ReadEnum<OrderingMethod>(r, "ordering method", 2));
  DFS_ASSIGN_OR_RETURN(root.state, ReadEnum<State>(r, "root state", 1));
  DFS_ASSIGN_OR_RETURN(root.comment, r.String("comment", kMaxCommentBytes));
  DFS_ASSIGN_OR_RETURN(root.targets, ReadTargets(r));
  return root;
}

void WriteFolderBody(ByteWriter& w, const Folder& folder) {
  w.U8(kRecordVersion);
  w.String(folder.path);
  w.U32(folder.ttl_seconds);
  w.U8(static_cast<uint8_t>(folder.failback));
  w.String(folder.comment);
  w.U8(static_cast<uint8_t>(folder.state));
  WriteTargets(w, folder.targets);
}

Result<Folder> ReadFolderBody(ByteReader& r) {
  DFS_RETURN_IF_ERROR(ReadVersion(r, "folder record"));
  Folder folder;
  DFS_ASSIGN_OR_RETURN(folder.path, r.String("folder path", kMaxPathBytes));
  DFS_ASSIGN_OR_RETURN(folder.ttl_seconds, r.U32("folder TTL"));
  DFS_ASSIGN_OR_RETURN(folder.failback,
                       ReadEnum<Failback>(r, "folder failback", 2));
  DFS_ASSIGN_OR_RETURN(folder.comment, r.String("comment", kMaxCommentBytes));
  DFS_ASSIGN_OR_RETURN(folder.state, ReadEnum<State>(r, "folder state", 1));
  DFS_ASSIGN_OR_RETURN(folder.targets, ReadTargets(r));
  return folder;
}

struct MutationWriter {
  ByteWriter& w;
  void operator()(const PutRoot& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kPutRoot));
    w.String(m.root_key);
    WriteRootBody(w, m.root);
  }
  void operator()(const DeleteRoot& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kDeleteRoot));
    w.String(m.root_key);
  }
  void operator()(const PutFolder& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kPutFolder));
    w.String(m.root_key);
    w.String(m.folder_key);
    WriteFolderBody(w, m.folder);
  }
  void operator()(const DeleteFolder& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kDeleteFolder));
    w.String(m.root_key);
    w.String(m.folder_key);
  }
  void operator()(const PutAlias& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kPutAlias));
    w.String(m.alias);
    w.String(m.canonical);
  }
  void operator()(const DeleteAlias& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kDeleteAlias));
    w.String(m.alias);
  }
  void operator()(const PutSubnet& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kPutSubnet));
    w.String(m.cidr);
    w.String(m.site);
  }
  void operator()(const DeleteSubnet& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kDeleteSubnet));
    w.String(m.cidr);
  }
  void operator()(const PutSiteCost& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kPutSiteCost));
    w.String(m.site_a);
    w.String(m.site_b);
    w.U32(m.cost);
  }
  void operator()(const DeleteSiteCost& m) {
    w.U8(static_cast<uint8_t>(MutationTag::kDeleteSiteCost));
    w.String(m.site_a);
    w.String(m.site_b);
  }
};

Result<Mutation> ReadMutation(ByteReader& r) {
  DFS_ASSIGN_OR_RETURN(uint8_t tag, r.U8("mutation tag"));
  switch (static_cast<MutationTag>(tag)) {
    case MutationTag::kPutRoot: {
      PutRoot m;
      DFS_ASSIGN_OR_RETURN(m.root_key, r.String("root key", kMaxKeyBytes));
      DFS_ASSIGN_OR_RETURN(m.root, ReadRootBody(r));
      return Mutation(std::move(m));
    }
    case MutationTag::kDeleteRoot: {
      DeleteRoot m;
      DFS_ASSIGN_OR_RETURN(m.root_key, r.String("root key", kMaxKeyBytes));
      return Mutation(std::move(m));
    }
    case MutationTag::kPutFolder: {
      PutFolder m;
      DFS_ASSIGN_OR_RETURN(m.root_key, r.String("root key", kMaxKeyBytes));
      DFS_ASSIGN_OR_RETURN(m.folder_key, r.String("folder key", kMaxKeyBytes));
      DFS_ASSIGN_OR_RETURN(m.folder, ReadFolderBody(r));
      return Mutation(std::move(m));
    }
    case MutationTag::kDeleteFolder: {
      DeleteFolder m;
      DFS_ASSIGN_OR_RETURN(m.root_key, r.String("root key", kMaxKeyBytes));
      DFS_ASSIGN_OR_RETURN(m.folder_key, r.String("folder key", kMaxKeyBytes));
      return Mutation(std::move(m));
    }
    case MutationTag::kPutAlias: {
      PutAlias m;
      DFS_ASSIGN_OR_RETURN(m.alias, r.String("alias", kMaxHostBytes));
      DFS_ASSIGN_OR_RETURN(m.canonical, r.String("canonical", kMaxHostBytes));
      return Mutation(std::move(m));
    }
    case MutationTag::kPutSubnet: {
      PutSubnet m;
      DFS_ASSIGN_OR_RETURN(m.cidr, r.String("subnet", kMaxCidrBytes));
      DFS_ASSIGN_OR_RETURN(m.site, r.String("site", kMaxSiteNameBytes));
      return Mutation(std::move(m));
    }
    case MutationTag::kDeleteSubnet: {
      DeleteSubnet m;
      DFS_ASSIGN_OR_RETURN(m.cidr, r.String("subnet", kMaxCidrBytes));
      return Mutation(std::move(m));
    }
    case MutationTag::kPutSiteCost: {
      PutSiteCost m;
      DFS_ASSIGN_OR_RETURN(m.site_a, r.String("site", kMaxSiteNameBytes));
      DFS_ASSIGN_OR_RETURN(m.site_b, r.String("site", kMaxSiteNameBytes));
      DFS_ASSIGN_OR_RETURN(m.cost, r.U32("site cost"));
      return Mutation(std::move(m));
    }
    case MutationTag::kDeleteSiteCost: {
      DeleteSiteCost m;
      DFS_ASSIGN_OR_RETURN(m.site_a, r.String("site", kMaxSiteNameBytes));
      DFS_ASSIGN_OR_RETURN(m.site_b, r.String("site", kMaxSiteNameBytes));
      return Mutation(std::move(m));
    }
    case MutationTag::kDeleteAlias: {
      DeleteAlias m;
      DFS_ASSIGN_OR_RETURN(m.alias, r.String("alias", kMaxHostBytes));
      return Mutation(std::move(m));
    }
  }
  return Fail(Errc::kCorrupt, "unknown mutation tag " + std::to_string(tag));
}

}  // namespace

std::string EncodeRoot(const Root& root) {
  ByteWriter w;
  WriteRootBody(w, root);
  return w.Take();
}

Result<Root> DecodeRoot(std::string_view bytes) {
  ByteReader r(bytes);
  DFS_ASSIGN_OR_RETURN(Root root, ReadRootBody(r));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("root record"));
  return root;
}

std::string EncodeFolder(const Folder& folder) {
  ByteWriter w;
  WriteFolderBody(w, folder);
  return w.Take();
}

Result<Folder> DecodeFolder(std::string_view bytes) {
  ByteReader r(bytes);
  DFS_ASSIGN_OR_RETURN(Folder folder, ReadFolderBody(r));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("folder record"));
  return folder;
}

std::string EncodeChangeEntry(const ChangeEntry& entry) {
  ByteWriter w;
  w.U8(kRecordVersion);
  w.U64(entry.serial);
  w.U64(static_cast<uint64_t>(entry.unix_millis));
  w.String(entry.description);
  w.U8(entry.resync_required ? 1 : 0);
  w.U32(static_cast<uint32_t>(entry.mutations.size()));
  for (const auto& m : entry.mutations) std::visit(MutationWriter{w}, m);
  return w.Take();
}

Result<ChangeEntry> DecodeChangeEntry(std::string_view bytes,
                                      size_t max_mutations) {
  ByteReader r(bytes);
  DFS_RETURN_IF_ERROR(ReadVersion(r, "change entry"));
  ChangeEntry e;
  DFS_ASSIGN_OR_RETURN(e.serial, r.U64("serial"));
  DFS_ASSIGN_OR_RETURN(uint64_t millis, r.U64("time"));
  e.unix_millis = static_cast<int64_t>(millis);
  DFS_ASSIGN_OR_RETURN(e.description,
                       r.String("description", kMaxDescriptionBytes));
  DFS_ASSIGN_OR_RETURN(uint8_t resync, r.U8("resync flag"));
  if (resync > 1) return Fail(Errc::kCorrupt, "resync flag is not 0 or 1");
  e.resync_required = resync == 1;
  DFS_ASSIGN_OR_RETURN(uint32_t n, r.U32("mutation count"));
  if (n > max_mutations) {
    return Fail(Errc::kLimitExceeded,
                std::to_string(n) + " mutations in one change; the limit is " +
                    std::to_string(max_mutations));
  }
  if (e.resync_required && n != 0) {
    return Fail(Errc::kCorrupt, "a resync entry carries mutations");
  }
  // Every mutation takes at least 5 bytes (tag + a length), so a count the
  // input cannot hold is rejected before reserving for it.
  if (n > r.remaining() / 5) {
    return Fail(Errc::kCorrupt, "mutation count " + std::to_string(n) +
                                    " exceeds what the entry holds");
  }
  e.mutations.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    DFS_ASSIGN_OR_RETURN(Mutation m, ReadMutation(r));
    e.mutations.push_back(std::move(m));
  }
  DFS_RETURN_IF_ERROR(r.ExpectEnd("change entry"));
  return e;
}

}  // namespace dfs::ns
