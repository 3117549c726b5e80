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

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "dfs/ns/store.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/resolver.h"
#include "dfs/referral_net/client.h"
#include "output.h"
#include "streams.h"
#include "xml_commands.h"

namespace {

using dfs::Error;
using dfs::Result;
using dfs::Status;
using json = nlohmann::ordered_json;
namespace ns = dfs::ns;

struct Globals {
  std::string store_dir;
  bool json = false;
};

// Thrown inside a handler to end the program with a one-line error.
struct CommandFailed {
  Error error;
};

[[noreturn]] void Throw(const Error& e) { throw CommandFailed{e}; }

template <typename T>
T Check(Result<T> r) {
  if (!r) Throw(r.error());
  return std::move(r).value();
}

void CheckOk(const Status& s) {
  if (!s.ok()) Throw(s.error());
}

std::unique_ptr<ns::Store> OpenStore(const Globals& g, bool create) {
  if (g.store_dir.empty()) {
    Throw(dfs::MakeError(dfs::Errc::kInvalidArgument,
                         "no store: give --store DIR or set DFS_STORE"));
  }
  ns::StoreOptions options;
  options.create_if_missing = create;
  return Check(ns::Store::Open(g.store_dir, options));
}

std::string Describe(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (w.empty()) continue;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// Runs one admin change in one transaction and reports the new serial.
void RunChange(const Globals& g, const std::string& description,
               const std::function<Status(ns::NamespaceWriter&)>& change) {
  auto store = OpenStore(g, /*create=*/true);
  uint64_t serial = Check(store->Update(description, change));
  if (g.json) {
    dfs::tools::Out() << json{{"ok", true},
                              {"change", description},
                              {"serial", serial}}
                             .dump()
                      << "\n";
  } else {
    dfs::tools::Out() << "ok: " << description << " (serial " << serial
                      << ")\n";
  }
}

struct TargetFlags {
  std::string priority, rank, site, state;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--priority", priority,
                    "priority class: first|high|normal|low|last (globalHigh, "
                    "siteCostHigh, siteCostNormal, siteCostLow, globalLow)");
    cmd->add_option("--rank", rank, "priority rank, 0-31");
    cmd->add_option("--site", site, "the target's site");
    cmd->add_option("--state", state, "online|offline");
  }
  ns::TargetOptions Parse() const {
    ns::TargetOptions o;
    if (!priority.empty()) {
      o.priority_class = Check(ns::ParsePriorityClass(priority));
    }
    if (!rank.empty()) o.priority_rank = Check(ns::ParsePriorityRank(rank));
    if (!site.empty()) o.site = site;
    if (!state.empty()) o.state = Check(ns::ParseState(state));
    return o;
  }
};

void Show(const Globals& g, const std::string& path) {
  auto store = OpenStore(g, false);
  auto reader = Check(store->Snapshot());
  ns::Located at = Check(ns::Locate(*reader, path));
  std::vector<ns::Folder> folders;
  if (at.folder) {
    folders.push_back(*at.folder);
  } else {
    folders = Check(reader->ListFolders(at.root_key));
  }
  if (g.json) {
    json j = dfs::tools::ToJson(at.root);
    j["serial"] = reader->Serial();
    json list = json::array();
    for (const auto& f : folders)
      list.push_back(dfs::tools::ToJson(at.root, f));
    j["folders"] = std::move(list);
    dfs::tools::Out() << j.dump(2) << "\n";
  } else {
    dfs::tools::PrintTree(dfs::tools::Out(), at.root, folders);
  }
}

void ListRoots(const Globals& g) {
  auto store = OpenStore(g, false);
  auto reader = Check(store->Snapshot());
  auto roots = Check(reader->ListRoots());
  if (g.json) {
    json list = json::array();
    for (const auto& e : roots) {
      json j = dfs::tools::ToJson(e.root);
      j["folderCount"] = Check(reader->ListFolders(e.key)).size();
      list.push_back(std::move(j));
    }
    dfs::tools::Out() << json{{"roots", list}}.dump(2) << "\n";
    return;
  }
  for (const auto& e : roots) {
    dfs::tools::Out() << e.root.Path() << "  ("
                      << Check(reader->ListFolders(e.key)).size()
                      << " folders, ttl " << e.root.ttl_seconds << "s, "
                      << ns::ToString(e.root.state) << ")\n";
  }
}

