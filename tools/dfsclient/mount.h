// `dfsclient mount`: the namespace as a read-only FUSE 3 file system, so a
// web server serves `MOUNTPOINT/webfarm/Site1/index.html` unchanged while
// the client picks (and changes) the content server behind it.
#pragma once

#include <string>
#include <vector>

#include "dfs/client/client.h"

namespace dfs::tools {

struct MountOptions {
  std::string mountpoint;
  std::string domain;              // `contoso`: MOUNTPOINT/x is \\contoso\x
  std::vector<std::string> roots;  // listed at the top (others work by name)
  bool allow_other = false;        // let other users (nginx) read it
  bool debug = false;
};

// Mounts, prints "dfsclient: mounted \\DOMAIN at MOUNTPOINT" on stdout,
// serves until SIGTERM/SIGINT/SIGHUP or `fusermount3 -u`, then unmounts.
// Returns the process exit code.
int RunMount(client::Client& client, const MountOptions& options);

// The errno a failed resolve stands for in a file system.
int ErrnoFor(const Error& error);
// Whether an errno from a target means "this target is in trouble" (fail
// over) rather than an answer about the file.
bool IsTargetFailure(int err);

}  // namespace dfs::tools
