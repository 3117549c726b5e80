#include "remote_policy.h"

#include <set>

#include "dfs/common/error.h"

namespace dfs::tools {
namespace {

// A positional pinned to one value.
enum class Pin { kNone, kUpload, kStdout };

struct CommandSpec {
  std::vector<std::string> words;
  size_t min_args, max_args;
  std::set<std::string> value_options;  // take the next word as value
  std::set<std::string> flags;
  std::vector<Pin> pins;  // per positional; missing = kNone
};

const std::vector<CommandSpec>& Specs() {
  const std::set<std::string> target_options = {"--priority", "--rank",
                                                "--site", "--state"};
  static const std::vector<CommandSpec> specs = [&] {
    std::vector<CommandSpec> s = {
        {{"root", "add"}, 1, 1, {"--ttl", "--comment"}, {}, {}},
        {{"root", "remove"}, 1, 1, {}, {}, {}},
        {{"root", "list"}, 0, 0, {}, {}, {}},
        {{"root", "export"},
         2,
         2,
         {},
         {"--downlevel"},
         {Pin::kNone, Pin::kStdout}},
        {{"link", "add"}, 2, 2, target_options, {}, {}},
        {{"link", "remove"}, 1, 1, {}, {}, {}},
        {{"target", "add"}, 2, 2, target_options, {}, {}},
        {{"target", "remove"}, 2, 2, {}, {}, {}},
        {{"property", "ttl", "set"}, 2, 2, {}, {}, {}},
        {{"property", "failback", "set"}, 2, 2, {}, {}, {}},
        {{"property", "state", "set"}, 2, 3, {}, {}, {}},
        {{"property", "priority", "set"}, 3, 4, {"--rank"}, {}, {}},
        {{"property", "ordering", "set"}, 2, 2, {}, {}, {}},
        {{"property", "comment", "set"}, 2, 2, {}, {}, {}},
        {{"property", "site", "set"}, 3, 3, {}, {}, {}},
        {{"domain", "alias", "add"}, 2, 2, {}, {}, {}},
        {{"domain", "alias", "remove"}, 1, 1, {}, {}, {}},
        {{"domain", "alias", "list"}, 0, 0, {}, {}, {}},
        {{"site", "subnet", "add"}, 2, 2, {}, {}, {}},
        {{"site", "subnet", "remove"}, 1, 1, {}, {}, {}},
        {{"site", "cost", "set"}, 3, 3, {}, {}, {}},
        {{"site", "list"}, 0, 0, {}, {}, {}},
        {{"show"}, 1, 1, {}, {}, {}},
        {{"diag", "referral"},
         1,
         1,
         {"--client-address", "--level", "--seed"},
         {},
         {}},
        {{"log"}, 0, 0, {"--since", "--limit"}, {}, {}},
        {{"store", "info"}, 0, 0, {}, {}, {}},
    };
    for (const char* mode : {"set", "merge", "compare"}) {
      s.push_back({{"root", "import", mode},
                   2,
                   2,
                   {},
                   {"--create", "--no-backup"},
                   {Pin::kUpload, Pin::kNone}});
    }
    return s;
  }();
  return specs;
}

Error Refused(const std::string& why) {
  return MakeError(Errc::kInvalidArgument, why);
}

}  // namespace

Status CheckRemoteCommand(const std::vector<std::string>& args) {
  size_t at = 0;
  if (at < args.size() && args[at] == "--json") ++at;
  const CommandSpec* spec = nullptr;
  for (const auto& s : Specs()) {
    if (args.size() - at < s.words.size()) continue;
    bool match = true;
    for (size_t i = 0; i < s.words.size() && match; ++i) {
      match = args[at + i] == s.words[i];
    }
    if (match && (!spec || s.words.size() > spec->words.size())) spec = &s;
  }
  if (spec == nullptr) {
    std::string line;
    for (size_t i = at; i < args.size() && i < at + 3; ++i) {
      line += (line.empty() ? "" : " ") + args[i];
    }
    return Unexpected(Refused("'" + line + "' is not a remote command"));
  }
  std::vector<std::string> positionals;
  for (size_t i = at + spec->words.size(); i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-') {
      if (spec->flags.count(a)) continue;
      if (spec->value_options.count(a)) {
        if (i + 1 >= args.size()) {
          return Unexpected(Refused(a + " needs a value"));
        }
        ++i;
        continue;
      }
      return Unexpected(Refused(a + " is not available remotely"));
    }
    positionals.push_back(a);
  }
  if (positionals.size() < spec->min_args ||
      positionals.size() > spec->max_args) {
    return Unexpected(Refused("wrong number of arguments"));
  }
  for (size_t i = 0; i < positionals.size(); ++i) {
    const Pin pin = i < spec->pins.size() ? spec->pins[i] : Pin::kNone;
    if (pin == Pin::kUpload && positionals[i] != kUploadMarker) {
      return Unexpected(Refused("a remote import reads the client's file"));
    }
    if (pin == Pin::kStdout && positionals[i] != "-") {
      return Unexpected(Refused("a remote export goes to the client"));
    }
    if (pin == Pin::kNone && positionals[i] == kUploadMarker) {
      return Unexpected(Refused("an upload stands only for an import's FILE"));
    }
  }
  return Status::Ok();
}

}  // namespace dfs::tools