void ListSites(const Globals& g) {
  auto store = OpenStore(g, false);
  auto reader = Check(store->Snapshot());
  auto subnets = Check(reader->ListSubnets());
  auto costs = Check(reader->ListSiteCosts());
  if (g.json) {
    json s = json::array(), c = json::array();
    for (const auto& x : subnets)
      s.push_back({{"subnet", x.cidr}, {"site", x.site}});
    for (const auto& x : costs)
      c.push_back({{"siteA", x.site_a}, {"siteB", x.site_b}, {"cost", x.cost}});
    dfs::tools::Out() << json{{"subnets", s}, {"costs", c}}.dump(2) << "\n";
    return;
  }
  for (const auto& x : subnets)
    dfs::tools::Out() << "subnet " << x.cidr << " -> " << x.site << "\n";
  for (const auto& x : costs) {
    dfs::tools::Out() << "cost " << x.site_a << " <-> " << x.site_b << " = "
                      << x.cost << "\n";
  }
}

void ListAliases(const Globals& g) {
  auto store = OpenStore(g, false);
  auto reader = Check(store->Snapshot());
  auto aliases = Check(reader->ListAliases());
  if (g.json) {
    json list = json::array();
    for (const auto& [a, c] : aliases) {
      list.push_back({{"alias", a}, {"canonical", c}});
    }
    dfs::tools::Out() << json{{"aliases", list}}.dump(2) << "\n";
    return;
  }
  for (const auto& [a, c] : aliases)
    dfs::tools::Out() << a << " = " << c << "\n";
}

