// dfsutil's whole command line as a function, so that the dfsutil binary
// and dfsd (running commands for authenticated remote admins) share one
// implementation.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace dfs::tools {

// Runs `args` (without the program name) and returns the exit code.
// Output goes to `out` / `err`. A non-empty `forced_store` replaces any
// --store the arguments give (the server's own store).
int RunDfsutil(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err, const std::string& forced_store = "");

}  // namespace dfs::tools
