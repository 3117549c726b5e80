// The client engine against a fake clock, a fake namespace server and fake
// targets: cache and TTL, prefix walk, failover, failback, namespace-server
// failover, persistence and many threads at once.
#include "dfs/client/client.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "client/fakes.h"

namespace dfs::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeFolder;
using testing::FakeNamespaceServer;
using testing::FakeTargets;

ClientConfig TestConfig() {
  ClientConfig c;
  c.namespace_servers = {"127.0.0.1:1001", "127.0.0.1:1002"};
  c.recheck_interval = 1000ms;
  c.mounts["\\\\web1\\content"] = "/srv/web1";
  return c;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    server_.folders["\\contoso\\webfarm"] = {
        {"\\ns1\\webfarm"}, 300, false, true};
    server_.folders["\\contoso\\webfarm\\site1"] = {
        {"\\web1\\content\\Site1", "\\web2\\content\\Site1",
         "\\web3\\content\\Site1"},
        1800,
        false,
        false};
  }
  Client& Make(ClientConfig config = TestConfig()) {
    client_ = std::make_unique<Client>(config, server_, targets_, clock_);
    return *client_;
  }
  void SetFailback(bool on) {
    server_.folders["\\contoso\\webfarm\\site1"].failback = on;
  }

  FakeClock clock_;
  FakeNamespaceServer server_;
  FakeTargets targets_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, MissAsksServerAndCachesForTheTtl) {
  Client& c = Make();
  auto r = c.Resolve("\\\\contoso\\webfarm\\Site1\\index.html");
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_FALSE(r->from_cache);
  EXPECT_EQ(r->prefix, "\\\\contoso\\webfarm\\Site1");
  EXPECT_EQ(r->remainder, "\\index.html");
  EXPECT_EQ(r->ttl_seconds, 1800u);
  EXPECT_EQ(r->local_path, "/srv/web1/Site1/index.html");
  EXPECT_EQ(r->targets.size(), 3u);
  EXPECT_EQ(r->targets[1].local_root, "/net/web2/content/Site1");
  EXPECT_EQ(server_.AskedTotal(), 1);

  clock_.Advance(1799s);
  auto again = c.Resolve("//contoso/webfarm/Site1/other.html");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(again->local_path, "/srv/web1/Site1/other.html");
  EXPECT_EQ(server_.AskedTotal(), 1);

  clock_.Advance(2s);  // past the TTL: refreshed
  auto refreshed = c.Resolve("\\\\contoso\\webfarm\\Site1\\index.html");
  ASSERT_TRUE(refreshed);
  EXPECT_FALSE(refreshed->from_cache);
  EXPECT_EQ(server_.AskedTotal(), 2);
}

TEST_F(ClientTest, WalksFromTheLongestCachedPrefixCaseInsensitively) {
  Client& c = Make();
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a\\b\\c.html"));
  for (const char* path :
       {"\\\\CONTOSO\\WEBFARM\\SITE1", "\\\\contoso\\webfarm\\site1\\x",
        "//Contoso//WebFarm/Site1/deep/er/path.css"}) {
    auto r = c.Resolve(path);
    ASSERT_TRUE(r) << path;
    EXPECT_TRUE(r->from_cache) << path;
    EXPECT_EQ(r->prefix, "\\\\contoso\\webfarm\\Site1");
  }
  auto deep = c.Resolve("//Contoso//WebFarm/Site1/deep/er/path.css");
  EXPECT_EQ(deep->remainder, "\\deep\\er\\path.css");
  EXPECT_EQ(deep->local_path, "/srv/web1/Site1/deep/er/path.css");
  EXPECT_EQ(server_.AskedTotal(), 1);
}

