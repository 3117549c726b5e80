// dfsd's shell uses the shared coroutine names (dfs/common/coroutines.h).
#pragma once

#include "dfs/common/coroutines.h"

namespace dfs::referral_net {
using namespace dfs::coroutines;
}  // namespace dfs::referral_net
