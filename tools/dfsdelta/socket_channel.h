// A sync Channel over a connected stream socket (loopback TCP in dfsdelta
// sync): frames are written whole, read with the header checked against
// the limits before the payload is read, each read bounded by a timeout.
#pragma once

#include "dfs/repl/sync.h"

namespace dfs::tools {

class SocketChannel final : public repl::Channel {
 public:
  // Takes ownership of `fd`.
  SocketChannel(int fd, int timeout_ms);
  ~SocketChannel() override;
  Status Send(repl::SyncMessage type, std::string_view payload) override;
  Result<repl::SyncFrame> Receive() override;

 private:
  Status ReadExactly(char* out, size_t n);
  int fd_;
};

// Runs the receiver (which opens and chunks `basis_paths`) and the sender
// (holding `new_data`) on two threads joined by a TCP connection on
// 127.0.0.1; each side does its own chunking, at the same time, as two
// machines would.
struct LoopbackSyncResult {
  Result<repl::SyncStats> receiver = repl::SyncStats{};
  Result<repl::SyncStats> sender = repl::SyncStats{};
  uint64_t basis_bytes = 0, basis_chunks = 0;
};
LoopbackSyncResult SyncOverLoopback(const std::vector<std::string>& basis_paths,
                                    std::span<const uint8_t> new_data,
                                    const std::string& out_path,
                                    const repl::ReceiverOptions& receiver,
                                    const repl::SenderOptions& sender,
                                    unsigned receiver_chunk_threads = 1);

}  // namespace dfs::tools
