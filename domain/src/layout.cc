#include "dfs/domain/layout.h"

#include <algorithm>
#include <charconv>
#include <variant>

#include "dfs/common/error.h"
#include "dfs/ns/codec.h"

namespace dfs::domain {

namespace {

constexpr std::string_view kRoots = "r/", kFolders = "f/", kAliases = "a/",
                           kSubnets = "s/", kCosts = "c/", kMarker = "rev",
                           kReceipts = "receipt/";
constexpr char kSiteSeparator = '\x1f';

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string Key(std::string_view prefix, std::string_view table,
                std::string_view rest) {
  std::string key;
  key.reserve(prefix.size() + table.size() + rest.size());
  key.append(prefix).append(table).append(rest);
  return key;
}

std::string CostKey(std::string_view a, std::string_view b) {
  std::string k(a);
  k += kSiteSeparator;
  k.append(b);
  return k;
}

// Where a mutation goes in one revision's order (see ChangeOf).
int Rank(const ns::Mutation& m) {
  return std::visit(Overloaded{
                        [](const ns::DeleteFolder&) { return 0; },
                        [](const ns::DeleteRoot&) { return 1; },
                        [](const ns::DeleteSiteCost&) { return 2; },
                        [](const ns::DeleteSubnet&) { return 3; },
                        [](const ns::DeleteAlias&) { return 4; },
                        [](const ns::PutAlias&) { return 5; },
                        [](const ns::PutRoot&) { return 6; },
                        [](const ns::PutFolder&) { return 7; },
                        [](const ns::PutSubnet&) { return 8; },
                        [](const ns::PutSiteCost&) { return 9; },
                    },
                    m);
}

void Order(std::vector<ns::Mutation>& mutations) {
  std::stable_sort(mutations.begin(), mutations.end(),
                   [](const ns::Mutation& a, const ns::Mutation& b) {
                     return Rank(a) < Rank(b);
                   });
}

using MaybeMutation = std::optional<ns::Mutation>;

Error Foreign(std::string_view key, std::string_view why) {
  return Error{make_error_code(Errc::kCorrupt),
               "etcd key '" + std::string(key) + "': " + std::string(why)};
}

}  // namespace

Status ValidatePrefix(std::string_view prefix) {
  if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() != '/') {
    return Fail(Errc::kInvalidArgument,
                "an etcd prefix starts and ends with '/' (like /dfs/), not '" +
                    std::string(prefix) + "'");
  }
  if (prefix.size() > 256) {
    return Fail(Errc::kInvalidArgument, "the etcd prefix is over 256 bytes");
  }
  for (unsigned char c : prefix) {
    if (c < 0x20 || c == 0x7f) {
      return Fail(Errc::kInvalidArgument,
                  "the etcd prefix holds a control character");
    }
  }
  return Status::Ok();
}

std::string MarkerKey(std::string_view prefix) {
  return Key(prefix, kMarker, "");
}

std::string ReceiptKey(std::string_view prefix, std::string_view change_id) {
  return Key(prefix, kReceipts, change_id);
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: every key
}

std::string KeyOf(std::string_view prefix, const ns::Mutation& mutation) {
  return std::visit(
      Overloaded{
          [&](const ns::PutRoot& m) { return Key(prefix, kRoots, m.root_key); },
          [&](const ns::DeleteRoot& m) {
            return Key(prefix, kRoots, m.root_key);
          },
          [&](const ns::PutFolder& m) {
            return Key(prefix, kFolders,
                       ns::JoinKeys(m.root_key, m.folder_key));
          },
          [&](const ns::DeleteFolder& m) {
            return Key(prefix, kFolders,
                       ns::JoinKeys(m.root_key, m.folder_key));
          },
          [&](const ns::PutAlias& m) { return Key(prefix, kAliases, m.alias); },
          [&](const ns::DeleteAlias& m) {
            return Key(prefix, kAliases, m.alias);
          },
          [&](const ns::PutSubnet& m) { return Key(prefix, kSubnets, m.cidr); },
          [&](const ns::DeleteSubnet& m) {
            return Key(prefix, kSubnets, m.cidr);
          },
          [&](const ns::PutSiteCost& m) {
            return Key(prefix, kCosts, CostKey(m.site_a, m.site_b));
          },
          [&](const ns::DeleteSiteCost& m) {
            return Key(prefix, kCosts, CostKey(m.site_a, m.site_b));
          },
      },
      mutation);
}

