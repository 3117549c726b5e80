// Included first by the files that define Asio coroutines. g++ 12 reports
// -Wmismatched-new-delete on coroutine frames that use a class-specific
// operator new/delete pair, as Asio's awaitable does (GCC bug 109224,
// fixed in 13): a false positive, not a real mismatch.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
