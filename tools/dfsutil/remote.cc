#include "remote.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli.h"
#include "dfs/referral/framing.h"
#include "dfs/referral_net/auth.h"
#include "dfs/referral_net/client.h"
#include "dfs/referral_net/server.h"
#include "remote_policy.h"

namespace dfs::tools {
namespace {

struct RemoteArgs {
  std::string server, key_file;
  std::vector<std::string> command;  // what the server runs
  std::string upload;                // an import's file
  std::string export_file;           // where an export's output goes
};

std::string ReadAll(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits global options from the command and rewrites file arguments.
std::string Parse(const std::vector<std::string>& args, RemoteArgs& r) {
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--server" || a == "--key" || a == "--store") &&
        i + 1 < args.size()) {
      if (a == "--server") r.server = args[i + 1];
      if (a == "--key") r.key_file = args[i + 1];
      ++i;  // --store is the server's business: dropped
    } else if (a == "--json") {
      r.command.push_back(a);
    } else {
      break;
    }
  }
  if (r.key_file.empty())
    return "--server needs --key FILE (the server's admin key)";
  std::vector<std::string> rest(args.begin() + static_cast<long>(i),
                                args.end());
  // root export ROOT FILE [--downlevel]: the server prints, we write FILE.
  if (rest.size() >= 4 && rest[0] == "root" && rest[1] == "export") {
    r.export_file = rest[3];
    rest[3] = "-";
  }
  // root import MODE [flags] FILE ROOT: FILE is uploaded.
  if (rest.size() >= 3 && rest[0] == "root" && rest[1] == "import") {
    std::vector<size_t> positional;
    for (size_t k = 3; k < rest.size(); ++k) {
      if (rest[k].rfind("--", 0) == 0) {
        if (rest[k] == "--backup-dir") ++k;
        continue;
      }
      positional.push_back(k);
    }
    if (!positional.empty()) {
      bool ok = false;
      r.upload = ReadAll(rest[positional[0]], ok);
      if (!ok) return "cannot read " + rest[positional[0]];
      rest[positional[0]] = kUploadMarker;
    }
  }
  r.command.insert(r.command.end(), rest.begin(), rest.end());
  return "";
}

}  // namespace

bool WantsRemote(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--server") return true;
    if (a == "--store" || a == "--key") {
      ++i;
      continue;
    }
    if (a == "--json") continue;
    return false;  // the command begins: a later --server is its own option
  }
  return false;
}

int RunRemote(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  RemoteArgs r;
  if (std::string problem = Parse(args, r); !problem.empty()) {
    err << "dfsutil: error: " << problem << "\n";
    return 2;
  }
  auto key = referral_net::ReadAdminKey(r.key_file);
  if (!key) {
    err << "dfsutil: error: " << key.error().Message() << "\n";
    return 1;
  }
  auto endpoint = referral_net::ParseEndpoint(r.server);
  if (!endpoint) {
    err << "dfsutil: error: " << endpoint.error().Message() << "\n";
    return 2;
  }
  // An import of a large namespace takes seconds: a generous deadline.
  auto client = referral_net::FramedClient::Connect(
      r.server, std::chrono::seconds(120),
      referral::kMaxAdminOutputBytes * 2 + 64);
  if (!client) {
    err << "dfsutil: error: " << client.error().Message() << "\n";
    return 1;
  }
  // Hello with our nonce; the server proves the key first (a fake dfsd
  // learns nothing), then we prove it; every frame after that carries a
  // MAC both ways (referral_net/auth.h).
  auto fail = [&](const std::string& why) {
    err << "dfsutil: error: " << why << "\n";
    return 1;
  };
  auto deadline = [&] {
    return std::chrono::steady_clock::now() + (*client)->timeout();
  };
  referral::ClientHandshake handshake(*key, referral::SessionPurpose::kAdmin);
  auto challenge = (*client)->ExchangeEncoded(handshake.Hello(), deadline());
  if (!challenge) return fail(challenge.error().Message());
  auto answer = handshake.Answer(*challenge);
  if (!answer)
    return fail("the server at " + r.server + ": " + answer.error().context);
  auto accepted = (*client)->ExchangeEncoded(*answer, deadline());
  if (!accepted) return fail(accepted.error().Message());
  auto sealer = handshake.Accept(*accepted);
  if (!sealer) return fail(sealer.error().context);
  auto reply = (*client)->ExchangeEncoded(
      sealer->Seal(referral::FrameType::kAdminCommand,
                   referral::EncodeAdminCommand({r.command, r.upload})),
      deadline());
  if (!reply) return fail(reply.error().Message());
  auto opened = sealer->Open(*reply);
  if (!opened) return fail(opened.error().Message());
  if (reply->type != referral::FrameType::kAdminResult) {
    return fail(referral_net::ErrorFromFrame({reply->type, std::move(*opened)})
                    .Message());
  }
  reply->payload = std::move(*opened);
  auto result = referral::DecodeAdminResult(reply->payload);
  if (!result) {
    err << "dfsutil: error: " << result.error().Message() << "\n";
    return 1;
  }
  if (!r.export_file.empty() && r.export_file != "-" &&
      result->exit_code == 0) {
    std::ofstream file(r.export_file, std::ios::binary | std::ios::trunc);
    file << result->out;
    if (!file) {
      err << "dfsutil: error: cannot write " << r.export_file << "\n";
      return 1;
    }
    out << "exported to " << r.export_file << " from " << r.server << "\n";
  } else {
    out << result->out;
  }
  err << result->err;
  return static_cast<int>(result->exit_code);
}

referral::AdminResult ExecuteRemoteCommand(
    const referral::AdminCommand& command, const std::string& store_dir) {
  std::vector<std::string> args = command.args;
  auto refuse = [](const std::string& why) {
    return referral::AdminResult{2, "",
                                 "dfsutil: error: " + why + " (remote)\n"};
  };
  // An allow-list of commands and their options: a server path never
  // comes from the client, and nothing unlisted runs.
  if (auto allowed = CheckRemoteCommand(args); !allowed) {
    return refuse(allowed.error().context);
  }
  std::string upload_path;
  for (auto& a : args) {
    if (a != kUploadMarker) continue;
    char tmpl[] = "/tmp/dfs-upload-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd < 0) return refuse("cannot store the upload");
    const bool written =
        write(fd, command.upload.data(), command.upload.size()) ==
        static_cast<ssize_t>(command.upload.size());
    close(fd);
    upload_path = tmpl;
    if (!written) {
      unlink(tmpl);
      return refuse("cannot store the upload (disk full?)");
    }
    a = upload_path;
  }
  std::ostringstream out, err;
  const int code = RunDfsutil(args, out, err, store_dir);
  if (!upload_path.empty()) unlink(upload_path.c_str());
  return referral::AdminResult{static_cast<uint32_t>(code), out.str(),
                               err.str()};
}

}  // namespace dfs::tools
