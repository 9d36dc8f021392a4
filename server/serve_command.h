// `ladle serve`: the OpenAI-compatible streaming HTTP server.
#pragma once

#include <span>
#include <string>

namespace ladle::server {

int run_serve(std::span<const std::string> args);

}  // namespace ladle::server
