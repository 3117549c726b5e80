// Reading and changing a domain namespace kept in etcd (domain/layout.h),
// for dfsutil --etcd and for tests and benchmarks.
//
// A change is made exactly once or not at all:
//  1. read every key under the prefix at one revision R (the marker's
//     mod revision M with it) into a namespace;
//  2. run the command against a copy; the records that differ are the
//     change (nothing differs: nothing is sent);
//  3. one transaction: if the marker is still at M, put the marker, a
//     receipt for this change's random id (under a 10-minute lease) and
//     the records, and delete the removed ones.
// When another change came first the condition fails and nothing is
// applied: the command runs again against the namespace as it now is (up
// to `conflict_retries` times, after a short random pause), so admins
// changing different folders at once both succeed, and one adding what
// the other just added is told it is already there; past that, kConflict
// ("changed meanwhile, run the command again"). When the answer is lost
// (the member died mid-request) the outcome is unknown: the change reads
// again (step 1 on another member) and finds its receipt (it was made:
// done) or not (it was not, and never will be: the marker moved on or will
// fail its condition), then runs again, at most `attempts` times.
// Thread-safety: as EtcdClient.
#pragma once

#include <functional>
#include <string>

#include "dfs/domain/layout.h"
#include "dfs/domain_net/etcd_client.h"
#include "dfs/ns/index.h"

namespace dfs::domain_net {

struct DomainNamespace {
  ns::NamespaceIndex index;  // its Serial() is the revision read
  int64_t revision = 0;
  int64_t marker_mod_revision = 0;    // 0: no change made yet
  std::vector<std::string> receipts;  // change ids whose receipts are there
};

boost::asio::awaitable<Result<std::unique_ptr<DomainNamespace>>> ReadDomain(
    EtcdClient& client, std::string prefix);

struct ChangeOptions {
  std::string prefix = std::string(domain::kDefaultPrefix);
  domain::ChangeLimits limits;
  int attempts = 5;  // for unknown outcomes, not for conflicts
  int conflict_retries = 8;
};
struct ChangeOutcome {
  int64_t revision = 0;  // the revision the change made (or read, if none)
  bool changed = false;  // false: the command changed nothing
  int attempts = 1;  // reads and transactions, of every kind
};

// Errors: the command's (nothing sent), kConflict (other changes came
// first every time: nothing applied), kLimitExceeded (too large for one transaction),
// kUnavailable (no member answered `attempts` times; with
// `outcome_unknown` set when some attempt may have been applied: its
// receipt was not readable), etcd's.
boost::asio::awaitable<Result<ChangeOutcome>> ChangeDomain(
    EtcdClient& client, ChangeOptions options, std::string description,
    std::function<Status(ns::NamespaceWriter&)> change);

}  // namespace dfs::domain_net
