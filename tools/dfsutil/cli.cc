// dfsutil: namespace administration, modelled on Windows dfsutil.
//
//   dfsutil --store DIR root add \\contoso\webfarm
//   dfsutil --store DIR link add \\contoso\webfarm\Site1 \\web1\content\Site1
//   dfsutil --store DIR property priority set \\contoso\webfarm\Site1
//   \\web1\content\Site1 first
//
// Every write is one store transaction. Errors print one line on stderr
// (and a JSON object on stdout with --json) and exit non-zero: 1 for a
// failed operation, 2 for a command line that does not parse.
#include "cli.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <string>
#include <vector>

#include "context.h"
#include "dfs/common/error.h"
#include "output.h"

namespace dfs::tools {
namespace {

// CLI11 2.1 shows a positional that takes 2 to 3 words as "ARGS(2x)" and
// "ARGS x 2": a positional with its own usage text (`PATH [TARGET] STATE`)
// shows that text instead.
class UsageTextFormatter : public CLI::Formatter {
 public:
  std::string make_option_usage(const CLI::Option* opt) const override {
    if (opt->get_option_text().empty()) {
      return CLI::Formatter::make_option_usage(opt);
    }
    return opt->get_option_text();
  }
};

// Parses the command line into `ctx`, then runs the chosen command: its
// error is one line (exit 1), a command line that does not parse exit 2.
int RunCli(int argc, char** argv, const std::string& forced_store,
           CommandContext& ctx) {
  CLI::App app{
      "dfsutil: administer a dfs namespace (roots, folders, targets, "
      "properties)",
      "dfsutil"};
  app.formatter(std::make_shared<UsageTextFormatter>());
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--store", ctx.globals.store_dir,
                 "namespace store folder (LMDB); or set DFS_STORE")
      ->envname("DFS_STORE");
  app.add_flag("--json", ctx.globals.json, "machine-readable output");
  app.add_option("--etcd", ctx.globals.etcd,
                 "domain mode: the namespace lives in etcd (http[s]://IP:PORT "
                 "of each member, comma-separated); or set DFS_ETCD")
      ->envname("DFS_ETCD");
  app.add_option("--etcd-prefix", ctx.globals.etcd_prefix,
                 "where the namespace lives in etcd")
      ->capture_default_str();
  app.add_option("--etcd-user", ctx.globals.etcd_user,
                 "etcd user (etcd auth enabled)");
  app.add_option("--etcd-password-file", ctx.globals.etcd_password_file,
                 "owner-only file holding the etcd user's password");
  app.add_option("--etcd-ca-file", ctx.globals.etcd_ca_file,
                 "https:// etcd: the CA that signed the members' certificates "
                 "(default: the system's roots)");
  app.add_option("--etcd-cert-file", ctx.globals.etcd_cert_file,
                 "https:// etcd: a client certificate (etcd "
                 "--client-cert-auth)");
  app.add_option("--etcd-key-file", ctx.globals.etcd_key_file,
                 "https:// etcd: the client certificate's owner-only key");
  app.add_option("--etcd-max-ops", ctx.globals.etcd_max_ops,
                 "etcd's --max-txn-ops (a change must fit one transaction)")
      ->capture_default_str();
  app.add_option("--etcd-max-bytes", ctx.globals.etcd_max_bytes,
                 "etcd's --max-request-bytes")
      ->capture_default_str();
  RegisterNamespaceCommands(app, ctx);
  RegisterInspectCommands(app, ctx);
  try {
    app.parse(argc, argv);
    if (!forced_store.empty()) {
      // A remote admin works on this server's store, never elsewhere.
      ctx.globals.store_dir = forced_store;
      ctx.globals.etcd.clear();
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::ParseError& e) {
    ctx.err << "dfsutil: error: " << e.what()
            << " (see 'dfsutil --help' or '<command> --help')\n";
    return 2;
  }
  Status ran = Status::Ok();
  try {
    if (ctx.run) ran = ctx.run();
  } catch (const std::exception& e) {  // a library's (allocation, JSON)
    ran = Fail(Errc::kIo, e.what());
  }
  if (!ran) {
    RenderError(ctx.out, ctx.err, ctx.globals.json, ran.error());
    return 1;
  }
  return ctx.exit_code;
}

}  // namespace

int RunDfsutil(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err, const std::string& forced_store) {
  std::vector<std::string> storage = {"dfsutil"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  CommandContext ctx(out, err);
  return RunCli(static_cast<int>(argv.size()), argv.data(), forced_store, ctx);
}

}  // namespace dfs::tools
