// Where dfsutil's commands print. A thread-local pair, so that dfsd can
// run a command for a remote admin on a worker thread and capture its
// output (tools/dfsutil/cli.h), while the command line prints to the
// terminal.
#pragma once

#include <iostream>

namespace dfs::tools {

struct OutputStreams {
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
};
inline thread_local OutputStreams current_streams;
inline std::ostream& Out() { return *current_streams.out; }
inline std::ostream& Err() { return *current_streams.err; }

}  // namespace dfs::tools
