// dfsd: the namespace server. Answers "where does this path live?" over
// TCP (MS-DFSC referral messages in a small framing, referral/FORMAT.md),
// from an LMDB namespace store that dfsutil writes; picks up changes within
// a second, probes target servers and puts dead ones last, and serves
// Prometheus metrics.
//
//   dfsd --store DIR --listen 127.0.0.1:7445 [--metrics 127.0.0.1:9445]
//        [--probe-port 445] [--probe web1=127.0.0.1:8081 ...]
//        [--probe-interval-ms 2000] [--probe-timeout-ms 1000] [--no-probe]
//        [--probe-check connect|smb|http]
//        [--probe-dns] [--replica-of PRIMARY_IP:PORT] [--admin-key FILE]
//        [--replica-key FILE] [--threads N]
//        [--etcd http://IP:PORT[,...] [--etcd-prefix /dfs/]
//         [--etcd-user NAME --etcd-password-file FILE]
//         [--etcd-ca-file CA.pem [--etcd-cert-file C.pem --etcd-key-file
//         K.pem]]]
//        [--samba-root DIR --samba-namespace \\host\root [--samba-share NAME]]
//        [--dfsrd IP:PORT[,...] [--dfsrd-poll-ms 2000]]
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "dfs/common/asio.h"
#include "dfs/domain_net/mirror.h"
#include "dfs/ns/path.h"
#include "dfs/ns/store.h"
#include "dfs/referral/msdfs.h"
#include "dfs/referral/replication_status.h"
#include "dfs/referral_net/auth.h"
#include "dfs/referral_net/server.h"
#include "remote.h"