KeyValue RecordOf(std::string_view prefix, const ns::Mutation& put) {
  KeyValue kv{KeyOf(prefix, put), ""};
  std::visit(
      Overloaded{
          [&](const ns::PutRoot& m) { kv.value = ns::EncodeRoot(m.root); },
          [&](const ns::PutFolder& m) {
            kv.value = ns::EncodeFolder(m.folder);
          },
          [&](const ns::PutAlias& m) { kv.value = m.canonical; },
          [&](const ns::PutSubnet& m) { kv.value = m.site; },
          [&](const ns::PutSiteCost& m) { kv.value = std::to_string(m.cost); },
          [](const auto&) {},  // deletes have no value
      },
      put);
  return kv;
}

std::map<std::string, std::string> RecordsOf(std::string_view prefix,
                                             const ns::NamespaceIndex& index) {
  std::map<std::string, std::string> out;
  index.ForEachRecord([&](ns::Mutation&& m) {
    KeyValue kv = RecordOf(prefix, m);
    out.emplace(std::move(kv.key), std::move(kv.value));
  });
  return out;
}

size_t RecordChanges::bytes() const {
  size_t n = 0;
  for (const auto& kv : puts) n += kv.key.size() + kv.value.size();
  for (const auto& k : deletes) n += k.size();
  return n;
}

RecordChanges Diff(const std::map<std::string, std::string>& before,
                   const std::map<std::string, std::string>& after) {
  RecordChanges out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.deletes.push_back(b->first);
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.puts.push_back({a->first, a->second});
      ++a;
    } else {
      if (a->second != b->second) out.puts.push_back({a->first, a->second});
      ++a;
      ++b;
    }
  }
  return out;
}

Status CheckFits(const RecordChanges& changes, const ChangeLimits& limits) {
  // The marker's put and its condition come with every change.
  const size_t operations = changes.puts.size() + changes.deletes.size() + 1;
  if (operations > limits.max_operations) {
    return Fail(Errc::kLimitExceeded,
                "this change touches " + std::to_string(operations - 1) +
                    " records; one etcd transaction takes at most " +
                    std::to_string(limits.max_operations) +
                    " operations: split it, or start etcd with a larger "
                    "--max-txn-ops and give dfsutil --etcd-max-ops");
  }
  if (changes.bytes() > limits.max_bytes) {
    return Fail(Errc::kLimitExceeded,
                "this change is " + std::to_string(changes.bytes()) +
                    " bytes; one etcd request takes at most " +
                    std::to_string(limits.max_bytes) +
                    ": split it, or start etcd with a larger "
                    "--max-request-bytes and give dfsutil --etcd-max-bytes");
  }
  return Status::Ok();
}

