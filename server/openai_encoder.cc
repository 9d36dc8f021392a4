#include "server/openai_encoder.h"

#include <nlohmann/json.hpp>

#include "model/utf8.h"
#include "server/json_fields.h"

namespace ladle::server {
namespace {

json usage_json(const scheduler::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

json chunk_base(const ResponseContext& ctx) {
  bool chat = ctx.endpoint == Endpoint::kChat;
  return {{"id", ctx.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", ctx.created},
          {"model", ctx.model}};
}

json reason_json(scheduler::FinishReason reason) {
  auto name = finish_reason_name(reason);
  return name ? json(std::string(*name)) : json(nullptr);
}

// One token as the chat API lists it: its text (invalid UTF-8 replaced), log-probability and bytes.
json token_json(const std::string& bytes, float logprob) {
  json b = json::array();
  for (unsigned char c : bytes) b.push_back(int(c));
  return {{"token", model::sanitize_utf8(bytes)}, {"logprob", logprob}, {"bytes", std::move(b)}};
}

}  // namespace

std::string error_json(const ApiError& e) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return dump({{"error",
                {{"message", e.message}, {"type", e.type}, {"param", or_null(e.param)},
                 {"code", or_null(e.code)}}}});
}

HttpReply error_reply(const ApiError& error) {
  HttpReply r = json_reply(static_cast<unsigned>(error.status), error_json(error));
  if (error.status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::optional<std::string_view> finish_reason_name(scheduler::FinishReason reason) {
  switch (reason) {
    case scheduler::FinishReason::kStop: return "stop";
    case scheduler::FinishReason::kLength: return "length";
    default: return std::nullopt;
  }
}

std::string delta_chunk_json(const ResponseContext& ctx, std::string_view text, bool first) {
  json j = chunk_base(ctx);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (ctx.endpoint == Endpoint::kChat) {
    json delta = {{"content", text}};
    if (first) delta["role"] = "assistant";
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
  }
  j["choices"] = json::array({std::move(choice)});
  return dump(j);
}

std::string finish_chunk_json(const ResponseContext& ctx, scheduler::FinishReason reason) {
  json j = chunk_base(ctx);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason_json(reason)}};
  if (ctx.endpoint == Endpoint::kChat) choice["delta"] = json::object();
  else choice["text"] = "";
  j["choices"] = json::array({std::move(choice)});
  return dump(j);
}

std::string usage_chunk_json(const ResponseContext& ctx, const scheduler::Usage& usage) {
  json j = chunk_base(ctx);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string full_response_json(const ResponseContext& ctx, std::string_view text,
                               const scheduler::Finish& finish) {
  bool chat = ctx.endpoint == Endpoint::kChat;
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason_json(finish.reason)}};
  if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  json j = {{"id", ctx.id},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"created", ctx.created},
            {"model", ctx.model},
            {"choices", json::array({std::move(choice)})},
            {"usage", usage_json(finish.usage)}};
  return dump(j);
}

OpenAiEncoder::OpenAiEncoder(ResponseContext ctx, bool logprobs, TokenBytes token_bytes)
    : ctx_(std::move(ctx)), logprobs_(logprobs), token_bytes_(std::move(token_bytes)), chunks_(ctx_) {}

json OpenAiEncoder::logprobs_json(std::span<const scheduler::TokenLogprob> tokens) {
  if (ctx_.endpoint == Endpoint::kChat) {
    json content = json::array();
    for (const auto& t : tokens) {
      json entry = token_json(token_bytes_(t.token), t.logprob);
      json top = json::array();
      for (const auto& alt : t.top) top.push_back(token_json(token_bytes_(alt.token), alt.logprob));
      entry["top_logprobs"] = std::move(top);
      content.push_back(std::move(entry));
    }
    return {{"content", std::move(content)}, {"refusal", nullptr}};
  }
  json text = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (const auto& t : tokens) {
    const std::string bytes = token_bytes_(t.token);
    text.push_back(model::sanitize_utf8(bytes));
    lps.push_back(t.logprob);
    json top = json::object();
    for (const auto& alt : t.top) top[model::sanitize_utf8(token_bytes_(alt.token))] = alt.logprob;
    tops.push_back(std::move(top));
    offsets.push_back(offset_);
    offset_ += bytes.size();
  }
  return {{"tokens", std::move(text)}, {"token_logprobs", std::move(lps)}, {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

void OpenAiEncoder::delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs,
                          EventOut& out) {
  data_.clear();
  if (logprobs_) {  // the rare path: a document per chunk
    json j = json::parse(delta_chunk_json(ctx_, text, first_));
    j["choices"][0]["logprobs"] = logprobs_json(logprobs);
    data_ = dump(j);
  } else {
    chunks_.append_json(data_, text, first_);
  }
  first_ = false;
  out.event({}, data_);
}

void OpenAiEncoder::finish(const scheduler::Finish& f, EventOut& out) {
  if (first_ && ctx_.endpoint == Endpoint::kChat)  // the role arrives even with no text
    out.event({}, delta_chunk_json(ctx_, "", true));
  out.event({}, finish_chunk_json(ctx_, f.reason));
  if (ctx_.include_usage) out.event({}, usage_chunk_json(ctx_, f.usage));
  out.event({}, "[DONE]");
}

void OpenAiEncoder::fail(const ApiError& error, EventOut& out) {
  out.event({}, error_json(error));
  out.event({}, "[DONE]");
}

HttpReply OpenAiEncoder::reply(const GenerationOutput& output, const scheduler::Finish& finish) {
  std::string body = full_response_json(ctx_, output.text, finish);
  if (logprobs_) {
    json j = json::parse(body);
    j["choices"][0]["logprobs"] = logprobs_json(output.logprobs);
    body = dump(j);
  }
  return json_reply(200, std::move(body));
}

}  // namespace ladle::server
