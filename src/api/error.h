// A request's failure as both protocols report it: what kind it is (which decides the HTTP
// status and whether a client may retry), what is wrong, and the request field at fault.
#pragma once

#include <string>

#include "util/result.h"

namespace tf::api {

struct Error {
    ErrorKind kind = ErrorKind::Invalid;
    std::string message;
    std::string param;  // the offending field, when there is one
};

template <typename T>
using Result = tf::Result<T, Error>;
using Status = tf::BasicStatus<Error>;

inline Error bad_request(std::string message, std::string param = "") {
    return {ErrorKind::Invalid, std::move(message), std::move(param)};
}
// An engine error as the API's: its kind kept, the field at fault named when known.
inline Error from_engine(const tf::Error& e, std::string param = "") {
    return {e.kind, e.message, std::move(param)};
}

// The HTTP status both protocols give a kind. The status is part of each protocol (OpenAI's
// Batch output records it too), so it lives here rather than with the sockets.
inline int http_status(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Invalid:
            return 400;
        case ErrorKind::NotFound:
            return 404;
        case ErrorKind::TooLarge:
            return 413;
        case ErrorKind::Forbidden:
            return 403;
        case ErrorKind::Upstream:
            return 502;
        case ErrorKind::Overloaded:
        case ErrorKind::Unavailable:
            return 503;
        case ErrorKind::Timeout:
            return 504;
        case ErrorKind::Cancelled:
            return 499;  // the client went away; nobody reads it
        case ErrorKind::Internal:
            return 500;
    }
    return 500;
}

}  // namespace tf::api
