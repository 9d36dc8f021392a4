// The Files API (OpenAI's /v1/files) over the BatchStore: upload (multipart/form-data with
// purpose=batch and a file part; --max-file-mb), list (newest first; limit, after, order,
// purpose), retrieve, content (the raw bytes) and delete. Result files of batches are listed too
// (purpose batch_output). Every error is in OpenAI's shape; a data dir that cannot be opened or
// written is a 503 naming the reason.
//
// Thread-safety: free functions; the store is thread-safe; the router runs them as a StoreJob on the
// batch runner's threads, never on an I/O thread (router.h).
#pragma once

#include <string_view>
#include <variant>

#include "server/api_error.h"
#include "server/batch_runner.h"
#include "server/http_reply.h"

namespace ladle::server {

// POST /v1/files: `content_type` is the request's Content-Type (with the multipart boundary).
HttpReply handle_file_upload(BatchRunner& runner, ServerState& state, std::string_view content_type,
                             std::string_view body);
// GET /v1/files?limit=&after=&order=&purpose=
HttpReply handle_file_list(BatchRunner& runner, std::string_view target);
// GET /v1/files/{id}
HttpReply handle_file_get(BatchRunner& runner, std::string_view id);
// GET /v1/files/{id}/content
HttpReply handle_file_content(BatchRunner& runner, std::string_view id);
// DELETE /v1/files/{id}
HttpReply handle_file_delete(BatchRunner& runner, std::string_view id);

// Shared with the Batches API: `limit` (1..max, default `fallback`) and `after` of a list
// request, or a 400.
std::variant<ListQuery, ApiError> list_query_from(std::string_view target, int fallback, int max);
// A store failure as the API's error (503 for the data dir's problems, 500 otherwise).
ApiError store_error(const Error& error);

}  // namespace ladle::server
