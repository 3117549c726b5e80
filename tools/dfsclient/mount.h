// `dfsclient mount`: the namespace as a read-only FUSE 3 file system, so a
// web server serves `MOUNTPOINT/webfarm/Site1/index.html` unchanged while
// the client picks (and changes) the content server behind it.
// How it stays answering when a target hangs, and never mixes two copies
// of a file: client/README.md, "The mount".
#pragma once

#include <string>
#include <vector>

#include "cache_file.h"
#include "dfs/client/client.h"
#include "mount_metrics.h"

namespace dfs::tools {

struct MountOptions {
  std::string mountpoint;
  std::string domain;              // `contoso`: MOUNTPOINT/x is \\contoso\x
  std::vector<std::string> roots;  // listed at the top (others work by name)
  bool allow_other = false;        // let other users (nginx) read it
  bool debug = false;
  std::string metrics;  // IP:PORT for Prometheus, empty for none
};

// Mounts, prints "dfsclient: mounted \\DOMAIN at MOUNTPOINT" on stdout,
// serves until SIGTERM/SIGINT/SIGHUP or `fusermount3 -u`, then unmounts.
// `cache` is where the cache is loaded from at start and saved at stop,
// and where the control socket goes; `metrics` receives the client's
// events (the caller made the client with it as its EventSink's target).
// Returns the process exit code.
int RunMount(client::Client& client, const MountOptions& options,
             CacheFile& cache, MountMetrics& metrics);

// The errno a failed resolve stands for in a file system.
int ErrnoFor(const Error& error);
// Whether an errno from a target means "this target is in trouble" (fail
// over) rather than an answer about the file.
bool IsTargetFailure(int err);

// Whether `mountinfo` (the text of /proc/self/mountinfo) has a dfs FUSE
// mount (type fuse.dfs) at `mountpoint`.
bool HasDfsMountAt(const std::string& mountinfo, const std::string& mountpoint);

}  // namespace dfs::tools
