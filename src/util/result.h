// Errors as values at the edges: parsers of outside input return Result<T>, whose error
// names what is wrong and where. Internal invariants may still assert.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace tf {

// What kind of failure, for the edges that map errors to protocols (HTTP statuses, exit codes)
// without reading message text.
enum class ErrorKind {
    Invalid,      // the input is wrong (the default)
    NotFound,     // a named thing does not exist
    Overloaded,   // no capacity now; retrying later may succeed
    Unavailable,  // shutting down or not ready
    Timeout,      // a deadline passed
    Cancelled,    // stopped on request
    TooLarge,     // beyond a size limit (a body, a key count, a nesting depth)
    Forbidden,    // refused by configuration (a disabled feature)
    Upstream,     // a remote service failed (a hub, a registry, a remote endpoint)
    Internal,     // a bug or an environment failure
};

struct Error {
    std::string message;
    ErrorKind kind = ErrorKind::Invalid;
};

// E is Error, or a richer error of an edge (api::Error adds the request field at fault).
template <typename T, typename E = Error>
class [[nodiscard]] Result {
  public:
    Result(T value) : value_(std::move(value)) {}
    Result(E error) : error_(std::move(error)) {}

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return *value_;
    }
    const T& value() const& {
        assert(ok());
        return *value_;
    }
    T&& value() && {
        assert(ok());
        return std::move(*value_);
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const E& error() const {
        assert(!ok());
        return error_;
    }

  private:
    std::optional<T> value_;
    E error_;
};

// Result<void> equivalent.
template <typename E>
class [[nodiscard]] BasicStatus {
  public:
    BasicStatus() = default;
    BasicStatus(E error) : failed_(true), error_(std::move(error)) {}
    static BasicStatus success() { return BasicStatus(); }

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const E& error() const {
        assert(failed_);
        return error_;
    }

  private:
    bool failed_ = false;
    E error_;
};
using Status = BasicStatus<Error>;

}  // namespace tf
