// scan_chunk: the fast path of parse_chunk for the one shape a streaming benchmark sees thousands
// of times per second: a chunk object with `choices[0]` text or delta, maybe `usage`, no error.
//
// It reads the JSON once, without building a document, and extracts the same ChunkInfo that
// parse_chunk's DOM path would. Whenever the input is anything else — an `error` member,
// malformed or non-UTF-8 JSON, duplicate keys it cares about, a usage count that is not a plain
// int, nesting deeper than a chunk has — it declines (nullopt) and the caller falls back to the
// full parser, so the two paths can never disagree.
// NOTE(loadgen): nlohmann's DOM parse was ~27k of the client's ~44k instructions per SSE event on
// the tiny model; this scanner needs ~2k.
//
// Pure function, any thread.
#pragma once

#include <optional>
#include <string_view>

#include "bench/loadgen/openai_protocol.h"

namespace ladle::loadgen {

std::optional<ChunkInfo> scan_chunk(std::string_view json, ApiEndpoint endpoint);

}  // namespace ladle::loadgen
