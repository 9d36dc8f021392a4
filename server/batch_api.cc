#include "server/batch_api.h"

#include <chrono>

#include "server/batch_input.h"
#include "server/files_api.h"
#include "server/json_fields.h"
#include "server/openai_encoder.h"

namespace ladle::server {
namespace {

constexpr std::int64_t kWindowSeconds = 24 * 3600;  // completion_window "24h"

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json opt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }
json opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

HttpReply not_found(std::string_view id) {
  return error_reply(ApiError{404, "No batch found with id '" + std::string(id) + "'.", "invalid_request_error", "id",
                              "not_found"});
}

// OpenAI's metadata rules: up to 16 pairs, keys up to 64 characters, string values up to 512.
std::optional<ApiError> check_metadata(const json& m) {
  if (m.is_null()) return std::nullopt;
  if (!m.is_object() || m.size() > 16)
    return invalid_param("metadata", "metadata must be an object of at most 16 string key-value pairs");
  for (const auto& [key, value] : m.items())
    if (key.size() > 64 || !value.is_string() || value.get_ref<const std::string&>().size() > 512)
      return invalid_param("metadata", "metadata keys have at most 64 characters and values are strings of at most 512");
  return std::nullopt;
}

}  // namespace

json batch_json(const BatchRecord& b) {
  json errors = json::parse(b.errors_json, nullptr, false);
  json metadata = json::parse(b.metadata_json, nullptr, false);
  return {{"id", b.id},
          {"object", "batch"},
          {"endpoint", b.endpoint},
          {"errors", errors.is_discarded() ? json(nullptr) : errors},
          {"input_file_id", b.input_file_id},
          {"completion_window", b.completion_window},
          {"status", batch_status_name(b.status)},
          {"output_file_id", opt(b.output_file_id)},
          {"error_file_id", opt(b.error_file_id)},
          {"created_at", b.created_at},
          {"in_progress_at", opt(b.in_progress_at)},
          {"expires_at", b.expires_at},
          {"finalizing_at", opt(b.finalizing_at)},
          {"completed_at", opt(b.completed_at)},
          {"failed_at", opt(b.failed_at)},
          {"expired_at", opt(b.expired_at)},
          {"cancelling_at", opt(b.cancelling_at)},
          {"cancelled_at", opt(b.cancelled_at)},
          {"request_counts", {{"total", b.total}, {"completed", b.completed}, {"failed", b.failed}}},
          {"metadata", metadata.is_discarded() ? json(nullptr) : metadata}};
}

HttpReply handle_batch_create(BatchRunner& runner, ServerState& state, std::string_view body) {
  ApiError error;
  auto j = parse_object(body, error);
  if (!j) return error_reply(error);
  for (const auto& [key, value] : j->items())
    if (key != "input_file_id" && key != "endpoint" && key != "completion_window" && key != "metadata")
      return error_reply(invalid_param(key, "unknown parameter '" + key + "'"));
  BatchRecord b;
  for (auto [key, out] : {std::pair{"input_file_id", &b.input_file_id}, std::pair{"endpoint", &b.endpoint},
                          std::pair{"completion_window", &b.completion_window}}) {
    if (auto e = read_string(*j, key, out)) return error_reply(*e);
    if (out->empty()) return error_reply(invalid_param(key, std::string(key) + " is required"));
  }
  if (!batch_endpoint_from(b.endpoint))
    return error_reply(invalid_param("endpoint", "endpoint must be one of /v1/completions, /v1/chat/completions, "
                                                 "/v1/responses, /v1/messages (got '" + b.endpoint + "')"));
  if (b.completion_window != "24h")
    return error_reply(invalid_param("completion_window", "completion_window must be \"24h\""));
  const json metadata = j->value("metadata", json(nullptr));
  if (auto e = check_metadata(metadata)) return error_reply(*e);
  b.metadata_json = dump(metadata);
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto file = (*store)->file(b.input_file_id);
  if (!file) return error_reply(store_error(file.error()));
  if (!*file)
    return error_reply(ApiError{404, "No such File object: " + b.input_file_id, "invalid_request_error", "input_file_id",
                                "not_found"});
  if ((*file)->purpose != "batch")
    return error_reply(invalid_param("input_file_id", "the file " + b.input_file_id + " has purpose '" +
                                                          (*file)->purpose + "', not 'batch'"));
  b.id = state.next_id("batch_");
  b.created_at = unix_now();
  b.expires_at = b.created_at + kWindowSeconds;
  if (Status s = (*store)->add_batch(b); !s.ok()) return error_reply(store_error(s.error()));
  runner.enqueue(b.id);
  return json_reply(200, dump(batch_json(b)));
}

HttpReply handle_batch_get(BatchRunner& runner, std::string_view id) {
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto b = (*store)->batch(std::string(id));
  if (!b) return error_reply(store_error(b.error()));
  if (!*b) return not_found(id);
  return json_reply(200, dump(batch_json(**b)));
}

HttpReply handle_batch_cancel(BatchRunner& runner, std::string_view id) {
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  const std::string key(id);
  auto moved = (*store)->cancel_batch(key, unix_now());
  if (!moved) return error_reply(store_error(moved.error()));
  auto b = (*store)->batch(key);
  if (!b) return error_reply(store_error(b.error()));
  if (!*b) return not_found(id);
  if (*moved) runner.cancelled(key);
  else if ((*b)->status != BatchStatus::kCancelling)
    return error_reply(ApiError{409, "cannot cancel the batch " + key + ": its status is " +
                                         std::string(batch_status_name((*b)->status)),
                                "invalid_request_error", "", "batch_not_cancellable"});
  return json_reply(200, dump(batch_json(**b)));
}

HttpReply handle_batch_list(BatchRunner& runner, std::string_view target) {
  auto query = list_query_from(target, 20, 100);
  if (auto* e = std::get_if<ApiError>(&query)) return error_reply(*e);
  const auto& q = std::get<ListQuery>(query);
  auto store = runner.store();
  if (!store) return error_reply(store_error(store.error()));
  auto batches = (*store)->list_batches(q);
  if (!batches) return error_reply(store_error(batches.error()));
  const bool has_more = static_cast<int>(batches->size()) > q.limit;
  if (has_more) batches->pop_back();
  json data = json::array();
  for (const auto& b : *batches) data.push_back(batch_json(b));
  return json_reply(200, dump({{"object", "list"},
                               {"data", data},
                               {"first_id", batches->empty() ? json(nullptr) : json(batches->front().id)},
                               {"last_id", batches->empty() ? json(nullptr) : json(batches->back().id)},
                               {"has_more", has_more}}));
}

}  // namespace ladle::server
