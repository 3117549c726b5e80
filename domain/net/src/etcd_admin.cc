#include "dfs/domain_net/etcd_admin.h"

#include <algorithm>
#include <random>

#include "dfs/common/coroutines.h"
#include "dfs/common/error.h"

namespace dfs::domain_net {

using namespace dfs::coroutines;

namespace {

constexpr int64_t kReceiptSeconds = 600;

std::string NewChangeId() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> any;
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx",
                static_cast<unsigned long long>(any(rd)),
                static_cast<unsigned long long>(any(rd)));
  return text;
}

awaitable<Result<int64_t>> GrantLease(EtcdClient& client) {
  auto body = co_await client.Post("/v3/lease/grant",
                                   domain::LeaseGrantRequest(kReceiptSeconds));
  if (!body) co_return Unexpected(body.error());
  co_return domain::ParseLeaseGrantResponse(*body);
}

}  // namespace

awaitable<Result<std::unique_ptr<DomainNamespace>>> ReadDomain(
    EtcdClient& client, std::string prefix) {
  Status valid = domain::ValidatePrefix(prefix);
  if (!valid.ok()) co_return Unexpected(valid.error());
  auto range = co_await client.RangeAll(prefix, domain::PrefixEnd(prefix));
  if (!range) co_return Unexpected(range.error());
  auto out = std::make_unique<DomainNamespace>();
  out->revision = range->revision;
  const std::string marker = domain::MarkerKey(prefix);
  const std::string receipts = domain::ReceiptKey(prefix, "");
  for (const auto& r : range->records) {
    if (r.key == marker) out->marker_mod_revision = r.mod_revision;
    if (r.key.starts_with(receipts))
      out->receipts.push_back(r.key.substr(receipts.size()));
  }
  Status loaded = domain::LoadRecords(prefix, range->records, out->index);
  if (!loaded.ok()) co_return Unexpected(loaded.error());
  out->index.SetSerial(static_cast<uint64_t>(out->revision));
  co_return out;
}

awaitable<Result<ChangeOutcome>> ChangeDomain(
    EtcdClient& client, ChangeOptions options, std::string description,
    std::function<Status(ns::NamespaceWriter&)> change) {
  const std::string id = NewChangeId();
  const std::string marker_value = description + " [change " + id + "]";
  // Whether a transaction of ours was sent and its answer lost: until a
  // read settles it, it may have been made.
  bool lost = false;
  // Whether any transaction of ours went unanswered: one still in flight
  // may be what makes a later attempt's condition fail.
  bool ever_lost = false;
  Error last{make_error_code(Errc::kUnavailable), "etcd did not answer"};
  auto made = [&](const DomainNamespace& read) {
    return std::find(read.receipts.begin(), read.receipts.end(), id) !=
           read.receipts.end();
  };
  // Attempts of either kind: `attempts` bounds those whose answer was
  // lost, `conflict_retries` those another change came first to.
  int attempt = 0, unanswered = 0, conflicts = 0;
  std::minstd_rand jitter(std::random_device{}());
  while (unanswered < std::max(1, options.attempts)) {
    ++attempt;
    auto read = co_await ReadDomain(client, options.prefix);
    if (!read) {
      last = read.error();
      if (read.error().code != make_error_code(Errc::kUnavailable)) break;
      ++unanswered;
      continue;
    }
    DomainNamespace& ns = **read;
    if (made(ns)) co_return ChangeOutcome{ns.revision, true, attempt};
    // A lost transaction not made by now never will be: it was
    // conditional on a marker revision this read has (or one before it).
    lost = false;
    // The command runs against the namespace read; what differs is the
    // change.
    const auto records_before = domain::RecordsOf(options.prefix, ns.index);
    Status ran = change(ns.index);
    if (!ran.ok()) co_return Unexpected(ran.error());
    const domain::RecordChanges changes = domain::Diff(
        records_before, domain::RecordsOf(options.prefix, ns.index));
    if (changes.empty()) co_return ChangeOutcome{ns.revision, false, attempt};
    Status fits = domain::CheckFits(changes, options.limits);
    if (!fits.ok()) co_return Unexpected(fits.error());
    auto lease = co_await GrantLease(client);
    if (!lease) {
      last = lease.error();
      if (lease.error().code != make_error_code(Errc::kUnavailable)) break;
      ++unanswered;
      continue;
    }
    auto txn = co_await client.Txn(domain::ChangeTxnRequest(
        domain::MarkerKey(options.prefix), ns.marker_mod_revision, marker_value,
        domain::ReceiptKey(options.prefix, id), *lease, changes));
    if (txn && txn->succeeded) {
      co_return ChangeOutcome{txn->revision, true, attempt};
    }
    if (txn && ever_lost) {
      auto again = co_await ReadDomain(client, options.prefix);
      if (again && made(**again)) {
        co_return ChangeOutcome{(*again)->revision, true, attempt};
      }
    }
    if (txn && conflicts < options.conflict_retries) {
      // Another change came first; nothing of ours was applied. The
      // command runs again against the namespace as it now is (so it is
      // checked again: a folder added meanwhile is "already there"),
      // after a short random pause that lets racing admins part.
      ++conflicts;
      asio::steady_timer pause(co_await asio::this_coro::executor);
      pause.expires_after(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(
              5, 20 << std::min(conflicts, 4))(jitter)));
      boost::system::error_code ignored;
      co_await pause.async_wait(redirect_error(use_awaitable, ignored));
      continue;
    }
    if (txn) {
      co_return Fail(Errc::kConflict,
                     "the namespace changed meanwhile (etcd revision " +
                         std::to_string(ns.revision) + " -> " +
                         std::to_string(txn->revision) + ", " +
                         std::to_string(conflicts + 1) +
                         " tries); nothing was applied: run the command "
                         "again");
    }
    last = txn.error();
    ++unanswered;
    if (txn.error().code != make_error_code(Errc::kUnavailable)) break;
    // The answer was lost: the next read looks for the receipt.
    lost = ever_lost = true;
  }
  if (lost) {
    last.context +=
        " (the change may or may not have been made: no etcd "
        "member could say; look with 'dfsutil show')";
  }
  co_return Unexpected(last);
}

}  // namespace dfs::domain_net