TEST_F(ClientTest, RootReferralCoversOnlyThePathAskedFor) {
  Client& c = Make();
  auto root_file = c.Resolve("\\\\contoso\\webfarm\\readme.txt");
  ASSERT_TRUE(root_file);
  EXPECT_TRUE(root_file->root_referral);
  EXPECT_EQ(root_file->prefix, "\\\\contoso\\webfarm");
  EXPECT_EQ(root_file->local_path, "/net/ns1/webfarm/readme.txt");
  EXPECT_EQ(root_file->ttl_seconds, 300u);
  // A folder under the same root is still asked for, not served from the
  // root's namespace server share.
  auto folder = c.Resolve("\\\\contoso\\webfarm\\Site1\\index.html");
  ASSERT_TRUE(folder);
  EXPECT_FALSE(folder->root_referral);
  EXPECT_EQ(server_.AskedTotal(), 2);
  // The same root-level path again comes from the cache.
  auto again = c.Resolve("\\\\contoso\\webfarm\\README.txt");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(server_.AskedTotal(), 2);
}

TEST_F(ClientTest, UnknownPathsAndBadPathsAreErrors) {
  Client& c = Make();
  auto missing = c.Resolve("\\\\fabrikam\\nothing\\x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(Errc::kNotFound));
  // A server's "not found" is an answer: the second server is not asked.
  EXPECT_EQ(server_.Asked("127.0.0.1:1002"), 0);
  auto bad = c.Resolve("not-unc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, make_error_code(Errc::kInvalidArgument));
  EXPECT_FALSE(c.Resolve("\\\\contoso\\webfarm\\..\\etc"));
}

TEST_F(ClientTest, FailsOverInOrderWhenTheActiveTargetStopsAnswering) {
  Client& c = Make();
  ASSERT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 0u);
  targets_.SetDown("web1", true);
  // Within the recheck interval the last result stands...
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 0u);
  // ...then the check runs again and the entry moves on, well before the
  // TTL.
  clock_.Advance(1001ms);
  auto r = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->active, 1u);
  EXPECT_EQ(r->local_path, "/net/web2/content/Site1/a");
  EXPECT_EQ(r->targets[0].state, TargetState::kUnreachable);
  EXPECT_TRUE(r->from_cache);
  targets_.SetDown("web2", true);
  clock_.Advance(1001ms);
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 2u);
  // Everything gone: a clear error naming the targets.
  targets_.SetDown("web3", true);
  clock_.Advance(1001ms);
  auto none = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, make_error_code(Errc::kIo));
  EXPECT_NE(none.error().context.find("web3"), std::string::npos);
  // web1 back: the search wraps around to it.
  targets_.SetDown("web1", false);
  clock_.Advance(1001ms);
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 0u);
  EXPECT_EQ(server_.AskedTotal(), 1);
}

TEST_F(ClientTest, ReportedFailureMovesOnAtOnce) {
  Client& c = Make();
  auto r = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_TRUE(r);
  c.ReportFailure(r->prefix, r->ActiveTarget().unc);
  auto next = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->active, 1u);
  EXPECT_EQ(next->targets[0].state, TargetState::kUnreachable);
  // The reported target is not used again before its recheck, even though
  // the fake says it answers.
  c.ReportFailure(next->prefix, next->ActiveTarget().unc);
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 2u);
}

TEST_F(ClientTest, FailbackOnReturnsToThePreferredTargetWhenTheTtlExpires) {
  SetFailback(true);
  server_.folders["\\contoso\\webfarm\\site1"].ttl = 5;
  Client& c = Make();
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->failback);
  targets_.SetDown("web1", true);
  clock_.Advance(1001ms);
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 1u);
  targets_.SetDown("web1", false);
  clock_.Advance(1s);  // web1 answers again, but the TTL has not run out
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 1u);
  clock_.Advance(3s);  // TTL (5 s) expired: refreshed, back to web1
  auto back = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->from_cache);
  EXPECT_EQ(back->active, 0u);
}

