// dfsutil: namespace administration, modelled on Windows dfsutil. The
// commands live in cli.cc; with --server it runs them on a remote dfsd
// (remote.cc).
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "dfs/ns/store.h"
#include "remote.h"

int main(int argc, char** argv) {
  dfs::ns::ExitCleanlyOnStoreFault();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (dfs::tools::WantsRemote(args))
    return dfs::tools::RunRemote(args, std::cout, std::cerr);
  return dfs::tools::RunDfsutil(args, std::cout, std::cerr);
}
