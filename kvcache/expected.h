// Expected<T>: a value or an Error, the return type of every fallible public API in ladle.
//
// A small C++20 stand-in for std::expected (C++23) so that failures travel as values, never as
// exceptions or exit(). The ErrorCode lets the server map an engine error to an HTTP status
// without parsing messages.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ladle {

enum class ErrorCode {
  kInvalidArgument,    // the caller's input is wrong (HTTP 400)
  kResourceExhausted,  // try again later: queue full (HTTP 429)
  kUnavailable,        // not serving: loading or draining (HTTP 503)
  kNotFound,           // a file or id that does not exist
  kInternal,           // a bug or an I/O failure
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For functions that return nothing on success.
struct Ok {};
using Status = Expected<Ok>;

}  // namespace ladle