TEST_F(ClientTest, FailbackOffStaysOnTheTargetItMovedTo) {
  SetFailback(false);
  server_.folders["\\contoso\\webfarm\\site1"].ttl = 5;
  Client& c = Make();
  targets_.SetDown("web1", true);
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 1u);
  targets_.SetDown("web1", false);
  for (int i = 0; i < 4; ++i) {  // several TTLs: still on web2
    clock_.Advance(6s);
    auto r = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->from_cache);
    EXPECT_EQ(r->ActiveTarget().unc, "\\\\web2\\content\\Site1");
  }
  // Until web2 fails: then the order starts again from the top.
  targets_.SetDown("web2", true);
  clock_.Advance(6s);
  EXPECT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 0u);
}

TEST_F(ClientTest, NamespaceServerFailoverCostsNoFailedResolve) {
  server_.dead.insert("127.0.0.1:1001");
  Client& c = Make();
  auto r = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_TRUE(r) << r.error().context;
  EXPECT_EQ(server_.Asked("127.0.0.1:1001"), 1);
  EXPECT_EQ(server_.Asked("127.0.0.1:1002"), 1);
  // The server that answered is asked first from now on.
  clock_.Advance(1801s);
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  EXPECT_EQ(server_.Asked("127.0.0.1:1001"), 1);
  EXPECT_EQ(server_.Asked("127.0.0.1:1002"), 2);
  // And back when that one dies.
  server_.dead = {"127.0.0.1:1002"};
  clock_.Advance(1801s);
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  EXPECT_EQ(server_.Asked("127.0.0.1:1001"), 2);
}

TEST_F(ClientTest, AllNamespaceServersDownServesTheExpiredEntry) {
  Client& c = Make();
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  server_.dead = {"127.0.0.1:1001", "127.0.0.1:1002"};
  clock_.Advance(1801s);
  auto stale = c.Resolve("\\\\contoso\\webfarm\\Site1\\b");
  ASSERT_TRUE(stale) << stale.error().context;
  EXPECT_EQ(stale->local_path, "/srv/web1/Site1/b");
  // Nothing cached for another root: the error says which servers failed.
  auto none = c.Resolve("\\\\contoso\\other\\x");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, make_error_code(Errc::kIo));
  EXPECT_NE(none.error().context.find("127.0.0.1:1002"), std::string::npos);
}

TEST_F(ClientTest, FlushForgetsEverything) {
  Client& c = Make();
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  EXPECT_EQ(c.Entries().size(), 1u);
  c.Flush();
  EXPECT_TRUE(c.Entries().empty());
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  EXPECT_EQ(server_.AskedTotal(), 2);
}

TEST_F(ClientTest, StateSurvivesExportAndImport) {
  Client& c = Make();
  targets_.SetDown("web1", true);
  ASSERT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 1u);
  const std::string state = c.ExportState();

  Client other(TestConfig(), server_, targets_, clock_);
  ASSERT_TRUE(other.ImportState(state));
  auto r = other.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->from_cache);
  EXPECT_EQ(r->active, 1u);
  EXPECT_EQ(r->targets[0].state, TargetState::kUnreachable);
  EXPECT_EQ(server_.AskedTotal(), 1);

  // Bad state is refused and changes nothing.
  for (const char* bad : {"", "[]", "{\"version\":1}", "{\"version\":9}",
                          "{\"version\":1,\"entries\":[{\"key\":\"x\"}],"
                          "\"health\":{}}"}) {
    EXPECT_FALSE(other.ImportState(bad)) << bad;
  }
  EXPECT_EQ(other.Entries().size(), 1u);
}

