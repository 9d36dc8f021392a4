#include "server/responses_encoder.h"

#include <cstdio>

#include "model/utf8.h"
#include "server/delta_chunk_writer.h"
#include "server/json_fields.h"

namespace ladle::server {
namespace {

json settings_json(const ResponsesRequest& r) {
  const auto& p = r.params;
  auto opt = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  return {{"instructions", opt(r.instructions)},
          {"max_output_tokens", r.max_tokens_given ? json(p.max_tokens) : json(nullptr)},
          {"temperature", p.temperature},
          {"top_p", p.top_p},
          {"top_logprobs", p.logprobs >= 0 ? json(p.logprobs) : json(nullptr)},
          {"store", r.store},
          {"metadata", r.metadata},
          {"user", opt(r.user)},
          {"prompt_cache_key", opt(r.prompt_cache_key)}};
}

json token_entry(const TokenBytes& token_bytes, TokenId token, float logprob) {
  const std::string bytes = token_bytes(token);
  json b = json::array();
  for (unsigned char c : bytes) b.push_back(int(c));
  return {{"token", model::sanitize_utf8(bytes)}, {"logprob", logprob}, {"bytes", std::move(b)}};
}

}  // namespace

ResponsesEncoder::ResponsesEncoder(std::string id, const ResponsesRequest& request, std::string model,
                                   std::int64_t created_at, TokenBytes token_bytes)
    : id_(std::move(id)), item_id_("msg_" + id_.substr(id_.find('_') + 1)), model_(std::move(model)),
      created_at_(created_at), settings_(settings_json(request)), background_(request.background),
      logprobs_(request.params.logprobs >= 0), token_bytes_(std::move(token_bytes)),
      status_(request.background ? "queued" : "in_progress") {}

json ResponsesEncoder::snapshot() const {
  json output = json::array();
  if (admitted_) output.push_back(message_item(output_done_ ? "completed" : "in_progress"));
  json r = {{"id", id_},
            {"object", "response"},
            {"created_at", created_at_},
            {"status", status_},
            {"background", background_},
            {"error", error_},
            {"incomplete_details", incomplete_},
            {"model", model_},
            {"output", std::move(output)},
            {"parallel_tool_calls", true},
            {"previous_response_id", nullptr},
            {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
            {"service_tier", "default"},
            {"text", {{"format", {{"type", "text"}}}}},
            {"tool_choice", "auto"},
            {"tools", json::array()},
            {"truncation", "disabled"},
            {"usage", usage_}};
  for (const auto& [k, v] : settings_.items()) r[k] = v;
  return r;
}

json ResponsesEncoder::text_part() const {
  return {{"type", "output_text"}, {"text", text_}, {"annotations", json::array()}, {"logprobs", logprobs_json_}};
}

json ResponsesEncoder::message_item(const char* status) const {
  json content = json::array();
  if (admitted_) content.push_back(text_part());
  return {{"type", "message"}, {"id", item_id_}, {"status", status}, {"role", "assistant"}, {"content", std::move(content)}};
}

json ResponsesEncoder::logprob_entries(std::span<const scheduler::TokenLogprob> tokens) const {
  json out = json::array();
  for (const auto& t : tokens) {
    json e = token_entry(token_bytes_, t.token, t.logprob);
    json top = json::array();
    for (const auto& alt : t.top) top.push_back(token_entry(token_bytes_, alt.token, alt.logprob));
    e["top_logprobs"] = std::move(top);
    out.push_back(std::move(e));
  }
  return out;
}

void ResponsesEncoder::emit(std::string_view type, json event, EventOut& out) {
  event["type"] = type;
  event["sequence_number"] = seq_;
  out.event(type, dump(event), seq_);
  ++seq_;
}

void ResponsesEncoder::accepted(EventOut& out) { emit("response.created", {{"response", snapshot()}}, out); }

void ResponsesEncoder::admitted(int, EventOut& out) {
  if (admitted_) return;
  status_ = "in_progress";
  emit("response.in_progress", {{"response", snapshot()}}, out);
  json item = {{"type", "message"}, {"id", item_id_}, {"status", "in_progress"}, {"role", "assistant"}, {"content", json::array()}};
  emit("response.output_item.added", {{"output_index", 0}, {"item", std::move(item)}}, out);
  admitted_ = true;
  json part = {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}, {"logprobs", json::array()}};
  emit("response.content_part.added",
       {{"item_id", item_id_}, {"output_index", 0}, {"content_index", 0}, {"part", std::move(part)}}, out);
}

// The hot path: the delta's JSON written around the escaped text, one document per event only
// when log-probabilities are asked for.
void ResponsesEncoder::delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs, EventOut& out) {
  admitted(0, out);
  text_ += text;
  data_.assign(R"({"type":"response.output_text.delta","sequence_number":)");
  data_ += std::to_string(seq_);
  data_ += R"(,"item_id":")";
  data_ += item_id_;
  data_ += R"(","output_index":0,"content_index":0,"delta":")";
  if (model::is_valid_utf8(text)) append_json_escaped(data_, text);
  else append_json_escaped(data_, model::sanitize_utf8(text));  // never from the engine
  data_ += R"(","logprobs":)";
  if (logprobs_) {
    json entries = logprob_entries(logprobs);
    for (auto& e : entries) logprobs_json_.push_back(e);
    data_ += dump(entries);
  } else {
    data_ += "[]";
  }
  data_ += '}';
  out.event("response.output_text.delta", data_, seq_);
  ++seq_;
}

