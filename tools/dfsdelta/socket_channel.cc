#include "socket_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "dfs/referral/framing.h"

namespace dfs::tools {

SocketChannel::SocketChannel(int fd, int timeout_ms) : fd_(fd) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

SocketChannel::~SocketChannel() {
  if (fd_ >= 0) ::close(fd_);
}

Status SocketChannel::Send(repl::SyncMessage type, std::string_view payload) {
  if (payload.size() > repl::kMaxSyncFrameBytes) {
    return Fail(Errc::kLimitExceeded, "sync frame over 16 MiB");
  }
  // One frame of the project's framing: type kReplSync, the sync message
  // type, then the message.
  std::string header = referral::EncodeFrameHeader(
      referral::FrameType::kReplSync, payload.size() + 1);
  header += static_cast<char>(type);
  iovec iov[2] = {{const_cast<char*>(header.data()), header.size()},
                  {const_cast<char*>(payload.data()), payload.size()}};
  size_t left = header.size() + payload.size();
  int first = 0;
  while (left > 0) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = static_cast<size_t>(2 - first);
    // MSG_NOSIGNAL: a receiver that gave up is an error, not a SIGPIPE.
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Errc::kIo,
                  std::string("sync connection: ") + std::strerror(errno));
    }
    left -= static_cast<size_t>(n);
    size_t done = static_cast<size_t>(n);
    while (first < 2 && done >= iov[first].iov_len) {
      done -= iov[first].iov_len;
      ++first;
    }
    if (first < 2) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
      iov[first].iov_len -= done;
    }
  }
  sent_ += header.size() + payload.size();
  return Status::Ok();
}

Status SocketChannel::ReadExactly(char* out, size_t n) {
  while (n > 0) {
    const ssize_t got = ::read(fd_, out, n);
    if (got == 0) return Fail(Errc::kIo, "sync connection closed by the peer");
    if (got < 0) {
      if (errno == EINTR) continue;
      return Fail(Errc::kIo, errno == EAGAIN
                                 ? std::string("sync connection timed out")
                                 : std::string("sync connection: ") +
                                       std::strerror(errno));
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
  return Status::Ok();
}

Result<repl::SyncFrame> SocketChannel::Receive() {
  char header[referral::kFrameHeaderBytes];
  DFS_RETURN_IF_ERROR(ReadExactly(header, sizeof header));
  DFS_ASSIGN_OR_RETURN(
      auto typed, referral::DecodeFrameHeader({header, sizeof header},
                                              repl::kMaxSyncFrameBytes + 1));
  if (typed.first != referral::FrameType::kReplSync || typed.second == 0) {
    return Fail(Errc::kCorrupt, "not a sync message");
  }
  char type = 0;
  DFS_RETURN_IF_ERROR(ReadExactly(&type, 1));
  if (type < 1 || static_cast<uint8_t>(type) > repl::kMaxSyncMessage) {
    return Fail(Errc::kCorrupt,
                "unknown sync message " + std::to_string(uint8_t(type)));
  }
  repl::SyncFrame frame;
  frame.type = static_cast<repl::SyncMessage>(type);
  frame.payload.resize(typed.second - 1);
  DFS_RETURN_IF_ERROR(ReadExactly(frame.payload.data(), frame.payload.size()));
  received_ += sizeof header + typed.second;
  return frame;
}

LoopbackSyncResult SyncOverLoopback(const std::vector<std::string>& basis_paths,
                                    std::span<const uint8_t> new_data,
                                    const std::string& out_path,
                                    const repl::ReceiverOptions& receiver,
                                    const repl::SenderOptions& sender,
                                    unsigned receiver_chunk_threads) {
  LoopbackSyncResult result;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    result.receiver =
        Fail(Errc::kIo, std::string("cannot listen on 127.0.0.1: ") +
                            std::strerror(errno));
    if (listener >= 0) ::close(listener);
    return result;
  }
  constexpr int kTimeoutMs = 120'000;
  std::thread receiving([&] {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      result.receiver = Fail(Errc::kIo, "accept failed");
      return;
    }
    SocketChannel channel(fd, kTimeoutMs);
    auto basis = repl::Basis::Open(basis_paths, receiver.params.data,
                                   receiver_chunk_threads);
    if (!basis) {
      (void)channel.Send(repl::SyncMessage::kError, basis.error().context);
      result.receiver = Unexpected(basis.error());
      return;
    }
    result.basis_bytes = basis->size();
    result.basis_chunks = basis->entries().size();
    result.receiver = repl::RunReceiver(channel, *basis, out_path, receiver);
  });
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    result.sender = Fail(Errc::kIo, "cannot connect to the receiver");
    ::close(fd);
    ::shutdown(listener, SHUT_RDWR);
  } else {
    SocketChannel channel(fd, kTimeoutMs);
    result.sender = repl::RunSender(channel, new_data, sender);
  }
  receiving.join();
  ::close(listener);
  return result;
}

}  // namespace dfs::tools
