#include "server/batch_input.h"

#include <unordered_set>

#include "server/json_fields.h"
#include "server/json_limits.h"

namespace ladle::server {

std::optional<BatchEndpoint> batch_endpoint_from(std::string_view url) {
  if (url == "/v1/completions") return BatchEndpoint::kCompletions;
  if (url == "/v1/chat/completions") return BatchEndpoint::kChat;
  if (url == "/v1/responses") return BatchEndpoint::kResponses;
  if (url == "/v1/messages") return BatchEndpoint::kMessages;
  return std::nullopt;
}

std::string_view response_id_prefix(BatchEndpoint endpoint) {
  switch (endpoint) {
    case BatchEndpoint::kCompletions: return "cmpl-";
    case BatchEndpoint::kChat: return "chatcmpl-";
    case BatchEndpoint::kResponses: return "resp_";
    case BatchEndpoint::kMessages: break;
  }
  return "msg_";
}

std::variant<GenerationJob, ApiError> prepare_batch_line(const scheduler::Engine& engine, BatchEndpoint endpoint,
                                                         std::string_view body, LineIds ids) {
  std::variant<GenerationJob, ApiError> prepared = ApiError{};
  switch (endpoint) {
    case BatchEndpoint::kCompletions:
    case BatchEndpoint::kChat:
      prepared = prepare_generation(engine, body, endpoint == BatchEndpoint::kChat ? Endpoint::kChat : Endpoint::kCompletions,
                                    std::move(ids.response_id), ids.created);
      break;
    case BatchEndpoint::kMessages:
      prepared = prepare_messages(engine, body, std::move(ids.response_id), std::move(ids.request_id));
      break;
    case BatchEndpoint::kResponses: {
      auto r = prepare_responses(engine, body, std::move(ids.response_id), ids.created);
      if (auto* e = std::get_if<ApiError>(&r)) return *e;
      if (std::holds_alternative<BackgroundJob>(r))
        return invalid_param("background", "a batch line cannot be a background response");
      prepared = std::move(std::get<GenerationJob>(r));
      break;
    }
  }
  if (auto* job = std::get_if<GenerationJob>(&prepared)) {
    if (job->stream) return invalid_param("stream", "a batch line cannot be streamed (stream must be false or absent)");
    job->request.request_class = scheduler::RequestClass::kBatch;
  }
  return prepared;
}

namespace {

// The request of one line, or the error to list for it.
struct LineCheck {
  std::optional<BatchLineInput> input;
  std::string code, message, param;
};

LineCheck check_line(const scheduler::Engine& engine, BatchEndpoint endpoint, std::string_view url,
                     std::string_view text, int number, std::unordered_set<std::string>& custom_ids) {
  auto fail = [](std::string code, std::string message, std::string param = "") {
    return LineCheck{std::nullopt, std::move(code), std::move(message), std::move(param)};
  };
  // The line wraps the body one level deeper than a request: the body's own limits are checked
  // again by the endpoint's parser.
  JsonLimits limits;
  limits.max_depth += 1;
  if (auto e = check_json_limits(text, limits)) return fail("invalid_json_line", e->message);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail("invalid_json_line", "the line is not a JSON object");
  auto id = j.find("custom_id");
  if (id == j.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
    return fail("missing_required_parameter", "custom_id must be a non-empty string", "custom_id");
  const std::string& custom_id = id->get_ref<const std::string&>();
  if (!custom_ids.insert(custom_id).second)
    return fail("duplicate_custom_id", "the custom_id '" + custom_id + "' is used by an earlier line", "custom_id");
  auto method = j.find("method");
  if (method == j.end() || !method->is_string() || *method != "POST")
    return fail("invalid_method", "method must be \"POST\"", "method");
  auto line_url = j.find("url");
  if (line_url == j.end() || !line_url->is_string() || *line_url != url)
    return fail("mismatched_url", "url must be the batch's endpoint \"" + std::string(url) + "\"", "url");
  auto body = j.find("body");
  if (body == j.end() || !body->is_object()) return fail("missing_required_parameter", "body must be a JSON object", "body");
  std::string body_text = dump(*body);
  auto prepared = prepare_batch_line(engine, endpoint, body_text, LineIds{"id", "req", 0});
  if (auto* e = std::get_if<ApiError>(&prepared))
    return fail(e->code.empty() ? "invalid_request" : e->code, e->message, e->param.empty() ? "body" : "body." + e->param);
  return LineCheck{BatchLineInput{number, custom_id, std::move(body_text)}, "", "", ""};
}

}  // namespace

ValidatedInput validate_batch_input(const scheduler::Engine& engine, std::string_view content, std::string_view url,
                                    std::size_t max_line_bytes) {
  ValidatedInput out;
  auto error = [&](std::string code, std::string message, std::string param, std::optional<int> line) {
    if (++out.num_errors > kMaxBatchErrorsListed) return;
    out.errors.push_back({{"code", std::move(code)},
                          {"message", std::move(message)},
                          {"param", param.empty() ? json(nullptr) : json(param)},
                          {"line", line ? json(*line) : json(nullptr)}});
  };
  const auto endpoint = batch_endpoint_from(url);
  if (!endpoint) {
    error("invalid_endpoint", "the endpoint '" + std::string(url) + "' is not one a batch can target", "endpoint", std::nullopt);
    return out;
  }
  std::unordered_set<std::string> custom_ids;
  int number = 0;
  while (!content.empty()) {
    const std::size_t eol = content.find('\n');
    std::string_view text = content.substr(0, eol);
    content.remove_prefix(eol == content.npos ? content.size() : eol + 1);
    ++number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == text.npos) continue;
    if (text.size() > max_line_bytes) {
      error("line_too_large", "the line has " + std::to_string(text.size()) + " bytes; a request may have at most " +
                                  std::to_string(max_line_bytes) + " (--max-body)", "", number);
      continue;
    }
    if (static_cast<int>(out.lines.size()) + out.num_errors >= kMaxBatchLines) {
      error("too_many_requests", "a batch may hold at most " + std::to_string(kMaxBatchLines) + " requests", "", number);
      break;
    }
    LineCheck c = check_line(engine, *endpoint, url, text, number, custom_ids);
    if (c.input) out.lines.push_back(std::move(*c.input));
    else error(std::move(c.code), std::move(c.message), std::move(c.param), number);
  }
  if (out.lines.empty() && out.num_errors == 0) error("empty_file", "the input file holds no request", "", std::nullopt);
  return out;
}

}  // namespace ladle::server