void ResponsesEncoder::end_output(EventOut& out) {
  admitted(0, out);
  emit("response.output_text.done",
       {{"item_id", item_id_}, {"output_index", 0}, {"content_index", 0}, {"text", text_}, {"logprobs", logprobs_json_}},
       out);
  emit("response.content_part.done", {{"item_id", item_id_}, {"output_index", 0}, {"content_index", 0}, {"part", text_part()}},
       out);
  output_done_ = true;
  emit("response.output_item.done", {{"output_index", 0}, {"item", message_item("completed")}}, out);
}

void ResponsesEncoder::finish(const scheduler::Finish& f, EventOut& out) {
  end_output(out);
  const auto& u = f.usage;
  usage_ = {{"input_tokens", u.prompt_tokens},
            {"input_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}},
            {"output_tokens", u.completion_tokens},
            {"output_tokens_details", {{"reasoning_tokens", 0}}},
            {"total_tokens", u.prompt_tokens + u.completion_tokens}};
  if (f.reason == scheduler::FinishReason::kLength) {
    status_ = "incomplete";
    incomplete_ = {{"reason", "max_output_tokens"}};
    emit("response.incomplete", {{"response", snapshot()}}, out);
  } else {
    status_ = "completed";
    emit("response.completed", {{"response", snapshot()}}, out);
  }
}

void ResponsesEncoder::fail(const ApiError& error, EventOut& out) {
  if (cancel_requested_) {
    status_ = "cancelled";
    emit("response.cancelled", {{"response", snapshot()}}, out);
    return;
  }
  status_ = "failed";
  error_ = {{"code", "server_error"}, {"message", error.message}};
  emit("response.failed", {{"response", snapshot()}}, out);
}

HttpReply ResponsesEncoder::reply(const GenerationOutput& output, const scheduler::Finish& f) {
  // Run the stream into nowhere so that the snapshot holds what the events would have said.
  struct Discard final : EventOut {
    void event(std::string_view, std::string_view, std::int64_t) override {}
    void comment(std::string_view) override {}
  } discard;
  if (!admitted_) admitted(output.cached_prompt_tokens, discard);
  if (text_.empty() && !output.text.empty()) delta(output.text, output.logprobs, discard);
  finish(f, discard);
  return json_reply(200, dump(snapshot()));
}

}  // namespace ladle::server
