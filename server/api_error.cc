#include "server/api_error.h"

namespace ladle::server {

ApiError invalid_param(std::string param, std::string message) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

ApiError api_error_from(const Error& error, std::string param) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument: return invalid_param(std::move(param), error.message);
    case ErrorCode::kResourceExhausted: return {429, error.message, "overloaded_error", "", "overloaded"};
    case ErrorCode::kUnavailable: return {503, error.message, "unavailable_error", "", "unavailable"};
    case ErrorCode::kNotFound: return {404, error.message, "not_found_error", "", ""};
    case ErrorCode::kInternal: break;
  }
  return {500, error.message, "server_error", "", ""};
}

}  // namespace ladle::server