// Records events in order.
class RecordedEvents final : public EventSink {
 public:
  void OnEvent(const ClientEvent& e) override {
    std::lock_guard lock(mu_);
    events.push_back(e);
  }
  std::vector<ClientEvent> Of(ClientEventKind kind) {
    std::lock_guard lock(mu_);
    std::vector<ClientEvent> out;
    for (const auto& e : events) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  std::vector<ClientEvent> events;

 private:
  std::mutex mu_;
};

// Issue 11: the node said nothing across failovers and failbacks. Each is
// now an event (the mount logs it with an id and counts it).
TEST_F(ClientTest, Issue11FailoverFailbackAndDeadServersAreEvents) {
  SetFailback(true);
  server_.folders["\\contoso\\webfarm\\site1"].ttl = 5;
  RecordedEvents events;
  Client c(TestConfig(), server_, targets_, clock_, &events);
  server_.dead.insert("127.0.0.1:1001");
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  auto down = events.Of(ClientEventKind::kNamespaceServerDown);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].from, "127.0.0.1:1001");

  targets_.SetDown("web1", true);
  clock_.Advance(1001ms);
  ASSERT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 1u);
  auto failovers = events.Of(ClientEventKind::kFailover);
  ASSERT_EQ(failovers.size(), 1u);
  EXPECT_EQ(failovers[0].prefix, "\\\\contoso\\webfarm\\Site1");
  EXPECT_EQ(failovers[0].from, "\\\\web1\\content\\Site1");
  EXPECT_EQ(failovers[0].to, "\\\\web2\\content\\Site1");
  EXPECT_EQ(events.Of(ClientEventKind::kTargetDown).size(), 1u);

  targets_.SetDown("web1", false);
  clock_.Advance(4s);  // past the TTL: refreshed, back on web1
  ASSERT_EQ(c.Resolve("\\\\contoso\\webfarm\\Site1\\a")->active, 0u);
  auto failbacks = events.Of(ClientEventKind::kFailback);
  ASSERT_EQ(failbacks.size(), 1u);
  EXPECT_EQ(failbacks[0].from, "\\\\web2\\content\\Site1");
  EXPECT_EQ(failbacks[0].to, "\\\\web1\\content\\Site1");
  EXPECT_EQ(events.Of(ClientEventKind::kTargetUp).size(), 1u);

  // A reported failure is a failover too (once, not per thread).
  auto r = c.Resolve("\\\\contoso\\webfarm\\Site1\\a");
  c.ReportFailure(r->prefix, r->ActiveTarget().unc);
  EXPECT_EQ(events.Of(ClientEventKind::kFailover).size(), 2u);
  EXPECT_EQ(events.Of(ClientEventKind::kTargetDown).size(), 2u);
}

// Issue 11: importing a cache far larger than max_cache_entries used to
// cost entries x limit under the lock; it keeps the entries expiring last.
TEST_F(ClientTest, Issue11ImportKeepsTheNewestMaxCacheEntries) {
  Client& c = Make();
  ASSERT_TRUE(c.Resolve("\\\\contoso\\webfarm\\Site1\\a"));
  ClientConfig big = TestConfig();
  big.max_cache_entries = 50'000;
  Client source(big, server_, targets_, clock_);
  server_.folders.clear();
  for (int i = 0; i < 20'000; ++i) {
    server_.folders["\\contoso\\webfarm\\f" + std::to_string(i)] = {
        {"\\web1\\content\\F"}, static_cast<uint32_t>(100 + i), false, false};
  }
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_TRUE(source.Resolve("\\\\contoso\\webfarm\\F" + std::to_string(i)));
  }
  ClientConfig small = TestConfig();
  small.max_cache_entries = 10;
  Client loaded(small, server_, targets_, clock_);
  ASSERT_TRUE(loaded.ImportState(source.ExportState()));
  auto entries = loaded.Entries();
  ASSERT_EQ(entries.size(), 10u);
  for (const auto& e : entries) {
    // The ten with the longest TTLs: F19990 .. F19999.
    EXPECT_GE(e.referral.ttl_seconds, 100u + 19'990u) << e.key;
  }
}