std::string FormatTime(int64_t unix_millis) {
  std::time_t t = static_cast<std::time_t>(unix_millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void ShowLog(const Globals& g, uint64_t since, size_t limit) {
  auto store = OpenStore(g, false);
  auto entries = Check(store->ChangesSince(since, limit));
  json list = json::array();
  for (const auto& e : entries) {
    if (g.json) {
      list.push_back({{"serial", e.serial},
                      {"time", FormatTime(e.unix_millis)},
                      {"change", e.description},
                      {"mutations", e.mutations.size()},
                      {"resyncRequired", e.resync_required}});
    } else {
      dfs::tools::Out() << e.serial << "  " << FormatTime(e.unix_millis) << "  "
                        << e.description << "  (" << e.mutations.size()
                        << " records" << (e.resync_required ? ", resync" : "")
                        << ")\n";
    }
  }
  if (g.json) dfs::tools::Out() << json{{"changes", list}}.dump(2) << "\n";
}

void StoreInfo(const Globals& g) {
  auto store = OpenStore(g, false);
  ns::StoreStats s = Check(store->Stats());
  json j = {{"store", g.store_dir},
            {"schema", ns::kStoreSchemaVersion},
            {"serial", s.serial},
            {"roots", s.roots},
            {"folders", s.folders},
            {"aliases", s.aliases},
            {"logEntries", s.log_entries},
            {"oldestLoggedSerial", s.oldest_logged_serial},
            {"usedBytes", s.used_bytes},
            {"fileBytes", s.file_bytes}};
  if (g.json) {
    dfs::tools::Out() << j.dump(2) << "\n";
  } else {
    for (auto& [k, v] : j.items()) dfs::tools::Out() << k << ": " << v << "\n";
  }
}

// Reads the whole store in a child process: a store damaged past what
// LMDB survives (SIGBUS on a missing page, an abort on a zeroed one) is then
// reported as damage, not as this command crashing. Exit 0 whole, 1 damaged.
void StoreVerify(const Globals& g, int& exit_code) {
  if (g.store_dir.empty()) {
    Throw(dfs::MakeError(dfs::Errc::kInvalidArgument,
                         "no store: give --store DIR or set DFS_STORE"));
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    Throw(dfs::MakeError(dfs::Errc::kIo, "cannot make a pipe"));
  }
  dfs::tools::Out().flush();
  dfs::tools::Err().flush();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    signal(SIGBUS, SIG_DFL);  // the parent reports a fault as damage
    ns::StoreOptions options;
    options.verify_on_open = false;  // Verify below says what it finds
    json j;
    int code = 0;
    auto store = ns::Store::Open(g.store_dir, options);
    auto report =
        store ? (*store)->Verify()
              : dfs::Result<ns::StoreReport>(dfs::Unexpected(store.error()));
    if (report) {
      j["store"] = g.store_dir;
      j["ok"] = true;
      j["serial"] = report->serial;
      j["roots"] = report->roots;
      j["folders"] = report->folders;
      j["aliases"] = report->aliases;
      j["logEntries"] = report->log_entries;
      j["sites"] = report->sites;
    } else {
      code =
          report.error().code == make_error_code(dfs::Errc::kCorrupt) ? 1 : 3;
      j["store"] = g.store_dir;
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
    Throw(dfs::MakeError(dfs::Errc::kIo, j.value("error", "")));
  }
  if (g.json) {
    dfs::tools::Out() << j.dump(2) << "\n";
  } else if (j.value("ok", false)) {
    dfs::tools::Out() << "ok: " << g.store_dir << " is whole: serial "
                      << j["serial"] << ", " << j["roots"] << " roots, "
                      << j["folders"] << " folders, " << j["aliases"]
                      << " aliases, " << j["logEntries"] << " log entries\n";
  } else {
    dfs::tools::Err() << "dfsutil: error: " << j.value("error", "") << "\n";
  }
  exit_code = j.value("ok", false) ? 0 : 1;
}

struct DiagReferralOptions {
  std::string path, client_address, raw_file, server;
  int level = 4;
  uint64_t seed = 0;
  bool seed_given = false;
};

// What dfsd would answer for `path`: the same resolver over the same
// in-memory index, without a server (targets are taken as healthy: only
// the server probes them).
// Asks a running dfsd and prints the decoded answer.
void DiagReferralFromServer(const Globals& g, const DiagReferralOptions& o) {
  namespace ref = dfs::referral;
  std::string bytes = Check(dfs::referral_net::FetchReferral(
      o.server, ref::ReferralRequest{static_cast<uint16_t>(o.level), o.path},
      std::chrono::seconds(5)));
  if (!o.raw_file.empty()) {
    std::ofstream out(o.raw_file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ref::DecodedResponse d = Check(ref::DecodeResponse(bytes));
  json entries = json::array();
  for (const auto& e : d.entries) {
    entries.push_back(
        {{"path", e.network_address},
         {"version", e.version},
         {"targetSetBoundary", (e.flags & ref::kTargetSetBoundary) != 0}});
  }
  const bool root = !d.entries.empty() && d.entries[0].server_type == 1;
  const uint32_t ttl = d.entries.empty() ? 0 : d.entries[0].ttl;
  const std::string dfs_path = d.entries.empty() ? "" : d.entries[0].dfs_path;
  if (g.json) {
    dfs::tools::Out() << json{{"server", o.server},
                              {"referral", root ? "root" : "folder"},
                              {"dfsPath", dfs_path},
                              {"pathConsumedBytes", d.path_consumed},
                              {"ttl", ttl},
                              {"failback",
                               (d.header_flags & ref::kTargetFailback) != 0},
                              {"targets", entries}}
                             .dump(2)
                      << "\n";
    return;
  }
  dfs::tools::Out() << (root ? "root referral" : "folder referral") << " for "
                    << dfs_path << " from " << o.server
                    << "\n  PathConsumed=" << d.path_consumed
                    << " bytes  ttl=" << ttl << "s  failback="
                    << ((d.header_flags & ref::kTargetFailback) ? "on" : "off")
                    << "\n";
  int n = 0;
  for (const auto& e : d.entries) {
    dfs::tools::Out() << "  " << ++n << ". " << e.network_address
                      << ((e.flags & ref::kTargetSetBoundary)
                              ? "  [new target set]"
                              : "")
                      << "\n";
  }
}

void DiagReferral(const Globals& g, const DiagReferralOptions& o) {
  namespace ref = dfs::referral;
  if (!o.server.empty()) return DiagReferralFromServer(g, o);
  auto store = OpenStore(g, false);
  ns::NamespaceIndex index;
  CheckOk(store->LoadInto(index));
  ref::SiteTable sites = Check(ref::SiteTable::FromNamespace(index));
  ref::Requester client;
  if (!o.client_address.empty())
    client.address = Check(ref::IpAddress::Parse(o.client_address));
  const uint64_t seed = o.seed_given ? o.seed : std::random_device{}();
  ref::Resolver resolver(index, sites, nullptr, seed);
  ref::Referral r = Check(resolver.Resolve(o.path, client));
  std::string bytes =
      Check(ref::EncodeResponse(r, static_cast<uint16_t>(o.level)));
  if (!o.raw_file.empty()) {
    std::ofstream out(o.raw_file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      Throw(dfs::MakeError(dfs::Errc::kIo, "cannot write " + o.raw_file));
    }
  }
  if (g.json) {
    json targets = json::array();
    for (const auto& t : r.targets) {
      targets.push_back(
          {{"path", t.path},
           {"targetSetBoundary", t.set_boundary},
           {"priorityClass", ns::ToString(t.priority_class)},
           {"priorityRank", t.priority_rank},
           {"site", t.site.empty() ? json(nullptr) : json(t.site)}});
    }
    dfs::tools::Out() << json{{"path", o.path},
                              {"referral", r.root_referral ? "root" : "folder"},
                              {"dfsPath", r.dfs_path},
                              {"pathConsumedBytes", r.path_consumed_bytes},
                              {"ttl", r.ttl_seconds},
                              {"failback", r.failback},
                              {"version", std::min(o.level, 4)},
                              {"bytes", bytes.size()},
                              {"targets", targets}}
                             .dump(2)
                      << "\n";
    return;
  }
  dfs::tools::Out() << (r.root_referral ? "root referral" : "folder referral")
                    << " for " << r.dfs_path << "\n"
                    << "  PathConsumed=" << r.path_consumed_bytes
                    << " bytes  ttl=" << r.ttl_seconds
                    << "s  failback=" << (r.failback ? "on" : "off")
                    << "  version=" << std::min(o.level, 4) << "  "
                    << bytes.size() << " bytes\n";
  int n = 0;
  for (const auto& t : r.targets) {
    dfs::tools::Out() << "  " << ++n << ". " << t.path
                      << (t.set_boundary ? "  [new target set]" : "") << "\n";
  }
  if (!o.raw_file.empty())
    dfs::tools::Out() << "  RESP_GET_DFS_REFERRAL written to " << o.raw_file
                      << "\n";
}

int Fail(const Globals& g, const Error& e) {
  dfs::tools::Err() << "dfsutil: error: " << e.Message() << "\n";
  if (g.json) {
    dfs::tools::Out() << json{{"ok", false},
                              {"error", e.Message()},
                              {"code", e.code.message()}}
                             .dump()
                      << "\n";
  }
  return 1;
}

}  // namespace

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

int RunCli(int argc, char** argv, const std::string& forced_store) {
  Globals g;
  CLI::App app{
      "dfsutil: administer a dfs namespace (roots, folders, targets, "
      "properties)",
      "dfsutil"};
  app.formatter(std::make_shared<UsageTextFormatter>());
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--store", g.store_dir,
                 "namespace store folder (LMDB); or set DFS_STORE")
      ->envname("DFS_STORE");
  app.add_flag("--json", g.json, "machine-readable output");

  // The handler to run once parsing succeeds; set by the chosen command.
  std::function<void()> run;

  // root add|remove|list
  auto* root = app.add_subcommand("root", "namespace roots");
  root->require_subcommand(1);
  std::string path, target, value, extra;
  std::string ttl_text, comment_text;
  {
    auto* add =
        root->add_subcommand("add", "create a namespace root \\\\host\\name");
    add->add_option("ROOT", path, "\\\\domain\\root or \\\\server\\root")
        ->required();
    add->add_option("--ttl", ttl_text,
                    "referral cache time in seconds (default 300)");
    add->add_option("--comment", comment_text, "description");
    add->callback([&] {
      run = [&] {
        ns::RootOptions o;
        if (!ttl_text.empty()) o.ttl_seconds = Check(ns::ParseTtl(ttl_text));
        if (!comment_text.empty()) o.comment = comment_text;
        RunChange(g, Describe({"root add", path}), [&](ns::NamespaceWriter& w) {
          return ns::AddRoot(w, path, o);
        });
      };
    });
    auto* remove =
        root->add_subcommand("remove", "delete a root and all its folders");
    remove->add_option("ROOT", path)->required();
    remove->callback([&] {
      run = [&] {
        RunChange(
            g, Describe({"root remove", path}),
            [&](ns::NamespaceWriter& w) { return ns::RemoveRoot(w, path); });
      };
    });
    auto* list = root->add_subcommand("list", "list the roots in the store");
    list->callback([&] { run = [&] { ListRoots(g); }; });
  }

  // root export ROOT FILE / root import set|merge|compare FILE ROOT
  dfs::tools::ExportRequest export_request;
  dfs::tools::ImportRequest import_request;
  int exit_code = 0;
  {
    auto* exp = root->add_subcommand(
        "export", "write a root and all its folders as dfsutil XML");
    exp->add_option("ROOT", export_request.root, "\\domain\root")->required();
    exp->add_option("FILE", export_request.file, "output file, or - for stdout")
        ->required();
    exp->add_flag("--downlevel", export_request.downlevel,
                  "the Windows Server 2003 dialect");
    exp->callback([&] {
      run = [&] {
        export_request.store_dir = g.store_dir;
        export_request.json = g.json;
        if (g.store_dir.empty()) OpenStore(g, false);  // reports the error
        exit_code = Check(dfs::tools::RunExport(export_request));
      };
    });
    auto* imp = root->add_subcommand(
        "import", "load a dfsutil XML export: set, merge or compare");
    imp->require_subcommand(1);
    struct Mode {
      const char* name;
      const char* help;
      dfs::tools::ImportMode mode;
    };
    for (const Mode& m :
         {Mode{"set", "make the root exactly what the file says",
               dfs::tools::ImportMode::kSet},
          Mode{"merge", "add and update from the file, remove nothing",
               dfs::tools::ImportMode::kMerge},
          Mode{"compare",
               "print the differences; exit 0 when equal, 1 when not, 2 on "
               "an error",
               dfs::tools::ImportMode::kCompare}}) {
      auto* sub = imp->add_subcommand(m.name, m.help);
      sub->add_option("FILE", import_request.file, "the XML export")
          ->required();
      sub->add_option("ROOT", import_request.root, "\\domain\root")->required();
      if (m.mode != dfs::tools::ImportMode::kCompare) {
        sub->add_flag("--create", import_request.create,
                      "create the root when the store lacks it");
      }
      if (m.mode == dfs::tools::ImportMode::kSet) {
        sub->add_flag("--no-backup{false}", import_request.backup,
                      "do not export the replaced namespace first");
        sub->add_option("--backup-dir", import_request.backup_dir,
                        "where backups go (default: STORE/backups)");
      }
      const auto mode = m.mode;
      sub->callback([&, mode] {
        run = [&, mode] {
          import_request.mode = mode;
          import_request.store_dir = g.store_dir;
          import_request.json = g.json;
          if (g.store_dir.empty()) OpenStore(g, false);  // reports the error
          auto result = dfs::tools::RunImport(import_request);
          if (!result && mode == dfs::tools::ImportMode::kCompare) {
            // compare answers 0 equal, 1 different: an error must be
            // neither (a bad file is not "different").
            Fail(g, result.error());
            exit_code = 2;
            return;
          }
          exit_code = Check(std::move(result));
        };
      });
    }
  }

  // link add|remove
  TargetFlags target_flags;
  auto* link =
      app.add_subcommand("link", "folders (links) and their first target");
  link->require_subcommand(1);
  {
    auto* add =
        link->add_subcommand("add", "create a folder with its first target");
    add->add_option("FOLDER", path, "\\\\domain\\root\\folder[\\...]")
        ->required();
    add->add_option("TARGET", target, "\\\\server\\share[\\path]")->required();
    target_flags.AddTo(add);
    add->callback([&] {
      run = [&] {
        auto o = target_flags.Parse();
        RunChange(g, Describe({"link add", path, target}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::AddLink(w, path, target, o);
                  });
      };
    });
    auto* remove = link->add_subcommand("remove", "delete a folder");
    remove->add_option("FOLDER", path)->required();
    remove->callback([&] {
      run = [&] {
        RunChange(
            g, Describe({"link remove", path}),
            [&](ns::NamespaceWriter& w) { return ns::RemoveLink(w, path); });
      };
    });
  }

  // target add|remove
  auto* tgt = app.add_subcommand(
      "target", "folder targets (or, on a root, namespace servers)");
  tgt->require_subcommand(1);
  {
    auto* add = tgt->add_subcommand("add", "add a target to a folder or root");
    add->add_option("PATH", path, "folder or root")->required();
    add->add_option("TARGET", target, "\\\\server\\share[\\path]")->required();
    target_flags.AddTo(add);
    add->callback([&] {
      run = [&] {
        auto o = target_flags.Parse();
        RunChange(g, Describe({"target add", path, target}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::AddTarget(w, path, target, o);
                  });
      };
    });
    auto* remove = tgt->add_subcommand("remove", "remove a target");
    remove->add_option("PATH", path)->required();
    remove->add_option("TARGET", target)->required();
    remove->callback([&] {
      run = [&] {
        RunChange(g, Describe({"target remove", path, target}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::RemoveTarget(w, path, target);
                  });
      };
    });
  }

  // property <name> set ...
  auto* prop =
      app.add_subcommand("property", "set root, folder and target properties");
  prop->require_subcommand(1);
  std::vector<std::string> args;
  auto add_property = [&](const std::string& name, const std::string& help,
                          const std::string& usage, size_t min_args,
                          size_t max_args, std::function<void()> handler) {
    auto* p = prop->add_subcommand(name, help);
    p->require_subcommand(1);
    auto* set = p->add_subcommand("set", help);
    set->add_option("ARGS", args, usage)
        ->required()
        ->expected(static_cast<int>(min_args), static_cast<int>(max_args))
        ->option_text(usage);
    set->callback([&, handler] { run = handler; });
    return set;
  };
  std::string rank_flag;
  add_property("ttl", "referral cache time (seconds) of a root or folder",
               "PATH SECONDS", 2, 2, [&] {
                 uint32_t ttl = Check(ns::ParseTtl(args[1]));
                 RunChange(g, Describe({"property ttl set", args[0], args[1]}),
                           [&](ns::NamespaceWriter& w) {
                             return ns::SetTtl(w, args[0], ttl);
                           });
               });
  add_property("failback", "clients fail back to preferred targets",
               "PATH on|off|inherit", 2, 2, [&] {
                 auto fb = Check(ns::ParseFailback(args[1]));
                 RunChange(
                     g, Describe({"property failback set", args[0], args[1]}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::SetFailback(w, args[0], fb);
                     });
               });
  add_property("state", "online/offline state of a root, folder or target",
               "PATH [TARGET] online|offline", 2, 3, [&] {
                 auto state = Check(ns::ParseState(args.back()));
                 std::optional<std::string_view> t;
                 if (args.size() == 3) t = args[1];
                 RunChange(
                     g,
                     Describe({"property state set", args[0],
                               args.size() == 3 ? args[1] : "", args.back()}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::SetState(w, args[0], t, state);
                     });
               });
  auto* priority = add_property(
      "priority", "referral priority class (and rank) of a target",
      "PATH TARGET CLASS [RANK]", 3, 4, [&] {
        auto cls = Check(ns::ParsePriorityClass(args[2]));
        std::optional<uint8_t> rank;
        if (args.size() == 4) rank = Check(ns::ParsePriorityRank(args[3]));
        if (!rank_flag.empty()) rank = Check(ns::ParsePriorityRank(rank_flag));
        RunChange(g,
                  Describe({"property priority set", args[0], args[1], args[2],
                            args.size() == 4 ? args[3] : rank_flag}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::SetPriority(w, args[0], args[1], cls, rank);
                  });
      });
  priority->add_option("--rank", rank_flag, "priority rank, 0-31");
  add_property("ordering", "referral ordering method of a root",
               "ROOT lowestCost|random|inSiteOnly", 2, 2, [&] {
                 auto m = Check(ns::ParseOrderingMethod(args[1]));
                 RunChange(
                     g, Describe({"property ordering set", args[0], args[1]}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::SetOrdering(w, args[0], m);
                     });
               });
  add_property("comment", "comment of a root or folder", "PATH TEXT", 2, 2,
               [&] {
                 RunChange(g, Describe({"property comment set", args[0]}),
                           [&](ns::NamespaceWriter& w) {
                             return ns::SetComment(w, args[0], args[1]);
                           });
               });
  add_property(
      "site", "site of a target (empty to clear)", "PATH TARGET SITE", 3, 3,
      [&] {
        RunChange(g, Describe({"property site set", args[0], args[1], args[2]}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::SetSite(w, args[0], args[1], args[2]);
                  });
      });

  // domain alias add|remove|list
  auto* domain = app.add_subcommand("domain", "domain names");
  domain->require_subcommand(1);
  auto* alias = domain->add_subcommand(
      "alias", "NetBIOS and DNS names of one domain (OW = orcsweb.com)");
  alias->require_subcommand(1);
  {
    auto* add = alias->add_subcommand("add", "declare two names one domain");
    add->add_option("NAME", value, "e.g. the NetBIOS name OW")->required();
    add->add_option("OTHER", extra, "e.g. the FQDN orcsweb.com")->required();
    add->callback([&] {
      run = [&] {
        RunChange(g, Describe({"domain alias add", value, extra}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::AddAlias(w, value, extra);
                  });
      };
    });
    auto* remove = alias->add_subcommand("remove", "forget an alias");
    remove->add_option("NAME", value)->required();
    remove->callback([&] {
      run = [&] {
        RunChange(
            g, Describe({"domain alias remove", value}),
            [&](ns::NamespaceWriter& w) { return ns::RemoveAlias(w, value); });
      };
    });
    auto* list = alias->add_subcommand("list", "list aliases");
    list->callback([&] { run = [&] { ListAliases(g); }; });
  }

  // site subnet add|remove, site cost set, site list
  auto* site = app.add_subcommand(
      "site", "sites: client subnets and site costs (referral ordering)");
  site->require_subcommand(1);
  std::string cost_text;
  {
    auto* subnet =
        site->add_subcommand("subnet", "which site a client subnet is in");
    subnet->require_subcommand(1);
    auto* add = subnet->add_subcommand("add", "map a subnet to a site");
    add->add_option("CIDR", value, "e.g. 10.1.0.0/16")->required();
    add->add_option("SITE", extra, "site name")->required();
    add->callback([&] {
      run = [&] {
        RunChange(g, Describe({"site subnet add", value, extra}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::AddSubnet(w, value, extra);
                  });
      };
    });
    auto* remove = subnet->add_subcommand("remove", "forget a subnet");
    remove->add_option("CIDR", value)->required();
    remove->callback([&] {
      run = [&] {
        RunChange(
            g, Describe({"site subnet remove", value}),
            [&](ns::NamespaceWriter& w) { return ns::RemoveSubnet(w, value); });
      };
    });
    auto* cost =
        site->add_subcommand("cost", "the cost between two sites (default 1)");
    cost->require_subcommand(1);
    auto* set = cost->add_subcommand("set", "set the cost between two sites");
    set->add_option("SITE_A", value)->required();
    set->add_option("SITE_B", extra)->required();
    set->add_option("COST", cost_text, "0-1000000")->required();
    set->callback([&] {
      run = [&] {
        uint32_t cost_value = Check(ns::ParseSiteCost(cost_text));
        RunChange(g, Describe({"site cost set", value, extra, cost_text}),
                  [&](ns::NamespaceWriter& w) {
                    return ns::SetSiteCost(w, value, extra, cost_value);
                  });
      };
    });
    site->add_subcommand("list", "subnets and costs")->callback([&] {
      run = [&] { ListSites(g); };
    });
  }

  // show PATH
  auto* show = app.add_subcommand(
      "show", "a root with every folder, or one folder, with all properties");
  show->add_option("PATH", path, "root or folder")->required();
  show->callback([&] { run = [&] { Show(g, path); }; });

  // diag referral PATH
  DiagReferralOptions diag_options;
  auto* diag = app.add_subcommand("diag", "diagnostics");
  diag->require_subcommand(1);
  {
    auto* referral = diag->add_subcommand(
        "referral", "what a namespace server answers for PATH (MS-DFSC)");
    referral
        ->add_option("PATH", diag_options.path, "\\\\domain\\root\\folder\\...")
        ->required();
    referral->add_option("--client-address", diag_options.client_address,
                         "answer as for this client (its site)");
    referral
        ->add_option("--level", diag_options.level, "MaxReferralLevel: 3 or 4")
        ->check(CLI::Range(3, 4));
    referral->add_option(
        "--server", diag_options.server,
        "ask this running dfsd (IP:PORT) instead of reading the store");
    referral->add_option("--raw", diag_options.raw_file,
                         "write the RESP_GET_DFS_REFERRAL bytes to FILE");
    referral
        ->add_option("--seed", diag_options.seed,
                     "shuffle seed (repeatable output)")
        ->each([&](const std::string&) { diag_options.seed_given = true; });
    referral->callback([&] { run = [&] { DiagReferral(g, diag_options); }; });
  }

  // log
  uint64_t since = 0;
  size_t limit = 100;
  auto* log = app.add_subcommand("log", "the store's change log");
  log->add_option("--since", since, "show changes after this serial");
  log->add_option("--limit", limit, "at most this many entries");
  log->callback([&] { run = [&] { ShowLog(g, since, limit); }; });

  auto* info = app.add_subcommand("store", "store information");
  info->require_subcommand(1);
  info->add_subcommand("info", "serial, counts and size")->callback([&] {
    run = [&] { StoreInfo(g); };
  });
  info->add_subcommand("verify",
                       "read the whole store and check it is whole (exit 0), "
                       "or name the damage (exit 1)")
      ->callback([&] { run = [&] { StoreVerify(g, exit_code); }; });

  try {
    app.parse(argc, argv);
    if (!forced_store.empty()) g.store_dir = forced_store;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, dfs::tools::Out(), dfs::tools::Err());
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, dfs::tools::Out(), dfs::tools::Err());
  } catch (const CLI::ParseError& e) {
    dfs::tools::Err() << "dfsutil: error: " << e.what()
                      << " (see 'dfsutil --help' or '<command> --help')\n";
    return 2;
  }
  try {
    if (run) run();
    return exit_code;
  } catch (const CommandFailed& f) {
    return Fail(g, f.error);
  } catch (const std::exception& e) {
    return Fail(g, dfs::MakeError(dfs::Errc::kIo, e.what()));
  }
}

}  // namespace

namespace dfs::tools {

int RunDfsutil(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err, const std::string& forced_store) {
  const OutputStreams saved = current_streams;
  current_streams = OutputStreams{&out, &err};
  std::vector<std::string> storage = {"dfsutil"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  const int code =
      RunCli(static_cast<int>(argv.size()), argv.data(), forced_store);
  current_streams = saved;
  return code;
}

}  // namespace dfs::tools