int main(int argc, char** argv) {
  dfs::ns::ExitCleanlyOnStoreFault();
  dfs::referral_net::ServerOptions options;
  std::string store;
  std::vector<std::string> probes;
  int64_t probe_interval_ms = 2000, probe_timeout_ms = 1000, refresh_ms = 200,
          idle_ms = 60000;
  bool no_probe = false;
  uint64_t seed = 0;
  CLI::App app{"dfsd: the dfs namespace (referral) server", "dfsd"};
  app.add_option("--store", store, "namespace store folder (LMDB)")
      ->required()
      ->envname("DFS_STORE");
  app.add_option("--listen", options.listen,
                 "HOST:PORT for referrals (port 0: any)")
      ->capture_default_str();
  app.add_option("--metrics", options.metrics_listen,
                 "HOST:PORT for HTTP /metrics");
  app.add_option("--probe-port", options.probe.default_port,
                 "TCP port probed on target servers")
      ->capture_default_str();
  app.add_option("--probe", probes,
                 "SERVER=HOST:PORT: where to probe one server");
  app.add_option("--probe-interval-ms", probe_interval_ms, "probe period")
      ->capture_default_str();
  app.add_option("--probe-timeout-ms", probe_timeout_ms,
                 "probe timeout (the connect and the check's exchange)")
      ->capture_default_str();
  app.add_flag("--no-probe", no_probe, "do not probe target servers");
  std::string probe_check = "connect";
  app.add_option("--probe-check", probe_check,
                 "what a probe asks: connect (the TCP connection is "
                 "accepted), smb (an SMB2 NEGOTIATE is answered) or http "
                 "(HEAD / is answered below 500); only smb and http tell a "
                 "hung server from a serving one")
      ->capture_default_str();
  app.add_flag("--probe-dns", options.probe.resolve_names,
               "resolve target server names for probing (default: only --probe "
               "mappings and IP literals are probed)");
  app.add_option("--refresh-ms", refresh_ms,
                 "how often to read the store's change log")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", idle_ms,
                 "close idle client connections after")
      ->capture_default_str();
  app.add_option("--seed", seed, "shuffle seed (0: random)");
  app.add_option(
      "--threads", options.threads,
      "threads answering referrals (default: one per core this process "
      "may run on)");
  app.add_option("--max-connections", options.max_connections,
                 "client connections at once (default: from the descriptor "
                 "limit, at most 4096)");
  app.add_option("--max-connections-per-address",
                 options.max_connections_per_address,
                 "client connections from one address (default: a quarter "
                 "of the total)");
  std::string admin_key_file;
  app.add_option(
      "--admin-key", admin_key_file,
      "file holding the shared key for remote administration (dfsutil "
      "--server ... --key FILE); without it remote admin is off");
  std::string replica_key_file;
  app.add_option("--replica-key", replica_key_file,
                 "file holding the key a replica and its primary prove to "
                 "each other (both give the same file; default: the admin "
                 "key); without either, replication is off");
  app.add_option(
      "--replica-of", options.replica_of,
      "IP:PORT of the primary dfsd: keep this store a copy of its namespace");
  std::string etcd, etcd_prefix = "/dfs/", etcd_user, etcd_password_file;
  int64_t etcd_health_ms = 1000;
  app.add_option("--etcd", etcd,
                 "domain mode: keep the store a mirror of the namespace in "
                 "etcd (http[s]://IP:PORT of each member, comma-separated)");
  app.add_option("--etcd-prefix", etcd_prefix,
                 "where the namespace lives in etcd")
      ->capture_default_str();
  app.add_option("--etcd-user", etcd_user, "etcd user (etcd auth enabled)");
  app.add_option("--etcd-password-file", etcd_password_file,
                 "owner-only file holding the etcd user's password");
  dfs::domain_net::EtcdTls etcd_tls;
  app.add_option("--etcd-ca-file", etcd_tls.ca_file,
                 "https:// etcd: the CA that signed the members' certificates "
                 "(default: the system's roots)");
  app.add_option("--etcd-cert-file", etcd_tls.cert_file,
                 "https:// etcd: a client certificate (etcd "
                 "--client-cert-auth)");
  app.add_option("--etcd-key-file", etcd_tls.key_file,
                 "https:// etcd: the client certificate's owner-only key");
  app.add_option("--etcd-health-ms", etcd_health_ms,
                 "how often to check that etcd answers")
      ->capture_default_str();
  std::string samba_root, samba_share;
  app.add_option("--samba-root", samba_root,
                 "keep this directory a Samba msdfs root of the namespace "
                 "root --samba-namespace (one link per folder, in dfsd's "
                 "order); the smb.conf share is printed after the first line");
  app.add_option("--samba-namespace", options.samba_namespace,
                 "the namespace root the Samba msdfs root mirrors "
                 "(\\\\host\\root)");
  app.add_option("--samba-share", samba_share,
                 "the share name in the printed smb.conf section (default: "
                 "the root's name)");
  std::vector<std::string> dfsrd_members;
  app.add_option("--dfsrd", dfsrd_members,
                 "dfsrd members (their metrics address, IP:PORT or "
                 "http://IP:PORT; repeat or comma-separate) whose replication "
                 "state the status page shows")
      ->delimiter(',');
  int64_t dfsrd_poll_ms = options.dfsrd_poll_interval.count();
  app.add_option("--dfsrd-poll-ms", dfsrd_poll_ms,
                 "how often to ask each dfsrd member for its state")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (dfsrd_members.size() > dfs::referral::kMaxDfsrdMembers) {
    std::cerr << "dfsd: error: at most " << dfs::referral::kMaxDfsrdMembers
              << " --dfsrd members\n";
    return 2;
  }
  for (std::string member : dfsrd_members) {
    if (member.starts_with("http://")) member = member.substr(7);
    if (!member.empty() && member.back() == '/') member.pop_back();
    if (auto ok = dfs::referral_net::ParseEndpoint(member); !ok) {
      std::cerr << "dfsd: error: --dfsrd " << member << ": "
                << ok.error().Message()
                << " (give a member's metrics address as IP:PORT)\n";
      return 2;
    }
    options.dfsrd_members.push_back(member);
  }
  if (dfsrd_poll_ms < 100 || dfsrd_poll_ms > 3'600'000) {
    std::cerr << "dfsd: error: --dfsrd-poll-ms must be 100..3600000\n";
    return 2;
  }
  options.dfsrd_poll_interval = std::chrono::milliseconds(dfsrd_poll_ms);
  if (samba_root.empty() != options.samba_namespace.empty()) {
    std::cerr << "dfsd: error: --samba-root and --samba-namespace go "
                 "together\n";
    return 2;
  }
  if (!samba_root.empty()) {
    options.samba_root_dir = std::filesystem::absolute(samba_root);
    if (samba_share.empty()) {
      const auto& ns_path = options.samba_namespace;
      samba_share = ns_path.substr(ns_path.find_last_of("\\/") + 1);
    }
  }
  if (!etcd.empty()) {
    if (!options.replica_of.empty()) {
      std::cerr << "dfsd: error: --etcd and --replica-of exclude each other\n";
      return 2;
    }
    dfs::domain_net::MirrorOptions mirror;
    auto endpoints = dfs::domain_net::ParseEndpoints(etcd);
    if (!endpoints) {
      std::cerr << "dfsd: error: " << endpoints.error().Message() << "\n";
      return 2;
    }
    mirror.etcd.endpoints = *endpoints;
    mirror.etcd.user = etcd_user;
    mirror.etcd.tls = etcd_tls;
    if (!etcd_user.empty()) {
      auto password = dfs::referral_net::ReadPasswordFile(etcd_password_file);
      if (!password) {
        std::cerr << "dfsd: error: --etcd-password-file: "
                  << password.error().Message() << "\n";
        return 2;
      }
      mirror.etcd.password = *password;
    }
    mirror.prefix = etcd_prefix;
    mirror.health_interval = std::chrono::milliseconds(etcd_health_ms);
    options.source_name = "etcd " + etcd_prefix;
    options.start_source = [mirror](boost::asio::io_context& io,
                                    dfs::ns::Store& store,
                                    std::function<void()> wrote)
        -> std::unique_ptr<dfs::referral_net::StoreSource> {
      auto started =
          dfs::domain_net::StartMirror(io, store, mirror, std::move(wrote));
      if (!started) {
        spdlog::critical("DFS1031 etcd: {}", started.error().Message());
        std::exit(2);
      }
      return std::move(*started);
    };
  }

  options.store_dir = store;
  options.probe.enabled = !no_probe;
  if (auto check = dfs::referral::ParseProbeCheck(probe_check)) {
    options.probe.check = *check;
  } else {
    std::cerr << "dfsd: error: --probe-check: " << check.error().Message()
              << "\n";
    return 2;
  }
  options.probe.interval = std::chrono::milliseconds(probe_interval_ms);
  options.probe.timeout = std::chrono::milliseconds(probe_timeout_ms);
  options.refresh_interval = std::chrono::milliseconds(refresh_ms);
  options.idle_timeout = std::chrono::milliseconds(idle_ms);
  options.seed = seed;
  if (!admin_key_file.empty()) {
    auto key = dfs::referral_net::ReadAdminKey(admin_key_file);
    if (!key) {
      std::cerr << "dfsd: error: " << key.error().Message() << "\n";
      return 2;
    }
    options.admin_key = *key;
    options.admin_executor =
        [store](const dfs::referral::AdminCommand& command) {
          return dfs::tools::ExecuteRemoteCommand(command, store);
        };
  }
  if (!replica_key_file.empty()) {
    auto key = dfs::referral_net::ReadAdminKey(replica_key_file);
    if (!key) {
      std::cerr << "dfsd: error: " << key.error().Message() << "\n";
      return 2;
    }
    options.replica_key = *key;
  }
  for (const auto& p : probes) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos ||
        !dfs::referral_net::ParseEndpoint(p.substr(eq + 1))) {
      std::cerr << "dfsd: error: --probe wants SERVER=IP:PORT, got '" << p
                << "'\n";
      return 2;
    }
    options.probe.address_of[dfs::ns::FoldCase(p.substr(0, eq))] =
        p.substr(eq + 1);
  }

  // Logs go to stderr: stdout carries only the "listening on" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("dfsd"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  try {
    boost::asio::io_context io(1);
    dfs::referral_net::Server server(io, options);
    dfs::Status started = server.Start();
    if (!started.ok()) {
      std::cerr << "dfsd: error: " << started.error().Message() << "\n";
      return 1;
    }
    // The first line on stdout says where we listen (scripts and tests
    // read it); logs go to stderr.
    std::cout << "dfsd: listening on "
              << options.listen.substr(0, options.listen.rfind(':')) << ":"
              << server.port();
    if (server.metrics_port() != 0)
      std::cout << " metrics " << server.metrics_port();
    std::cout << std::endl;
    if (!options.samba_root_dir.empty()) {
      std::cout << "# smb.conf: serve the msdfs root (host msdfs = yes is "
                   "the default)\n"
                << dfs::referral::SmbConfShare(samba_share,
                                               options.samba_root_dir)
                << std::flush;
    }
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int sig) {
      spdlog::info("DFS1009 stopping on signal {}", sig);
      server.Stop();
      io.stop();
    });
    io.run();
    // What Stop cancelled completes now, while the server (and its
    // referral threads' io_contexts) still exist: an accept cancelled on
    // this io_context holds a socket made for a referral thread's, and
    // destroying it after the server would reach into freed memory.
    io.restart();
    io.poll();
  } catch (const std::exception& e) {
    std::cerr << "dfsd: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
