// Result<T> and Status: errors as values at module boundaries.
//
// A small subset of std::expected (C++23), which g++ 12 only ships for
// -std=c++2b: has_value(), operator bool, *, ->, value(), error() and
// Unexpected. Switching to std::expected later is a rename.
// Thread-safety: plain values; no shared state.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace dfs {

// An error: a code (from one of the modules' categories) and a human
// sentence saying what was being done and to what.
struct Error {
  std::error_code code;
  std::string context;

  // "context: category message", the one line a tool prints.
  std::string Message() const;
};

template <typename E = Error>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
  Result(Unexpected<Error> e)
      : storage_(std::in_place_index<1>, std::move(e).error()) {}
  Result(Error e) : storage_(std::in_place_index<1>, std::move(e)) {}

  bool has_value() const { return storage_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(storage_); }
  const T& value() const& { return std::get<0>(storage_); }
  // By value, so that `for (auto& x : *Compute())` does not dangle: the
  // temporary Result dies at the end of the full expression.
  T value() && { return std::get<0>(std::move(storage_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(storage_); }
  Error&& error() && { return std::get<1>(std::move(storage_)); }

 private:
  std::variant<T, Error> storage_;
};

// Result of an operation that yields nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)), failed_(true) {}
  Status(Unexpected<Error> e) : error_(std::move(e).error()), failed_(true) {}
  static Status Ok() { return Status(); }

  bool ok() const { return !failed_; }
  bool has_value() const { return ok(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

// Builds an Error from any error-code enum of ours.
template <typename Enum>
Error MakeError(Enum code, std::string context) {
  return Error{make_error_code(code), std::move(context)};
}

// Shorthand for `return Fail(Errc::kX, "...")` in functions returning
// Result<T> or Status.
template <typename Enum>
Unexpected<Error> Fail(Enum code, std::string context) {
  return Unexpected<Error>(MakeError(code, std::move(context)));
}

}  // namespace dfs

// Propagates the error of a Status or Result expression.
#define DFS_RETURN_IF_ERROR(expr)                                  \
  do {                                                             \
    auto&& dfs_status_ = (expr);                                   \
    if (!dfs_status_.has_value())                                  \
      return ::dfs::Unexpected<::dfs::Error>(dfs_status_.error()); \
  } while (0)

#define DFS_CONCAT_INNER_(a, b) a##b
#define DFS_CONCAT_(a, b) DFS_CONCAT_INNER_(a, b)
// `DFS_ASSIGN_OR_RETURN(auto x, Compute());` binds the value or returns the
// error.
#define DFS_ASSIGN_OR_RETURN(lhs, expr) \
  DFS_ASSIGN_OR_RETURN_IMPL_(DFS_CONCAT_(dfs_result_, __LINE__), lhs, expr)
#define DFS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                  \
  auto tmp = (expr);                                                \
  if (!tmp.has_value())                                             \
    return ::dfs::Unexpected<::dfs::Error>(std::move(tmp).error()); \
  lhs = std::move(tmp).value()
