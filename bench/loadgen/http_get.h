// http_get: one small blocking HTTP GET with a deadline (GET /v1/models, GET /metrics).
//
// Free function, callable from any thread; it runs its own io_context so it never interferes
// with the load-generating one. Not meant for the measured requests (see StreamCall).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "bench/loadgen/url.h"
#include "kvcache/expected.h"

namespace ladle::loadgen {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET url.target(path). Fails on connection errors, a timeout or a body over 16 MiB; any HTTP
// status is a successful result.
Expected<HttpResponse> http_get(const Url& url, std::string_view path,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace ladle::loadgen
