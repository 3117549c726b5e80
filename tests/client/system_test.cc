// The client's real reachability check and referral source on loopback:
// TCP probes, mapped directories, a hung mount that must not hang the
// caller, and a namespace server that is not there.
#include "dfs/client_net/system.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <future>
#include <thread>

#include "testing/loopback.h"
#include "testing/temp_dir.h"

namespace dfs::client_net {
namespace {

using namespace std::chrono_literals;

client::TargetLocation Location(std::string dir, std::string probe) {
  client::TargetLocation t;
  t.unc = "\\\\web1\\content";
  t.server = "web1";
  t.local_root = std::move(dir);
  t.probe = std::move(probe);
  return t;
}

TEST(SystemReachabilityTest, NeedsBothTheProbeAndTheDirectory) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  client::ClientConfig config;
  SystemReachabilityCheck check(config);
  testing::FakeContentServer listener;
  const std::string live = "127.0.0.1:" + std::to_string(listener.port());
  EXPECT_TRUE(check.Reachable(Location(dir.path(), live)));
  EXPECT_TRUE(check.Reachable(Location(dir.path(), "")));  // no probe
  EXPECT_FALSE(check.Reachable(Location(dir.path() / "missing", live)));
  EXPECT_FALSE(check.Reachable(Location(dir.path() / "file", live)));
  listener.Close();
  EXPECT_FALSE(check.Reachable(Location(dir.path(), live)));
  EXPECT_FALSE(SystemReachabilityCheck::ProbeTcp("127.0.0.1:0", false, 100ms));
  EXPECT_FALSE(SystemReachabilityCheck::ProbeTcp("web1:445", false, 100ms));
}

TEST(SystemReachabilityTest, AHungMountCostsTheTimeoutAndNoPileOfThreads) {
  // `look` blocks like stat() on a dead NFS mount, until the test ends.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  };
  auto gate = std::make_shared<Gate>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  client::ClientConfig config;
  config.path_timeout = 300ms;
  SystemReachabilityCheck check(config, [gate, calls](const std::string&) {
    ++*calls;
    std::unique_lock lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->open; });
    return true;
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(check.Reachable(Location("/hung", "")));
  EXPECT_FALSE(check.Reachable(Location("/hung", "")));
  EXPECT_FALSE(check.Reachable(Location("/hung", "")));
  // Bounded, not a timing benchmark: three checks of a hung path return
  // (a hang would never end); 5 s is far above 3 x the 300 ms timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(calls->load(), 1);  // one stuck helper, not three
  {
    std::lock_guard lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  // Once the stuck look finishes (the next check waits for it, up to the
  // timeout), the path is looked at afresh.
  EXPECT_TRUE(check.Reachable(Location("/hung", "")));
  EXPECT_GE(calls->load(), 2);
}

TEST(DfsdReferralSourceTest, ANamespaceServerThatIsNotThereIsAnIoError) {
  testing::FakeContentServer listener;
  const uint16_t port = listener.port();
  listener.Close();
  DfsdReferralSource source;
  auto r = source.Fetch("127.0.0.1:" + std::to_string(port),
                        "\\contoso\\webfarm", 200ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kIo));
}

// Issue 11: a server that accepts and then says nothing. The read used to
// rely on SO_RCVTIMEO, which Asio's non-blocking socket never applies: the
// fetch waited forever. Now the whole exchange has the deadline.
TEST(DfsdReferralSourceTest, Issue11AServerThatAcceptsAndNeverAnswersTimesOut) {
  testing::FakeContentServer silent;  // the kernel accepts; nobody reads
  DfsdReferralSource source;
  auto fetched =
      std::make_shared<std::promise<Result<referral::DecodedResponse>>>();
  auto future = fetched->get_future();
  std::thread([&source, fetched, port = silent.port()] {
    fetched->set_value(source.Fetch("127.0.0.1:" + std::to_string(port),
                                    "\\contoso\\webfarm", 300ms));
  }).detach();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready)
      << "the fetch did not end";
  auto r = future.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kIo));
  EXPECT_NE(r.error().context.find("in time"), std::string::npos)
      << r.error().context;
}

}  // namespace
}  // namespace dfs::client_net
