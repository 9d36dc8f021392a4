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

OpenAiEncoder::OpenAiEncoder(ResponseContext ctx, bool logprobs, TokenBytes token_bytes, std::optional<Echo> echo)
    : ctx_(std::move(ctx)), logprobs_(logprobs), token_bytes_(std::move(token_bytes)), chunks_(ctx_),
      echo_(std::move(echo)) {}

void OpenAiEncoder::prompt_logprobs(std::span<const scheduler::TokenLogprob> logprobs) {
  prompt_logprobs_.assign(logprobs.begin(), logprobs.end());
}

void OpenAiEncoder::append_legacy(json& obj, TokenId token, const scheduler::TokenLogprob* lp) {
  const std::string bytes = token_bytes_(token);
  obj["tokens"].push_back(model::sanitize_utf8(bytes));
  obj["token_logprobs"].push_back(lp ? json(lp->logprob) : json(nullptr));
  json top = nullptr;
  if (lp) {
    top = json::object();
    for (const auto& alt : lp->top) top[model::sanitize_utf8(token_bytes_(alt.token))] = alt.logprob;
  }
  obj["top_logprobs"].push_back(std::move(top));
  obj["text_offset"].push_back(offset_);
  offset_ += bytes.size();
}

json OpenAiEncoder::prompt_logprobs_json(std::span<const scheduler::TokenLogprob> tokens) {
  json obj = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  const auto& ids = echo_->tokens;
  if (!ids.empty() && ids.front() != echo_->bos) append_legacy(obj, ids.front(), nullptr);
  for (const auto& t : tokens) append_legacy(obj, t.token, &t);
  return obj;
}

void OpenAiEncoder::send_echo(EventOut& out) {
  if (!echo_ || echo_sent_) return;
  echo_sent_ = true;
  json j = json::parse(delta_chunk_json(ctx_, echo_->text, false));
  if (logprobs_) j["choices"][0]["logprobs"] = prompt_logprobs_json(prompt_logprobs_);
  out.event({}, dump(j));
}

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
  json obj = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const auto& t : tokens) append_legacy(obj, t.token, &t);
  return obj;
}

void OpenAiEncoder::delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs,
                          EventOut& out) {
  send_echo(out);
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
  send_echo(out);
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
  std::string body = full_response_json(ctx_, echo_ ? echo_->text + output.text : output.text, finish);
  if (logprobs_) {
    json j = json::parse(body);
    json lp;
    if (echo_) {  // the prompt's entries first, then the answer's, offsets running on
      lp = prompt_logprobs_json(output.prompt_logprobs);
      for (const auto& t : output.logprobs) append_legacy(lp, t.token, &t);
    } else {
      lp = logprobs_json(output.logprobs);
    }
    j["choices"][0]["logprobs"] = std::move(lp);
    body = dump(j);
  }
  return json_reply(200, std::move(body));
}

}  // namespace ladle::server