Result<std::optional<ns::Mutation>> MutationOf(std::string_view prefix,
                                               const EtcdRecord& record) {
  std::string_view key = record.key;
  if (!key.starts_with(prefix)) {
    return Unexpected(Foreign(key, "outside the prefix"));
  }
  key.remove_prefix(prefix.size());
  if (key == kMarker || key.starts_with(kReceipts)) {
    return MaybeMutation();
  }
  auto in = [&](std::string_view table) {
    if (!key.starts_with(table)) return false;
    key.remove_prefix(table.size());
    return true;
  };
  if (key.size() > ns::kMaxKeyBytes + 8) {
    return Unexpected(Foreign(record.key.substr(0, 64), "too long"));
  }
  if (in(kRoots)) {
    if (key.empty()) return Unexpected(Foreign(record.key, "no root key"));
    if (record.deleted) return MaybeMutation(ns::DeleteRoot{std::string(key)});
    auto root = ns::DecodeRoot(record.value);
    if (!root) return Unexpected(Foreign(record.key, root.error().Message()));
    return MaybeMutation(ns::PutRoot{std::string(key), std::move(*root)});
  }
  if (in(kFolders)) {
    // host\root\folder: the root key is up to the second separator.
    const size_t first = key.find('\\');
    const size_t second =
        first == key.npos ? key.npos : key.find('\\', first + 1);
    if (second == key.npos || second + 1 == key.size()) {
      return Unexpected(Foreign(record.key, "not root\\folder"));
    }
    std::string root_key(key.substr(0, second));
    std::string folder_key(key.substr(second + 1));
    if (record.deleted) {
      return MaybeMutation(
          ns::DeleteFolder{std::move(root_key), std::move(folder_key)});
    }
    auto folder = ns::DecodeFolder(record.value);
    if (!folder) {
      return Unexpected(Foreign(record.key, folder.error().Message()));
    }
    return MaybeMutation(ns::PutFolder{
        std::move(root_key), std::move(folder_key), std::move(*folder)});
  }
  if (in(kAliases)) {
    if (key.empty()) return Unexpected(Foreign(record.key, "no alias"));
    if (record.deleted) return MaybeMutation(ns::DeleteAlias{std::string(key)});
    if (record.value.empty() || record.value.size() > ns::kMaxKeyBytes) {
      return Unexpected(Foreign(record.key, "not a host name"));
    }
    return MaybeMutation(ns::PutAlias{std::string(key), record.value});
  }
  if (in(kSubnets)) {
    if (key.empty() || key.size() > ns::kMaxCidrBytes) {
      return Unexpected(Foreign(record.key, "not a subnet"));
    }
    if (record.deleted) {
      return MaybeMutation(ns::DeleteSubnet{std::string(key)});
    }
    if (record.value.empty() || record.value.size() > ns::kMaxKeyBytes) {
      return Unexpected(Foreign(record.key, "not a site name"));
    }
    return MaybeMutation(ns::PutSubnet{std::string(key), record.value});
  }
  if (in(kCosts)) {
    const size_t sep = key.find(kSiteSeparator);
    if (sep == key.npos || sep == 0 || sep + 1 == key.size()) {
      return Unexpected(Foreign(record.key, "not two sites"));
    }
    std::string a(key.substr(0, sep)), b(key.substr(sep + 1));
    if (record.deleted) {
      return MaybeMutation(ns::DeleteSiteCost{std::move(a), std::move(b)});
    }
    uint32_t cost = 0;
    const auto* end = record.value.data() + record.value.size();
    auto [ptr, ec] = std::from_chars(record.value.data(), end, cost);
    if (ec != std::errc() || ptr != end || record.value.empty()) {
      return Unexpected(Foreign(record.key, "a cost that is not a number"));
    }
    return MaybeMutation(ns::PutSiteCost{std::move(a), std::move(b), cost});
  }
  return Unexpected(Foreign(record.key, "not a dfs record"));
}

Result<RevisionChange> ChangeOf(std::string_view prefix, int64_t revision,
                                const std::vector<EtcdRecord>& events) {
  RevisionChange change;
  change.revision = revision;
  for (const EtcdRecord& e : events) {
    DFS_ASSIGN_OR_RETURN(auto m, MutationOf(prefix, e));
    if (m) {
      change.mutations.push_back(std::move(*m));
    } else if (!e.deleted && e.key == MarkerKey(prefix)) {
      change.description = e.value.substr(0, ns::kMaxDescriptionBytes);
    }
  }
  Order(change.mutations);
  return change;
}

Result<std::vector<ns::Mutation>> PutsOf(
    std::string_view prefix, const std::vector<EtcdRecord>& records) {
  std::vector<ns::Mutation> puts;
  puts.reserve(records.size());
  for (const EtcdRecord& r : records) {
    if (r.deleted) return Unexpected(Foreign(r.key, "a deletion in a read"));
    DFS_ASSIGN_OR_RETURN(auto m, MutationOf(prefix, r));
    if (m) puts.push_back(std::move(*m));
  }
  Order(puts);
  return puts;
}

Status LoadRecords(std::string_view prefix,
                   const std::vector<EtcdRecord>& records,
                   ns::NamespaceIndex& index) {
  DFS_ASSIGN_OR_RETURN(auto puts, PutsOf(prefix, records));
  index.Clear();
  for (const ns::Mutation& m : puts) DFS_RETURN_IF_ERROR(index.Apply(m));
  return Status::Ok();
}

}  // namespace dfs::domain
