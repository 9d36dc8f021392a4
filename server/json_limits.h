// JSON limits: bounds on the shape of a request body — nesting depth, array lengths (token-id
// prompts, messages, stop strings, any other array) and object sizes — checked on the body's
// text by a SAX pass that builds nothing and stops at the first excess, before the body is
// parsed into a tree. A body within --max-body can still describe a tree of a million nodes
// (1 MiB of "[" is a million levels; an array of 200k small numbers is ~200k json values), and
// the limits keep that from ever being built.
//
// The errors are OpenAI-shaped 400s naming the field, as OpenAI's API words them
// ("Invalid 'messages': array too long. ...", code "array_above_max_length").
//
// Thread-safety: stateless; call from anywhere.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "server/api_error.h"

namespace ladle::server {

struct JsonLimits {
  int max_depth = 32;                     // objects and arrays nested at most this deep
  std::size_t max_array_length = 4096;    // any array not named below
  std::size_t max_object_members = 4096;  // any object
  std::size_t max_token_ids = 65536;      // top-level "prompt" / "tokens" arrays (token ids)
  std::size_t max_messages = 2048;        // top-level "messages" (OpenAI's own limit)
  std::size_t max_stop = 4;               // top-level "stop" (OpenAI's own limit)
};

// The first limit `body` exceeds, as a 400 ApiError; nullopt when it is within every limit. A
// body that is not valid JSON passes (nullopt): the caller's parser reports it with its own
// message, so this check never changes what a malformed body is told.
std::optional<ApiError> check_json_limits(std::string_view body, const JsonLimits& limits = {});

}  // namespace ladle::server
