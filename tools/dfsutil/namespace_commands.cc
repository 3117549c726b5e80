// dfsutil's commands that change or list the namespace: root (with XML
// export and import), link, target, property, domain alias, site.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "context.h"
#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "output.h"
#include "xml_commands.h"

namespace dfs::tools {
namespace {

// The words most commands take, kept for the handler that runs.
struct Words {
  std::string path, target, value, extra;
};

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
  Result<ns::TargetOptions> Parse() const {
    ns::TargetOptions o;
    if (!priority.empty()) {
      DFS_ASSIGN_OR_RETURN(o.priority_class, ns::ParsePriorityClass(priority));
    }
    if (!rank.empty()) {
      DFS_ASSIGN_OR_RETURN(o.priority_rank, ns::ParsePriorityRank(rank));
    }
    if (!site.empty()) o.site = site;
    if (!state.empty()) {
      DFS_ASSIGN_OR_RETURN(o.state, ns::ParseState(state));
    }
    return o;
  }
};

// Sets `cmd` to run `handler` once the command line is parsed.
void OnRun(CLI::App* cmd, CommandContext& ctx,
           std::function<Status()> handler) {
  cmd->callback([&ctx, handler = std::move(handler)] { ctx.run = handler; });
}

// A consistent view of the namespace for the list commands.
Result<NamespaceView> Reader(CommandContext& ctx) {
  return ReadNamespace(ctx.globals);
}

void RegisterRoot(CLI::App& app, CommandContext& ctx) {
  auto* root = app.add_subcommand("root", "namespace roots");
  root->require_subcommand(1);
  struct Options {
    std::string path, ttl, comment;
    ExportRequest export_request;
    ImportRequest import_request;
  };
  Options& o = ctx.Keep<Options>();
  auto* add =
      root->add_subcommand("add", "create a namespace root \\\\host\\name");
  add->add_option("ROOT", o.path, "\\\\domain\\root or \\\\server\\root")
      ->required();
  add->add_option("--ttl", o.ttl,
                  "referral cache time in seconds (default 300)");
  add->add_option("--comment", o.comment, "description");
  OnRun(add, ctx, [&ctx, &o]() -> Status {
    ns::RootOptions options;
    if (!o.ttl.empty()) {
      DFS_ASSIGN_OR_RETURN(options.ttl_seconds, ns::ParseTtl(o.ttl));
    }
    if (!o.comment.empty()) options.comment = o.comment;
    return RunChange(ctx, Describe({"root add", o.path}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::AddRoot(w, o.path, options);
                     });
  });
  auto* remove =
      root->add_subcommand("remove", "delete a root and all its folders");
  remove->add_option("ROOT", o.path)->required();
  OnRun(remove, ctx, [&ctx, &o] {
    return RunChange(
        ctx, Describe({"root remove", o.path}),
        [&](ns::NamespaceWriter& w) { return ns::RemoveRoot(w, o.path); });
  });
  auto* list = root->add_subcommand("list", "list the roots in the store");
  OnRun(list, ctx, [&ctx]() -> Status {
    DFS_ASSIGN_OR_RETURN(auto reader, Reader(ctx));
    DFS_ASSIGN_OR_RETURN(auto roots, reader->ListRoots());
    std::vector<RootListing> listing;
    for (const auto& e : roots) {
      DFS_ASSIGN_OR_RETURN(auto folders, reader->ListFolders(e.key));
      listing.push_back({e.root, folders.size()});
    }
    RenderRoots(ctx.out, ctx.globals.json, listing);
    return Status::Ok();
  });

  auto* exp = root->add_subcommand(
      "export", "write a root and all its folders as dfsutil XML");
  exp->add_option("ROOT", o.export_request.root, "\\domain\root")->required();
  exp->add_option("FILE", o.export_request.file, "output file, or - for stdout")
      ->required();
  exp->add_flag("--downlevel", o.export_request.downlevel,
                "the Windows Server 2003 dialect");
  OnRun(exp, ctx, [&ctx, &o]() -> Status {
    o.export_request.store_dir = ctx.globals.store_dir;
    o.export_request.json = ctx.globals.json;
    DFS_RETURN_IF_ERROR(NotInDomainMode(ctx.globals, "root export"));
    DFS_RETURN_IF_ERROR(NeedStore(ctx.globals));
    DFS_ASSIGN_OR_RETURN(ctx.exit_code, RunExport(o.export_request, ctx.out));
    return Status::Ok();
  });
  auto* imp = root->add_subcommand(
      "import", "load a dfsutil XML export: set, merge or compare");
  imp->require_subcommand(1);
  struct Mode {
    const char* name;
    const char* help;
    ImportMode mode;
  };
  for (const Mode& m :
       {Mode{"set", "make the root exactly what the file says",
             ImportMode::kSet},
        Mode{"merge", "add and update from the file, remove nothing",
             ImportMode::kMerge},
        Mode{"compare",
             "print the differences; exit 0 when equal, 1 when not, 2 on "
             "an error",
             ImportMode::kCompare}}) {
    auto* sub = imp->add_subcommand(m.name, m.help);
    sub->add_option("FILE", o.import_request.file, "the XML export")
        ->required();
    sub->add_option("ROOT", o.import_request.root, "\\domain\root")->required();
    if (m.mode != ImportMode::kCompare) {
      sub->add_flag("--create", o.import_request.create,
                    "create the root when the store lacks it");
    }
    if (m.mode == ImportMode::kSet) {
      sub->add_flag("--no-backup{false}", o.import_request.backup,
                    "do not export the replaced namespace first");
      sub->add_option("--backup-dir", o.import_request.backup_dir,
                      "where backups go (default: STORE/backups)");
    }
    const ImportMode mode = m.mode;
    OnRun(sub, ctx, [&ctx, &o, mode]() -> Status {
      o.import_request.mode = mode;
      o.import_request.store_dir = ctx.globals.store_dir;
      o.import_request.json = ctx.globals.json;
      DFS_RETURN_IF_ERROR(NotInDomainMode(ctx.globals, "root import"));
      DFS_RETURN_IF_ERROR(NeedStore(ctx.globals));
      auto result = RunImport(o.import_request, ctx.out, ctx.err);
      if (!result && mode == ImportMode::kCompare) {
        // compare answers 0 equal, 1 different: an error must be neither
        // (a bad file is not "different").
        RenderError(ctx.out, ctx.err, ctx.globals.json, result.error());
        ctx.exit_code = 2;
        return Status::Ok();
      }
      DFS_ASSIGN_OR_RETURN(ctx.exit_code, std::move(result));
      return Status::Ok();
    });
  }
}

// link add|remove and target add|remove: a folder's targets.
void RegisterLinksAndTargets(CLI::App& app, CommandContext& ctx) {
  struct Options {
    Words words;
    TargetFlags flags;
  };
  Options& o = ctx.Keep<Options>();
  auto* link =
      app.add_subcommand("link", "folders (links) and their first target");
  link->require_subcommand(1);
  auto* link_add =
      link->add_subcommand("add", "create a folder with its first target");
  link_add
      ->add_option("FOLDER", o.words.path, "\\\\domain\\root\\folder[\\...]")
      ->required();
  link_add->add_option("TARGET", o.words.target, "\\\\server\\share[\\path]")
      ->required();
  o.flags.AddTo(link_add);
  OnRun(link_add, ctx, [&ctx, &o]() -> Status {
    DFS_ASSIGN_OR_RETURN(ns::TargetOptions options, o.flags.Parse());
    return RunChange(ctx, Describe({"link add", o.words.path, o.words.target}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::AddLink(w, o.words.path, o.words.target,
                                          options);
                     });
  });
  auto* link_remove = link->add_subcommand("remove", "delete a folder");
  link_remove->add_option("FOLDER", o.words.path)->required();
  OnRun(link_remove, ctx, [&ctx, &o] {
    return RunChange(ctx, Describe({"link remove", o.words.path}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::RemoveLink(w, o.words.path);
                     });
  });

  auto* tgt = app.add_subcommand(
      "target", "folder targets (or, on a root, namespace servers)");
  tgt->require_subcommand(1);
  auto* add = tgt->add_subcommand("add", "add a target to a folder or root");
  add->add_option("PATH", o.words.path, "folder or root")->required();
  add->add_option("TARGET", o.words.target, "\\\\server\\share[\\path]")
      ->required();
  o.flags.AddTo(add);
  OnRun(add, ctx, [&ctx, &o]() -> Status {
    DFS_ASSIGN_OR_RETURN(ns::TargetOptions options, o.flags.Parse());
    return RunChange(
        ctx, Describe({"target add", o.words.path, o.words.target}),
        [&](ns::NamespaceWriter& w) {
          return ns::AddTarget(w, o.words.path, o.words.target, options);
        });
  });
  auto* remove = tgt->add_subcommand("remove", "remove a target");
  remove->add_option("PATH", o.words.path)->required();
  remove->add_option("TARGET", o.words.target)->required();
  OnRun(remove, ctx, [&ctx, &o] {
    return RunChange(ctx,
                     Describe({"target remove", o.words.path, o.words.target}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::RemoveTarget(w, o.words.path, o.words.target);
                     });
  });
}

// property NAME set ARGS...: one row a property.
struct PropertyArgs {
  std::vector<std::string> args;
  std::string rank_flag;  // priority's --rank
};
struct Property {
  const char* name;
  const char* help;
  const char* usage;
  size_t min_args, max_args;
  // The change to make, and the words the change log records.
  std::function<Result<std::function<Status(ns::NamespaceWriter&)>>(
      const PropertyArgs&)>
      change;
  std::function<std::string(const PropertyArgs&)> describe;
};

std::vector<Property> Properties() {
  using Change = std::function<Status(ns::NamespaceWriter&)>;
  auto words = [](const char* name) {
    return [name](const PropertyArgs& p) {
      std::string out = std::string("property ") + name + " set";
      for (const auto& a : p.args) {
        if (!a.empty()) out += " " + a;  // as Describe: empty words skipped
      }
      return out;
    };
  };
  return {
      {"ttl", "referral cache time (seconds) of a root or folder",
       "PATH SECONDS", 2, 2,
       [](const PropertyArgs& p) -> Result<Change> {
         DFS_ASSIGN_OR_RETURN(uint32_t ttl, ns::ParseTtl(p.args[1]));
         return Change([&p, ttl](ns::NamespaceWriter& w) {
           return ns::SetTtl(w, p.args[0], ttl);
         });
       },
       words("ttl")},
      {"failback", "clients fail back to preferred targets",
       "PATH on|off|inherit", 2, 2,
       [](const PropertyArgs& p) -> Result<Change> {
         DFS_ASSIGN_OR_RETURN(auto fb, ns::ParseFailback(p.args[1]));
         return Change([&p, fb](ns::NamespaceWriter& w) {
           return ns::SetFailback(w, p.args[0], fb);
         });
       },
       words("failback")},
      {"state", "online/offline state of a root, folder or target",
       "PATH [TARGET] online|offline", 2, 3,
       [](const PropertyArgs& p) -> Result<Change> {
         DFS_ASSIGN_OR_RETURN(auto state, ns::ParseState(p.args.back()));
         return Change([&p, state](ns::NamespaceWriter& w) {
           std::optional<std::string_view> target;
           if (p.args.size() == 3) target = p.args[1];
           return ns::SetState(w, p.args[0], target, state);
         });
       },
       words("state")},
      {"priority", "referral priority class (and rank) of a target",
       "PATH TARGET CLASS [RANK]", 3, 4,
       [](const PropertyArgs& p) -> Result<Change> {
         DFS_ASSIGN_OR_RETURN(auto cls, ns::ParsePriorityClass(p.args[2]));
         std::optional<uint8_t> rank;
         if (p.args.size() == 4) {
           DFS_ASSIGN_OR_RETURN(rank, ns::ParsePriorityRank(p.args[3]));
         }
         if (!p.rank_flag.empty()) {
           DFS_ASSIGN_OR_RETURN(rank, ns::ParsePriorityRank(p.rank_flag));
         }
         return Change([&p, cls, rank](ns::NamespaceWriter& w) {
           return ns::SetPriority(w, p.args[0], p.args[1], cls, rank);
         });
       },
       [](const PropertyArgs& p) {
         return Describe({"property priority set", p.args[0], p.args[1],
                          p.args[2],
                          p.args.size() == 4 ? p.args[3] : p.rank_flag});
       }},
      {"ordering", "referral ordering method of a root",
       "ROOT lowestCost|random|inSiteOnly", 2, 2,
       [](const PropertyArgs& p) -> Result<Change> {
         DFS_ASSIGN_OR_RETURN(auto method, ns::ParseOrderingMethod(p.args[1]));
         return Change([&p, method](ns::NamespaceWriter& w) {
           return ns::SetOrdering(w, p.args[0], method);
         });
       },
       words("ordering")},
      {"comment", "comment of a root or folder", "PATH TEXT", 2, 2,
       [](const PropertyArgs& p) -> Result<Change> {
         return Change([&p](ns::NamespaceWriter& w) {
           return ns::SetComment(w, p.args[0], p.args[1]);
         });
       },
       // The comment itself is not logged.
       [](const PropertyArgs& p) {
         return Describe({"property comment set", p.args[0]});
       }},
      {"site", "site of a target (empty to clear)", "PATH TARGET SITE", 3, 3,
       [](const PropertyArgs& p) -> Result<Change> {
         return Change([&p](ns::NamespaceWriter& w) {
           return ns::SetSite(w, p.args[0], p.args[1], p.args[2]);
         });
       },
       words("site")},
  };
}

void RegisterProperties(CLI::App& app, CommandContext& ctx) {
  auto* prop =
      app.add_subcommand("property", "set root, folder and target properties");
  prop->require_subcommand(1);
  PropertyArgs& p = ctx.Keep<PropertyArgs>();
  for (Property& property : Properties()) {
    auto* group = prop->add_subcommand(property.name, property.help);
    group->require_subcommand(1);
    auto* set = group->add_subcommand("set", property.help);
    set->add_option("ARGS", p.args, property.usage)
        ->required()
        ->expected(static_cast<int>(property.min_args),
                   static_cast<int>(property.max_args))
        ->option_text(property.usage);
    if (std::string_view(property.name) == "priority") {
      set->add_option("--rank", p.rank_flag, "priority rank, 0-31");
    }
    OnRun(set, ctx,
          [&ctx, &p, change = std::move(property.change),
           describe = std::move(property.describe)]() -> Status {
            DFS_ASSIGN_OR_RETURN(auto apply, change(p));
            return RunChange(ctx, describe(p), apply);
          });
  }
}

// `add KEY VALUE` and `remove KEY` under `parent`, one change each (domain
// aliases, site subnets).
struct PairCommands {
  const char* what;  // as the change log names it: "domain alias"
  const char* add_help;
  const char* remove_help;
  const char* key;  // KEY's name and help
  const char* key_help;
  const char* value;
  const char* value_help;
  Status (*add)(ns::NamespaceWriter&, std::string_view, std::string_view);
  Status (*remove)(ns::NamespaceWriter&, std::string_view);
};

void RegisterPair(CLI::App* parent, CommandContext& ctx,
                  const PairCommands& c) {
  Words& o = ctx.Keep<Words>();
  auto* add = parent->add_subcommand("add", c.add_help);
  add->add_option(c.key, o.value, c.key_help)->required();
  add->add_option(c.value, o.extra, c.value_help)->required();
  OnRun(add, ctx, [&ctx, &o, c] {
    return RunChange(
        ctx, Describe({std::string(c.what) + " add", o.value, o.extra}),
        [&](ns::NamespaceWriter& w) { return c.add(w, o.value, o.extra); });
  });
  auto* remove = parent->add_subcommand("remove", c.remove_help);
  remove->add_option(c.key, o.value)->required();
  OnRun(remove, ctx, [&ctx, &o, c] {
    return RunChange(
        ctx, Describe({std::string(c.what) + " remove", o.value}),
        [&](ns::NamespaceWriter& w) { return c.remove(w, o.value); });
  });
}

void RegisterDomainAndSites(CLI::App& app, CommandContext& ctx) {
  Words& o = ctx.Keep<Words>();
  auto* domain = app.add_subcommand("domain", "domain names");
  domain->require_subcommand(1);
  auto* alias = domain->add_subcommand(
      "alias", "NetBIOS and DNS names of one domain (OW = orcsweb.com)");
  alias->require_subcommand(1);
  RegisterPair(alias, ctx,
               {"domain alias", "declare two names one domain",
                "forget an alias", "NAME", "e.g. the NetBIOS name OW", "OTHER",
                "e.g. the FQDN orcsweb.com", &ns::AddAlias, &ns::RemoveAlias});
  auto* list = alias->add_subcommand("list", "list aliases");
  OnRun(list, ctx, [&ctx]() -> Status {
    DFS_ASSIGN_OR_RETURN(auto reader, Reader(ctx));
    DFS_ASSIGN_OR_RETURN(auto aliases, reader->ListAliases());
    RenderAliases(ctx.out, ctx.globals.json, aliases);
    return Status::Ok();
  });

  auto* site = app.add_subcommand(
      "site", "sites: client subnets and site costs (referral ordering)");
  site->require_subcommand(1);
  auto* subnet =
      site->add_subcommand("subnet", "which site a client subnet is in");
  subnet->require_subcommand(1);
  RegisterPair(subnet, ctx,
               {"site subnet", "map a subnet to a site", "forget a subnet",
                "CIDR", "e.g. 10.1.0.0/16", "SITE", "site name", &ns::AddSubnet,
                &ns::RemoveSubnet});
  auto* cost =
      site->add_subcommand("cost", "the cost between two sites (default 1)");
  cost->require_subcommand(1);
  auto* set = cost->add_subcommand("set", "set the cost between two sites");
  set->add_option("SITE_A", o.value)->required();
  set->add_option("SITE_B", o.extra)->required();
  set->add_option("COST", o.path, "0-1000000")->required();
  OnRun(set, ctx, [&ctx, &o]() -> Status {
    DFS_ASSIGN_OR_RETURN(uint32_t cost_value, ns::ParseSiteCost(o.path));
    return RunChange(ctx, Describe({"site cost set", o.value, o.extra, o.path}),
                     [&](ns::NamespaceWriter& w) {
                       return ns::SetSiteCost(w, o.value, o.extra, cost_value);
                     });
  });
  auto* site_list = site->add_subcommand("list", "subnets and costs");
  OnRun(site_list, ctx, [&ctx]() -> Status {
    DFS_ASSIGN_OR_RETURN(auto reader, Reader(ctx));
    DFS_ASSIGN_OR_RETURN(auto subnets, reader->ListSubnets());
    DFS_ASSIGN_OR_RETURN(auto costs, reader->ListSiteCosts());
    RenderSites(ctx.out, ctx.globals.json, subnets, costs);
    return Status::Ok();
  });
}

}  // namespace

void RegisterNamespaceCommands(CLI::App& app, CommandContext& ctx) {
  RegisterRoot(app, ctx);
  RegisterLinksAndTargets(app, ctx);
  RegisterProperties(app, ctx);
  RegisterDomainAndSites(app, ctx);
}

}  // namespace dfs::tools
