#pragma once

// Errors are values: an errno-style code plus a context string that grows as
// the error travels up ("attach flow_exporter 'edge' to eth0: TCX: ...").

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace l3af {

class Error {
  public:
    Error(int code, std::string context) : code_(code), context_(std::move(context)) {}

    // An error from the current errno, with what was being done.
    static Error fromErrno(std::string context) { return Error(errno, std::move(context)); }

    int code() const { return code_; }
    const std::string& context() const { return context_; }

    // "context: strerror(code)", or just the context when code is 0.
    std::string message() const {
        if (code_ == 0)
            return context_;
        return context_ + ": " + std::strerror(code_);
    }

    // Prefix the context with an outer step: "outer: inner".
    Error wrap(const std::string& outer) const& { return Error(code_, outer + ": " + context_); }
    Error wrap(const std::string& outer) && {
        context_ = outer + ": " + context_;
        return std::move(*this);
    }

  private:
    int code_;
    std::string context_;
};

template <typename T> using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(int code, std::string context) {
    return std::unexpected<Error>(Error(code, std::move(context)));
}
inline std::unexpected<Error> failErrno(std::string context) {
    return std::unexpected<Error>(Error::fromErrno(std::move(context)));
}

} // namespace l3af
