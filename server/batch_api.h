// The Batches API (OpenAI's /v1/batches): create (input_file_id, endpoint, completion_window
// "24h", metadata), retrieve, cancel and list (newest first; limit, after, has_more — what the
// SDKs' auto-pagers follow). The work itself is the BatchRunner's; these handlers check the
// request, store or read the batch and render OpenAI's batch object.
//
// Thread-safety: free functions; the runner and its store are thread-safe; the router runs them
// as a StoreJob on the batch runner's threads, never on an I/O thread (router.h).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "server/batch_runner.h"
#include "server/http_reply.h"

namespace ladle::server {

// POST /v1/batches
HttpReply handle_batch_create(BatchRunner& runner, ServerState& state, std::string_view body);
// GET /v1/batches/{id}
HttpReply handle_batch_get(BatchRunner& runner, std::string_view id);
// POST /v1/batches/{id}/cancel: validating or in_progress → cancelling (the runner finishes it as
// cancelled); a batch already cancelling is returned as it is; any other status is a 409.
HttpReply handle_batch_cancel(BatchRunner& runner, std::string_view id);
// GET /v1/batches?limit=&after=
HttpReply handle_batch_list(BatchRunner& runner, std::string_view target);

// OpenAI's batch object.
nlohmann::json batch_json(const BatchRecord& batch);

}  // namespace ladle::server
