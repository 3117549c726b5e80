// Issue 16's figures, for bench/domain_bench.sh:
//   seed:    writes a local store's whole namespace into etcd under the
//            prefix (batches of --batch records a transaction), so a
//            domain-mode dfsd and a local-mode one serve the same folders;
//   changes: makes --changes changes through the real admin path
//            (domain_net::ChangeDomain, as dfsutil --etcd) and times each
//            from its acknowledgement until every dfsd named answers it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "dfs/domain/etcd_json.h"
#include "dfs/domain/layout.h"
#include "dfs/domain_net/etcd_admin.h"
#include "dfs/ns/admin.h"
#include "dfs/ns/store.h"
#include "dfs/referral/codec.h"
#include "dfs/referral_net/client.h"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

int Seed(dfs::domain_net::EtcdOptions options, const std::string& prefix,
         const std::string& store_dir, size_t batch) {
  auto store = dfs::ns::Store::Open(store_dir);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().Message().c_str());
    return 1;
  }
  dfs::ns::NamespaceIndex index;
  if (!(*store)->LoadInto(index).ok()) return 1;
  const auto records = dfs::domain::RecordsOf(prefix, index);
  const auto start = SteadyClock::now();
  auto status = dfs::domain_net::RunBlocking<dfs::Status>(
      [&](asio::any_io_executor ex) -> asio::awaitable<dfs::Status> {
        auto client = dfs::domain_net::EtcdClient::Create(ex, options);
        if (!client) co_return dfs::Unexpected(client.error());
        auto it = records.begin();
        while (it != records.end()) {
          std::vector<dfs::domain::KeyValue> puts;
          for (; puts.size() < batch && it != records.end(); ++it)
            puts.push_back({it->first, it->second});
          std::string body = dfs::domain::PutTxnRequest(puts);
          auto txn = co_await (*client)->Txn(body);
          if (!txn) co_return dfs::Unexpected(txn.error());
        }
        co_return dfs::Status::Ok();
      });
  if (!status.ok()) {
    std::fprintf(stderr, "seed: %s\n", status.error().Message().c_str());
    return 1;
  }
  std::printf(
      "seeded %zu records in %.1f s\n", records.size(),
      std::chrono::duration<double>(SteadyClock::now() - start).count());
  return 0;
}

bool Answers(const std::string& server, const std::string& path,
             const std::string& target) {
  auto bytes = dfs::referral_net::FetchReferral(server, {4, path}, 1000ms);
  if (!bytes) return false;
  auto d = dfs::referral::DecodeResponse(*bytes);
  return d && !d->entries.empty() && d->entries[0].network_address == target;
}

int Changes(dfs::domain_net::EtcdOptions options, const std::string& prefix,
            const std::vector<std::string>& servers, int changes) {
  std::vector<double> ms;
  int conflicts = 0;
  for (int i = 0; i < changes; ++i) {
    const std::string folder = "Bench" + std::to_string(i);
    const std::string path = "\\\\contoso\\webfarm\\" + folder;
    const std::string target = "\\\\web9\\content\\" + folder;
    auto outcome = dfs::domain_net::RunBlocking<
        dfs::Result<dfs::domain_net::ChangeOutcome>>(
        [&](asio::any_io_executor ex)
            -> asio::awaitable<dfs::Result<dfs::domain_net::ChangeOutcome>> {
          auto client = dfs::domain_net::EtcdClient::Create(ex, options);
          if (!client) co_return dfs::Unexpected(client.error());
          dfs::domain_net::ChangeOptions change;
          change.prefix = prefix;
          co_return co_await dfs::domain_net::ChangeDomain(
              **client, change, "link add " + path,
              [&](dfs::ns::NamespaceWriter& w) {
                return dfs::ns::AddLink(w, path, target);
              });
        });
    if (!outcome) {
      std::fprintf(stderr, "change %d: %s\n", i,
                   outcome.error().Message().c_str());
      return 1;
    }
    conflicts += outcome->attempts - 1;
    const auto acknowledged = SteadyClock::now();
    const std::string asked = "\\contoso\\webfarm\\" + folder;
    const std::string expected = "\\web9\\content\\" + folder;
    std::vector<bool> seen(servers.size(), false);
    for (;;) {
      bool all = true;
      for (size_t s = 0; s < servers.size(); ++s) {
        if (!seen[s]) seen[s] = Answers(servers[s], asked, expected);
        all = all && seen[s];
      }
      if (all) break;
      if (SteadyClock::now() - acknowledged > 30s) {
        std::fprintf(stderr, "change %d not visible everywhere in 30 s\n", i);
        return 1;
      }
    }
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() -
                                                           acknowledged)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  std::printf(
      "change -> visible on all %zu dfsd, %d changes: p50 %.0f ms, p99 %.0f "
      "ms, max %.0f ms\n",
      servers.size(), changes, pct(0.5), pct(0.99), ms.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"domain namespace figures (issue 16)"};
  std::string etcd, prefix = "/dfs/", store;
  std::vector<std::string> servers;
  int changes = 200;
  size_t batch = 100;
  app.add_option("--etcd", etcd)->required();
  app.add_option("--prefix", prefix);
  app.add_option("--seed-from", store, "seed etcd from this local store");
  app.add_option("--batch", batch, "records a transaction when seeding");
  app.add_option("--dfsd", servers, "IP:PORT of each domain-mode dfsd");
  app.add_option("--changes", changes);
  CLI11_PARSE(app, argc, argv);
  auto endpoints = dfs::domain_net::ParseEndpoints(etcd);
  if (!endpoints) {
    std::fprintf(stderr, "%s\n", endpoints.error().Message().c_str());
    return 2;
  }
  dfs::domain_net::EtcdOptions options;
  options.endpoints = *endpoints;
  options.request_timeout = 10s;
  if (!store.empty()) return Seed(options, prefix, store, batch);
  return Changes(options, prefix, servers, changes);
}
