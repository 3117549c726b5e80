// What every dfsutil command works with: the global flags, where it prints
// (the terminal, or a remote admin's reply inside dfsd), and the command
// chosen on the command line. Commands return a Status (errors as values);
// RunCli (cli.cc) turns a failure into dfsutil's one-line error and exit
// code. Each command group registers itself: namespace_commands.cc (root,
// link, target, property, domain, site) and inspect_commands.cc (show,
// diag, log, store); what they print is rendered in output.cc.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/store.h"

namespace CLI {
class App;
}

namespace dfs::tools {

struct Globals {
  std::string store_dir;
  bool json = false;
  // Domain mode (--etcd): the namespace lives under `etcd_prefix` in etcd
  // (domain/layout.h); changes are etcd transactions, reads read etcd.
  std::string etcd, etcd_prefix = "/dfs/", etcd_user, etcd_password_file;
  // https:// endpoints: the members' CA, and a client certificate.
  std::string etcd_ca_file, etcd_cert_file, etcd_key_file;
  size_t etcd_max_ops = 128, etcd_max_bytes = size_t{1} << 20;
  bool domain_mode() const { return !etcd.empty(); }
};

class CommandContext {
 public:
  CommandContext(std::ostream& out_stream, std::ostream& err_stream)
      : out(out_stream), err(err_stream) {}
  CommandContext(const CommandContext&) = delete;
  CommandContext& operator=(const CommandContext&) = delete;

  Globals globals;
  std::ostream& out;
  std::ostream& err;
  // For commands whose outcome is more than ok/failed (compare: 1 when
  // different; verify: 1 when damaged).
  int exit_code = 0;
  // The chosen command, set while the command line is parsed.
  std::function<Status()> run;

  // Storage for a command group's option values, alive as long as the
  // context (the parser and the handlers refer to them).
  template <typename T>
  T& Keep() {
    auto kept = std::make_shared<T>();
    kept_.push_back(kept);
    return *kept;
  }

 private:
  std::vector<std::shared_ptr<void>> kept_;
};

// The store named by --store (or DFS_STORE). Errors: kInvalidArgument
// without one, the store's.
Result<std::unique_ptr<ns::Store>> OpenStore(const Globals& globals,
                                             bool create);
// Ok when --store (or DFS_STORE) names a store; else the error OpenStore
// gives (for commands that open the store themselves).
Status NeedStore(const Globals& globals);
// A consistent view of the namespace: a snapshot of the store (which stays
// open as long as the view), or with --etcd the namespace read from etcd
// at one revision.
struct NamespaceView {
  std::unique_ptr<ns::Store> store;
  std::unique_ptr<ns::NamespaceReader> snapshot;
  std::unique_ptr<ns::NamespaceIndex> index;
  const ns::NamespaceReader* operator->() const { return &**this; }
  const ns::NamespaceReader& operator*() const {
    return snapshot ? *snapshot : *index;
  }
};
Result<NamespaceView> ReadNamespace(const Globals& globals);
// The whole namespace in memory (from the store, or from etcd).
Result<std::unique_ptr<ns::NamespaceIndex>> LoadNamespace(
    const Globals& globals);
// For commands that work on a local store only: a clear error in domain
// mode.
Status NotInDomainMode(const Globals& globals, std::string_view what);
// The words of a change as the change log records it.
std::string Describe(std::initializer_list<std::string_view> words);
// One admin change in one transaction; prints the new serial.
Status RunChange(CommandContext& ctx, const std::string& description,
                 const std::function<Status(ns::NamespaceWriter&)>& change);

void RegisterNamespaceCommands(CLI::App& app, CommandContext& ctx);
void RegisterInspectCommands(CLI::App& app, CommandContext& ctx);

}  // namespace dfs::tools
