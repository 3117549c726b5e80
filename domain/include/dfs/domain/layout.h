// Where a domain namespace lives in etcd, and how changes move between
// etcd's keys and the namespace's mutations (domain/FORMAT.md). Pure: no
// sockets, no JSON; the etcd client (dfs::domain_net) carries the bytes.
//
// Under a prefix P (default "/dfs/"), one key per record, so a change is
// one etcd transaction over the records it touches and a watch on P sees
// every change as the events of one revision:
//   P rev                            the commit marker: every change puts it
//   P receipt/<change id>            a change's receipt (expires: a lease)
//   P r/<root key>                   EncodeRoot(root)
//   P f/<root key>\<folder key>      EncodeFolder(folder)
//   P a/<alias>                      canonical host
//   P s/<cidr>                       site
//   P c/<site a>\x1f<site b>         cost (decimal)
// Keys are the namespace's folded keys (namespace.h), so two spellings of
// one name are one key.
//
// A change is made optimistically: read everything at revision R, run the
// command against that copy, and commit the records that differ under the
// condition that P rev was last changed at R's marker revision; a change
// made meanwhile fails that condition and nothing is applied ("changed
// meanwhile, retry").
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/index.h"
#include "dfs/ns/namespace.h"

namespace dfs::domain {

inline constexpr std::string_view kDefaultPrefix = "/dfs/";
// Bounds on what a change may hold, below etcd's own defaults
// (--max-txn-ops 128, --max-request-bytes 1.5 MiB) unless told otherwise.
struct ChangeLimits {
  size_t max_operations = 128;
  size_t max_bytes = size_t{1} << 20;
};

// A prefix must start and end with '/' and hold no control characters.
Status ValidatePrefix(std::string_view prefix);

std::string MarkerKey(std::string_view prefix);
// Where change `id` leaves its receipt: finding it after an answer was
// lost tells that the change was made (and must not be made again).
std::string ReceiptKey(std::string_view prefix, std::string_view change_id);
// The first key after every key starting with `prefix` (etcd's range_end
// for "every key with this prefix").
std::string PrefixEnd(std::string_view prefix);

// The etcd key and value of the record a Put mutation makes (its Delete
// counterpart has the same key).
struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};
KeyValue RecordOf(std::string_view prefix, const ns::Mutation& put);
std::string KeyOf(std::string_view prefix, const ns::Mutation& mutation);

// Every record of `index` as etcd keys, sorted by key.
std::map<std::string, std::string> RecordsOf(std::string_view prefix,
                                             const ns::NamespaceIndex& index);

// What turns `before` into `after`: the keys to put (new or changed) and
// to delete.
struct RecordChanges {
  std::vector<KeyValue> puts;
  std::vector<std::string> deletes;
  bool empty() const { return puts.empty() && deletes.empty(); }
  size_t bytes() const;
};
RecordChanges Diff(const std::map<std::string, std::string>& before,
                   const std::map<std::string, std::string>& after);
// Ok when `changes` (plus the marker) fits `limits`; else kLimitExceeded
// saying what to do.
Status CheckFits(const RecordChanges& changes, const ChangeLimits& limits);

// One key as etcd reports it in a range or a watch event.
struct EtcdRecord {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  bool deleted = false;  // a watch DELETE event
};

// The mutation one record (put) or event (put or delete) under `prefix`
// stands for; nothing for the marker and receipts. Errors: kCorrupt (a key
// outside the layout, an undecodable value: a foreign or damaged key).
Result<std::optional<ns::Mutation>> MutationOf(std::string_view prefix,
                                               const EtcdRecord& record);

// The mutations of one revision's events, in an order the index and the
// store accept (folders go before their root is deleted and after it is
// put). The marker's value, when present, is the change's description.
struct RevisionChange {
  int64_t revision = 0;
  std::string description;
  std::vector<ns::Mutation> mutations;
};
Result<RevisionChange> ChangeOf(std::string_view prefix, int64_t revision,
                                const std::vector<EtcdRecord>& events);

// The records of a range read as Put mutations, in an order the index and
// the store accept (roots before their folders; marker and receipts left
// out). Errors: as MutationOf.
Result<std::vector<ns::Mutation>> PutsOf(
    std::string_view prefix, const std::vector<EtcdRecord>& records);
// A whole namespace from the records of a range read.
// Errors: as MutationOf, or the index's.
Status LoadRecords(std::string_view prefix,
                   const std::vector<EtcdRecord>& records,
                   ns::NamespaceIndex& index);

}  // namespace dfs::domain
