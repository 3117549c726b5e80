// Fuzz target: the client's cache file and config file. Both are local
// files, but a cache file can be cut short by a crash or edited by hand,
// and neither must ever crash the client or load half. Property: a state
// that imports exports to one that imports again and exports the same.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/client/client.h"

namespace {

class NoServer final : public dfs::client::ReferralSource {
 public:
  dfs::Result<dfs::referral::DecodedResponse> Fetch(
      const std::string&, const std::string&,
      std::chrono::milliseconds) override {
    return dfs::Fail(dfs::Errc::kIo, "fuzzing");
  }
};
class NoTargets final : public dfs::client::ReachabilityCheck {
 public:
  bool Reachable(const dfs::client::TargetLocation&) override { return false; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)dfs::client::ParseConfig(bytes);
  static NoServer server;
  static NoTargets targets;
  dfs::client::ClientConfig config;
  config.namespace_servers = {"127.0.0.1:1"};
  dfs::client::Client client(config, server, targets,
                             dfs::SystemClock::Instance());
  if (client.ImportState(bytes)) {
    const std::string once = client.ExportState();
    dfs::client::Client again(config, server, targets,
                              dfs::SystemClock::Instance());
    if (!again.ImportState(once) || again.ExportState() != once) std::abort();
    (void)client.Entries();
  }
  return 0;
}
