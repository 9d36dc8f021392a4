#include "server/files_api.h"

#include <charconv>
#include <chrono>

#include "server/json_fields.h"
#include "server/multipart.h"
#include "server/openai_encoder.h"
#include "server/query_param.h"

namespace ladle::server {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json file_json(const StoredFile& f) {
  return {{"id", f.id},           {"object", "file"},    {"bytes", f.bytes},       {"created_at", f.created_at},
          {"filename", f.filename}, {"purpose", f.purpose}, {"status", "processed"}, {"expires_at", nullptr},
          {"status_details", nullptr}};
}

HttpReply not_found(std::string_view id) {
  return error_reply(ApiError{404, "No such File object: " + std::string(id), "invalid_request_error", "id", "not_found"});
}

}  // namespace

ApiError store_error(const Error& error) {
  if (error.code == ErrorCode::kUnavailable)
    return ApiError{503, error.message, "unavailable_error", "", "storage_unavailable"};
  return ApiError{500, error.message, "server_error", "", ""};
}

std::variant<ListQuery, ApiError> list_query_from(std::string_view target, int fallback, int max) {
  ListQuery q;
  q.limit = fallback;
  if (auto limit = query_param(target, "limit")) {
    int v = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), v);
    if (ec != std::errc() || end != limit->data() + limit->size() || v < 1 || v > max)
      return invalid_param("limit", "limit must be an integer in [1, " + std::to_string(max) + "]");
    q.limit = v;
  }
  if (auto after = query_param(target, "after")) q.after = std::string(*after);
  return q;
}

HttpReply handle_file_upload(BatchRunner& runner, ServerState& state, std::string_view content_type,
                             std::string_view body) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary) return error_reply(invalid_param("file", boundary.error().message));
  auto parts = parse_multipart(body, *boundary);
  if (!parts) return error_reply(invalid_param("file", parts.error().message));
  const MultipartPart* file = nullptr;
  std::optional<std::string_view> purpose;
  for (const auto& p : *parts) {
    if (p.name == "file") file = &p;
    else if (p.name == "purpose") purpose = p.data;
  }
  if (!purpose) return error_reply(invalid_param("purpose", "the form has no 'purpose' field"));
  if (*purpose != "batch")
    return error_reply(invalid_param("purpose", "purpose must be 'batch' (the only purpose this server stores), not '" +
                                                    std::string(purpose->substr(0, 64)) + "'"));
  if (!file || !file->filename) return error_reply(invalid_param("file", "the form has no 'file' part with a filename"));
  const double mb = state.config().max_file_mb;
  if (static_cast<double>(file->data.size()) > mb * 1024 * 1024)
    return error_reply(ApiError{413, "the file has " + std::to_string(file->data.size()) + " bytes; --max-file-mb allows " +
                                         std::to_string(static_cast<std::int64_t>(mb * 1024 * 1024)),
                                "invalid_request_error", "file", "file_too_large"});
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  StoredFile meta{state.next_id("file-"), *file->filename, "batch", static_cast<std::int64_t>(file->data.size()),
                  unix_now()};
  if (Status s = (*store)->add_file(meta, file->data); !s.ok()) return error_reply(store_error(s.error()));
  return json_reply(200, dump(file_json(meta)));
}

HttpReply handle_file_list(BatchRunner& runner, std::string_view target) {
  auto query = list_query_from(target, 10000, 10000);
  if (auto* e = std::get_if<ApiError>(&query)) return error_reply(*e);
  auto& q = std::get<ListQuery>(query);
  if (auto purpose = query_param(target, "purpose")) q.purpose = std::string(*purpose);
  if (auto order = query_param(target, "order"); order && *order != "desc")
    return error_reply(invalid_param("order", "order must be 'desc' (newest first)"));
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto files = (*store)->list_files(q);
  if (!files) return error_reply(store_error(files.error()));
  const bool has_more = static_cast<int>(files->size()) > q.limit;
  if (has_more) files->pop_back();
  json data = json::array();
  for (const auto& f : *files) data.push_back(file_json(f));
  return json_reply(200, dump({{"object", "list"},
                               {"data", data},
                               {"first_id", files->empty() ? json(nullptr) : json(files->front().id)},
                               {"last_id", files->empty() ? json(nullptr) : json(files->back().id)},
                               {"has_more", has_more}}));
}

HttpReply handle_file_get(BatchRunner& runner, std::string_view id) {
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto f = (*store)->file(std::string(id));
  if (!f) return error_reply(store_error(f.error()));
  if (!*f) return not_found(id);
  return json_reply(200, dump(file_json(**f)));
}

HttpReply handle_file_content(BatchRunner& runner, std::string_view id) {
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto content = (*store)->file_content(std::string(id));
  if (!content) return error_reply(store_error(content.error()));
  if (!*content) return not_found(id);
  HttpReply r{200, "application/octet-stream", std::move(**content), {}};
  return r;
}

HttpReply handle_file_delete(BatchRunner& runner, std::string_view id) {
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto deleted = (*store)->delete_file(std::string(id));
  if (!deleted) return error_reply(store_error(deleted.error()));
  if (!*deleted) return not_found(id);
  return json_reply(200, dump({{"id", id}, {"object", "file"}, {"deleted", true}}));
}

}  // namespace ladle::server
