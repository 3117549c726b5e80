// The one way our *_net modules and tools include Boost.Asio.
// <utility> must come first: Asio 1.74 with libstdc++ 12 otherwise fails to
// build (chriskohlhoff/asio#944). Pure modules never include this file
// (checked by scripts/layering_check.sh).
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
// clang-format on
