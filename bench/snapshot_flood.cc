// Issue 12's flood: peers asking dfsd for namespace snapshots, to run while
// bench/referral_load measures referral latency (bench/snapshot_flood.sh).
//   --mode unauth: C connections, each sends snapshot requests (no session)
//                  and never reads what comes back;
//   --mode auth:   C connections that prove the replica key, ask for a
//                  snapshot each and never read it.
// Bounded: stops after --seconds; loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dfs/referral/framing.h"
#include "dfs/referral_net/auth.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
namespace rn = dfs::referral_net;
using dfs::referral::FrameType;

int Connect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n =
        send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

std::optional<dfs::referral::Frame> ReadFrame(int fd) {
  dfs::referral::Framer framer(1 << 20);
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    auto frames = framer.Feed(std::string_view(buf, n));
    if (!frames) return std::nullopt;
    if (!frames->empty()) return frames->front();
  }
}

// Proves the replica key; returns the sealer, or nullopt.
std::optional<dfs::referral::FrameSealer> Session(int fd,
                                                  const std::string& key) {
  dfs::referral::ClientHandshake handshake(
      key, dfs::referral::SessionPurpose::kReplication);
  if (!SendAll(fd, handshake.Hello())) return std::nullopt;
  auto challenge = ReadFrame(fd);
  if (!challenge) return std::nullopt;
  auto answer = handshake.Answer(*challenge);
  if (!answer || !SendAll(fd, *answer)) return std::nullopt;
  auto accepted = ReadFrame(fd);
  if (!accepted) return std::nullopt;
  auto sealer = handshake.Accept(*accepted);
  if (!sealer) return std::nullopt;
  return std::move(*sealer);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"snapshot flood against dfsd (issue 12)"};
  uint16_t port = 0;
  std::string mode = "unauth", key_file;
  int connections = 300;
  double seconds = 10;
  app.add_option("--port", port)->required();
  app.add_option("--mode", mode)->check(CLI::IsMember({"unauth", "auth"}));
  app.add_option("--key", key_file, "the replica key (auth mode)");
  app.add_option("--connections", connections)->check(CLI::Range(1, 2000));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.1, 120.0));
  CLI11_PARSE(app, argc, argv);
  std::string key;
  if (mode == "auth") {
    auto k = rn::ReadAdminKey(key_file);
    if (!k) {
      std::fprintf(stderr, "%s\n", k.error().Message().c_str());
      return 2;
    }
    key = *k;
  }
  const auto end = SteadyClock::now() + std::chrono::duration<double>(seconds);
  std::vector<int> fds;
  size_t asked = 0, refused_connections = 0, sessions = 0;
  for (int i = 0; i < connections && SteadyClock::now() < end; ++i) {
    const int fd = Connect(port);
    if (fd < 0) {
      ++refused_connections;
      continue;
    }
    if (mode == "auth") {
      auto sealer = Session(fd, key);
      if (!sealer) {
        close(fd);
        ++refused_connections;
        continue;
      }
      ++sessions;
      // Ask for a snapshot and never read it.
      if (SendAll(fd, sealer->Seal(FrameType::kSnapshotRequest, ""))) ++asked;
    }
    fds.push_back(fd);
  }
  // Unauthenticated: keep asking on every connection, reading nothing.
  const std::string request =
      dfs::referral::EncodeFrame(FrameType::kSnapshotRequest, "");
  while (mode == "unauth" && SteadyClock::now() < end) {
    for (int fd : fds) {
      if (send(fd, request.data(), request.size(),
               MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        ++asked;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_until(end);
  for (int fd : fds) close(fd);
  std::printf(
      "flood (%s): %zu connections held, %zu sessions, %zu snapshot "
      "requests, %zu connections refused\n",
      mode.c_str(), fds.size(), sessions, asked, refused_connections);
  return 0;
}
