// dfsutil's commands that look without changing anything: show, diag
// referral, log, store info and store verify.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "context.h"
#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/resolver.h"
#include "dfs/referral_net/client.h"
#include "output.h"

namespace dfs::tools {
namespace {

using json = nlohmann::ordered_json;

Status Show(CommandContext& ctx, const std::string& path) {
  DFS_ASSIGN_OR_RETURN(auto reader, ReadNamespace(ctx.globals));
  DFS_ASSIGN_OR_RETURN(ns::Located at, ns::Locate(*reader, path));
  std::vector<ns::Folder> folders;
  if (at.folder) {
    folders.push_back(*at.folder);
  } else {
    DFS_ASSIGN_OR_RETURN(folders, reader->ListFolders(at.root_key));
  }
  RenderShow(ctx.out, ctx.globals.json, at.root, reader->Serial(), folders);
  return Status::Ok();
}

struct DiagReferralOptions {
  std::string path, client_address, raw_file, server;
  int level = 4;
  uint64_t seed = 0;
  bool seed_given = false;
};

Status WriteRaw(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return Fail(Errc::kIo, "cannot write " + file);
  return Status::Ok();
}

// What dfsd would answer for the path: the same resolver over the same
// in-memory index, without a server (targets are taken as healthy: only
// the server probes them); or, with --server, what a running dfsd answers.
Status DiagReferral(CommandContext& ctx, const DiagReferralOptions& o) {
  namespace ref = referral;
  if (!o.server.empty()) {
    DFS_ASSIGN_OR_RETURN(
        std::string bytes,
        referral_net::FetchReferral(
            o.server,
            ref::ReferralRequest{static_cast<uint16_t>(o.level), o.path},
            std::chrono::seconds(5)));
    if (!o.raw_file.empty()) {
      DFS_RETURN_IF_ERROR(WriteRaw(o.raw_file, bytes));
    }
    DFS_ASSIGN_OR_RETURN(ref::DecodedResponse d, ref::DecodeResponse(bytes));
    RenderServerReferral(ctx.out, ctx.globals.json, o.server, d);
    return Status::Ok();
  }
  DFS_ASSIGN_OR_RETURN(auto loaded, LoadNamespace(ctx.globals));
  const ns::NamespaceIndex& index = *loaded;
  DFS_ASSIGN_OR_RETURN(ref::SiteTable sites,
                       ref::SiteTable::FromNamespace(index));
  ref::Requester client;
  if (!o.client_address.empty()) {
    DFS_ASSIGN_OR_RETURN(client.address,
                         ref::IpAddress::Parse(o.client_address));
  }
  const uint64_t seed = o.seed_given ? o.seed : std::random_device{}();
  ref::Resolver resolver(index, sites, nullptr, seed);
  DFS_ASSIGN_OR_RETURN(ref::Referral r, resolver.Resolve(o.path, client));
  DFS_ASSIGN_OR_RETURN(std::string bytes,
                       ref::EncodeResponse(r, static_cast<uint16_t>(o.level)));
  if (!o.raw_file.empty()) {
    DFS_RETURN_IF_ERROR(WriteRaw(o.raw_file, bytes));
  }
  RenderReferral(ctx.out, ctx.globals.json, o.path, r, o.level, bytes.size(),
                 o.raw_file);
  return Status::Ok();
}

Status StoreInfo(CommandContext& ctx) {
  DFS_RETURN_IF_ERROR(NotInDomainMode(ctx.globals, "store"));
  DFS_ASSIGN_OR_RETURN(auto store, OpenStore(ctx.globals, false));
  DFS_ASSIGN_OR_RETURN(ns::StoreStats s, store->Stats());
  RenderStoreInfo(ctx.out, ctx.globals.json,
                  json{{"store", ctx.globals.store_dir},
                       {"schema", ns::kStoreSchemaVersion},
                       {"serial", s.serial},
                       {"roots", s.roots},
                       {"folders", s.folders},
                       {"aliases", s.aliases},
                       {"logEntries", s.log_entries},
                       {"oldestLoggedSerial", s.oldest_logged_serial},
                       {"usedBytes", s.used_bytes},
                       {"fileBytes", s.file_bytes}});
  return Status::Ok();
}

// Reads the whole store in a child process: a store damaged past what
// LMDB survives (SIGBUS on a missing page, an abort on a zeroed one) is then
// reported as damage, not as this command crashing. Exit 0 whole, 1 damaged.
Status StoreVerify(CommandContext& ctx) {
  const Globals& g = ctx.globals;
  DFS_RETURN_IF_ERROR(NeedStore(g));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Fail(Errc::kIo, "cannot make a pipe");
  ctx.out.flush();
  ctx.err.flush();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    signal(SIGBUS, SIG_DFL);  // the parent reports a fault as damage
    ns::StoreOptions options;
    options.verify_on_open = false;  // Verify below says what it finds
    json j;
    int code = 0;
    auto store = ns::Store::Open(g.store_dir, options);
    auto report = store ? (*store)->Verify()
                        : Result<ns::StoreReport>(Unexpected(store.error()));
    j["store"] = g.store_dir;
    if (report) {
      j["ok"] = true;
      j["serial"] = report->serial;
      j["roots"] = report->roots;
      j["folders"] = report->folders;
      j["aliases"] = report->aliases;
      j["logEntries"] = report->log_entries;
      j["sites"] = report->sites;
    } else {
      code = report.error().code == make_error_code(Errc::kCorrupt) ? 1 : 3;
      j["ok"] = false;
      j["error"] = report.error().Message();
    }
    const std::string text = j.dump();
    (void)!write(fds[1], text.data(), text.size());
    _exit(code);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  json j = json::parse(text, nullptr, false);
  if (WIFSIGNALED(status) || j.is_discarded()) {
    j = json::object();
    j["store"] = g.store_dir;
    j["ok"] = false;
    j["error"] =
        "the namespace store " + g.store_dir +
        " is damaged: reading it crashed LMDB (" +
        (WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no report") +
        "); restore it from a backup or a replica";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    return Fail(Errc::kIo, j.value("error", ""));
  }
  if (g.json) {
    ctx.out << j.dump(2) << "\n";
  } else if (j.value("ok", false)) {
    ctx.out << "ok: " << g.store_dir << " is whole: serial " << j["serial"]
            << ", " << j["roots"] << " roots, " << j["folders"] << " folders, "
            << j["aliases"] << " aliases, " << j["logEntries"]
            << " log entries\n";
  } else {
    ctx.err << "dfsutil: error: " << j.value("error", "") << "\n";
  }
  ctx.exit_code = j.value("ok", false) ? 0 : 1;
  return Status::Ok();
}

}  // namespace

void RegisterInspectCommands(CLI::App& app, CommandContext& ctx) {
  struct Options {
    std::string path;
    DiagReferralOptions diag;
    uint64_t since = 0;
    size_t limit = 100;
  };
  Options& o = ctx.Keep<Options>();

  auto* show = app.add_subcommand(
      "show", "a root with every folder, or one folder, with all properties");
  show->add_option("PATH", o.path, "root or folder")->required();
  show->callback(
      [&ctx, &o] { ctx.run = [&ctx, &o] { return Show(ctx, o.path); }; });

  auto* diag = app.add_subcommand("diag", "diagnostics");
  diag->require_subcommand(1);
  auto* referral = diag->add_subcommand(
      "referral", "what a namespace server answers for PATH (MS-DFSC)");
  referral->add_option("PATH", o.diag.path, "\\\\domain\\root\\folder\\...")
      ->required();
  referral->add_option("--client-address", o.diag.client_address,
                       "answer as for this client (its site)");
  referral->add_option("--level", o.diag.level, "MaxReferralLevel: 3 or 4")
      ->check(CLI::Range(3, 4));
  referral->add_option(
      "--server", o.diag.server,
      "ask this running dfsd (IP:PORT) instead of reading the store");
  referral->add_option("--raw", o.diag.raw_file,
                       "write the RESP_GET_DFS_REFERRAL bytes to FILE");
  referral
      ->add_option("--seed", o.diag.seed, "shuffle seed (repeatable output)")
      ->each([&o](const std::string&) { o.diag.seed_given = true; });
  referral->callback([&ctx, &o] {
    ctx.run = [&ctx, &o] { return DiagReferral(ctx, o.diag); };
  });

  auto* log = app.add_subcommand("log", "the store's change log");
  log->add_option("--since", o.since, "show changes after this serial");
  log->add_option("--limit", o.limit, "at most this many entries");
  log->callback([&ctx, &o] {
    ctx.run = [&ctx, &o]() -> Status {
      DFS_RETURN_IF_ERROR(NotInDomainMode(ctx.globals, "log"));
      DFS_ASSIGN_OR_RETURN(auto store, OpenStore(ctx.globals, false));
      DFS_ASSIGN_OR_RETURN(auto entries, store->ChangesSince(o.since, o.limit));
      RenderLog(ctx.out, ctx.globals.json, entries);
      return Status::Ok();
    };
  });

  auto* info = app.add_subcommand("store", "store information");
  info->require_subcommand(1);
  info->add_subcommand("info", "serial, counts and size")->callback([&ctx] {
    ctx.run = [&ctx] { return StoreInfo(ctx); };
  });
  info->add_subcommand("verify",
                       "read the whole store and check it is whole (exit 0), "
                       "or name the damage (exit 1)")
      ->callback([&ctx] { ctx.run = [&ctx] { return StoreVerify(ctx); }; });
}

}  // namespace dfs::tools
