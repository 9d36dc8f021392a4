// ApiError: a request's failure as the API layer sees it — an HTTP status and what to tell the
// client — independent of any dialect. Each dialect renders it in its own error shape (OpenAI's
// {"error":{message,type,param,code}}, Anthropic's {"type":"error","error":{type,message}}).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>

#include "kvcache/expected.h"

namespace ladle::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // OpenAI's error type
  std::string param;  // empty → null
  std::string code;   // empty → null
};

// A 400 naming the offending parameter.
ApiError invalid_param(std::string param, std::string message);
// Maps an engine/library error: kInvalidArgument → 400, kResourceExhausted → 429,
// kUnavailable → 503, kNotFound → 404, kInternal → 500.
ApiError api_error_from(const Error& error, std::string param = "");

}  // namespace ladle::server