TEST_F(ClientTest, ManyThreadsResolveAtOnce) {
  server_.folders["\\contoso\\webfarm\\site2"] = {
      {"\\web1\\content\\Site2", "\\web2\\content\\Site2"}, 2, true, false};
  Client& c = Make();
  std::atomic<int> failures{0}, resolved{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 2000; ++i) {
        const bool site2 = rng() % 2;
        auto r = c.Resolve(site2 ? "\\\\contoso\\webfarm\\Site2\\x"
                                 : "\\\\contoso\\webfarm\\Site1\\y");
        if (!r) {
          if (++failures < 5) ADD_FAILURE() << r.error().context;
          continue;
        }
        ++resolved;
        if (r->local_path.find(site2 ? "/Site2/x" : "/Site1/y") ==
            std::string::npos) {
          ++failures;
        }
        if (rng() % 50 == 0) c.ReportFailure(r->prefix, r->ActiveTarget().unc);
        if (t == 0 && i % 100 == 0) clock_.Advance(500ms);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(resolved.load(), 16000);
}

TEST(ClientConfigTest, ParsesEverySettingAndMapsTargets) {
  auto c = ParseConfig(R"({
    // comments are allowed
    "namespace_servers": ["127.0.0.1:7445", "127.0.0.2:7445"],
    "namespace_timeout_ms": 300, "probe_timeout_ms": 200,
    "path_timeout_ms": 400, "recheck_ms": 150,
    "mount_root": "/mnt/dfs",
    "mounts": {"//Web1/Content": "/srv/w1", "\\\\web2": "/srv/w2"},
    "probes": {"WEB1": "127.0.0.1:8081", "web2": "none"},
    "default_probe_port": 8080, "max_cache_entries": 10,
    "op_timeout_ms": 700, "max_stuck_per_server": 3,
    "cache_lock_timeout_ms": 250
  })");
  ASSERT_TRUE(c) << c.error().context;
  EXPECT_EQ(c->namespace_servers.size(), 2u);
  EXPECT_EQ(c->recheck_interval, 150ms);
  EXPECT_EQ(c->op_timeout, 700ms);
  EXPECT_EQ(c->max_stuck_per_server, 3u);
  EXPECT_EQ(c->cache_lock_timeout, 250ms);
  auto w1 = MapTarget(*c, "\\web1\\content\\Site1");
  ASSERT_TRUE(w1);
  EXPECT_EQ(w1->local_root, "/srv/w1/Site1");
  EXPECT_EQ(w1->probe, "127.0.0.1:8081");
  auto w2 = MapTarget(*c, "\\\\WEB2\\share\\x");
  EXPECT_EQ(w2->local_root, "/srv/w2/share/x");
  EXPECT_EQ(w2->probe, "");
  auto other = MapTarget(*c, "\\web3\\content");
  EXPECT_EQ(other->local_root, "/mnt/dfs/web3/content");
  EXPECT_EQ(other->probe, "");  // a name, and names are not resolved
  auto ip = MapTarget(*c, "\\10.1.2.3\\content");
  EXPECT_EQ(ip->probe, "10.1.2.3:8080");
  EXPECT_FALSE(MapTarget(*c, "\\web1"));
  EXPECT_FALSE(MapTarget(*c, "\\web1\\..\\x"));
}

TEST(ClientConfigTest, RejectsBadSettingsByName) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not a JSON object"},
      {"{}", "namespace_servers"},
      {R"({"namespace_servers": ["ns1:7445"]})", "namespace_servers"},
      {R"({"namespace_servers": ["127.0.0.1:99999"]})", "namespace_servers"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "recheck_ms": 0})",
       "recheck_ms"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "mounts": {"//a/b/c": "/x"}})",
       "mounts"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "mounts": {"//a": "rel"}})",
       "mounts"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "probes": {"a": "b"}})",
       "probes"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "colour": "blue"})", "colour"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "op_timeout_ms": 0})",
       "op_timeout_ms"},
      {R"({"namespace_servers": ["127.0.0.1:1"], "max_stuck_per_server": 0})",
       "max_stuck_per_server"},
  };
  for (const auto& [text, key] : cases) {
    auto c = ParseConfig(text);
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().context.find(key), std::string::npos)
        << text << " -> " << c.error().context;
  }
}

}  // namespace
}  // namespace dfs::client
