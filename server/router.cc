#include "server/router.h"

#include <charconv>
#include <chrono>
#include <exception>

#include "server/anthropic_encoder.h"
#include "server/api_key.h"
#include "server/background_store.h"
#include "server/batch_api.h"
#include "server/files_api.h"
#include "server/client_telemetry.h"
#include "server/live_state.h"
#include "server/page_handler.h"
#include "server/json_fields.h"
#include "server/metrics.h"
#include "server/query_param.h"

namespace ladle::server {
namespace {

using boost::beast::http::verb;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

enum class Handler {
  kCompletions, kChat, kModels, kModel, kHealth, kMetrics, kTokenize, kDetokenize,
  kMessages, kCountTokens, kResponses, kResponse, kResponseCancel, kRealtime,
  kPage, kTelemetry, kServerState,
  kFiles, kFile, kFileContent, kBatches, kBatch, kBatchCancel,
};

struct Router::Route {
  std::string_view path;  // a "*" segment stands for any one path segment
  verb method;
  Handler handler;
  Dialect dialect = Dialect::kOpenAi;
  bool open = false;                // served without the API key (probes and scrapers)
  verb method2 = verb::unknown;     // a second method, if any
  bool allows(verb m) const { return m == method || (method2 != verb::unknown && m == method2); }
  std::string methods() const {
    std::string s(to_string(method));
    if (method2 != verb::unknown) s += ", " + std::string(to_string(method2));
    return s;
  }
};

namespace {

using Route = Router::Route;

// Every route of the server, in one place (handlers are chosen in dispatch()).
const Route kRoutes[] = {
    {"/v1/completions", verb::post, Handler::kCompletions},
    {"/v1/chat/completions", verb::post, Handler::kChat},
    {"/v1/models", verb::get, Handler::kModels},
    {"/v1/models/*", verb::get, Handler::kModel},
    {"/health", verb::get, Handler::kHealth, Dialect::kOpenAi, true},
    {"/metrics", verb::get, Handler::kMetrics, Dialect::kOpenAi, true},
    {"/tokenize", verb::post, Handler::kTokenize},
    {"/detokenize", verb::post, Handler::kDetokenize},
    {"/v1/messages", verb::post, Handler::kMessages, Dialect::kAnthropic},
    {"/v1/messages/count_tokens", verb::post, Handler::kCountTokens, Dialect::kAnthropic},
    {"/v1/responses", verb::post, Handler::kResponses},
    {"/v1/responses/*", verb::get, Handler::kResponse, Dialect::kOpenAi, false, verb::delete_},
    {"/v1/responses/*/cancel", verb::post, Handler::kResponseCancel},
    {"/v1/realtime", verb::get, Handler::kRealtime},  // the session upgrades it (realtime_session.h)
    {"/", verb::get, Handler::kPage, Dialect::kOpenAi, true},
    {"/page/*", verb::get, Handler::kPage, Dialect::kOpenAi, true},
    {"/v1/telemetry", verb::post, Handler::kTelemetry},
    {"/v1/server-state", verb::get, Handler::kServerState},
    {"/v1/files", verb::post, Handler::kFiles, Dialect::kOpenAi, false, verb::get},
    {"/v1/files/*", verb::get, Handler::kFile, Dialect::kOpenAi, false, verb::delete_},
    {"/v1/files/*/content", verb::get, Handler::kFileContent},
    {"/v1/batches", verb::post, Handler::kBatches, Dialect::kOpenAi, false, verb::get},
    {"/v1/batches/*", verb::get, Handler::kBatch},
    {"/v1/batches/*/cancel", verb::post, Handler::kBatchCancel},
};

// The path of a request target, without its query string.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// `pattern` with "*" segments against `path`; the matched "*" segment is stored in `wild`.
bool matches(std::string_view pattern, std::string_view path, std::string_view* wild) {
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const std::string_view p = pattern.substr(0, pattern.find('/'));
    const std::string_view s = path.substr(0, path.find('/'));
    if (p == "*") {
      if (s.empty()) return false;
      *wild = s;
    } else if (p != s) {
      return false;
    }
    pattern.remove_prefix(p.size());
    path.remove_prefix(s.size());
  }
  return true;
}

const Route* find_route(std::string_view path, std::string_view* wild) {
  for (const auto& r : kRoutes)
    if (matches(r.path, path, wild)) return &r;
  return nullptr;
}

}  // namespace

Dialect Router::dialect_of(std::string_view target) {
  std::string_view wild;
  const Route* r = find_route(path_of(target), &wild);
  return r ? r->dialect : Dialect::kOpenAi;
}

HttpReply Router::error_reply_in(Dialect dialect, const ApiError& error, std::string_view request_id) {
  if (dialect == Dialect::kAnthropic) return anthropic_error_reply(error, request_id);
  return error_reply(error);
}

RouteResult Router::route(const RouteRequest& request) const {
  const std::string_view path = path_of(request.target);
  std::string_view wild;
  const Route* route = find_route(path, &wild);
  if (!route) return reject(ApiError{404, "no route for " + std::string(path), "not_found_error", "", ""}, "invalid");
  const std::string request_id = route->dialect == Dialect::kAnthropic ? state_.next_id("req_") : std::string();
  RouteResult result;
  try {
    result = dispatch(*route, request, path, wild, request_id);
  } catch (const std::exception& e) {
    if (state_.metrics()) state_.metrics()->on_internal_error("handler");
    result = error_reply_in(route->dialect, ApiError{500, std::string("internal error: ") + e.what(), "server_error", "", ""},
                            request_id);
  } catch (...) {
    if (state_.metrics()) state_.metrics()->on_internal_error("handler");
    result = error_reply_in(route->dialect, ApiError{500, "internal error", "server_error", "", ""}, request_id);
  }
  if (!request_id.empty()) {
    if (auto* reply = std::get_if<HttpReply>(&result)) reply->headers.emplace_back("request-id", request_id);
    if (auto* job = std::get_if<GenerationJob>(&result)) job->headers.emplace_back("request-id", request_id);
  }
  if (auto* job = std::get_if<GenerationJob>(&result)) job->server_ttft = query_param(request.target, "server_timing") == "1";
  return result;
}

// Constant time in the key's bytes, so that a guess does not learn how much of it was right.
// Either header carries the key: Authorization: Bearer (OpenAI's SDKs) or x-api-key (Anthropic's).
bool Router::authorized(const RouteRequest& request) const {
  const std::string& key = state_.config().api_key;
  if (key.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view auth = request.authorization;
  const bool bearer = auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer &&
                      equal_constant_time(auth.substr(kBearer.size()), key);
  return bearer || equal_constant_time(request.x_api_key, key);
}

HttpReply Router::preflight(std::string_view target, std::string_view requested_headers) const {
  const std::string_view path = path_of(target);
  std::string_view wild;
  const Route* route = find_route(path, &wild);
  if (!route) return reject(ApiError{404, "no route for " + std::string(path), "not_found_error", "", ""}, "invalid");
  HttpReply r{204, "text/plain", "", {}};
  r.headers.emplace_back("Access-Control-Allow-Methods", route->methods() + ", OPTIONS");
  r.headers.emplace_back("Access-Control-Allow-Headers",
                         requested_headers.empty() ? "Authorization, Content-Type, x-api-key, anthropic-version"
                                                   : std::string(requested_headers));
  r.headers.emplace_back("Access-Control-Max-Age", "86400");
  return r;
}

RouteResult Router::dispatch(const Route& route, const RouteRequest& request, std::string_view path, std::string_view wild,
                             const std::string& request_id) const {
  const Dialect dialect = route.dialect;
  if (!route.open && !authorized(request)) {
    const bool none = request.authorization.empty() && request.x_api_key.empty();
    return reject(ApiError{401, none ? "an API key is required (Authorization: Bearer <key>, or x-api-key)"
                                     : "incorrect API key provided",
                           dialect == Dialect::kAnthropic ? "authentication_error" : "invalid_request_error", "",
                           "invalid_api_key"},
                  "unauthorized", dialect, request_id);
  }
  if (!route.allows(request.method)) {
    HttpReply r = reject(ApiError{405, "use " + route.methods() + " for " + std::string(path), "invalid_request_error",
                                  "", ""},
                         "invalid", dialect, request_id);
    r.headers.emplace_back("Allow", route.methods());
    return r;
  }
  if (route.handler == Handler::kHealth) return handle_health(state_.health());
  if (route.handler == Handler::kPage) return handle_page(path);
  if (route.handler == Handler::kServerState) return handle_server_state(state_);
  if (route.handler == Handler::kTelemetry) return telemetry_route(request);
  if (route.handler == Handler::kMetrics) {
    HttpReply r = json_reply(200, state_.metrics() ? state_.metrics()->serialize() : "");
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  switch (route.handler) {  // stored work: served while the model loads too
    case Handler::kFiles: case Handler::kFile: case Handler::kFileContent:
    case Handler::kBatches: case Handler::kBatch: case Handler::kBatchCancel:
      return batch_route(route, request, wild);
    default: break;
  }
  scheduler::Engine* engine = state_.engine();
  if (!engine)
    return reject(ApiError{503, "the model is still loading", "unavailable_error", "", "loading"}, "unavailable", dialect,
                  request_id);
  // A model's `created` is one fixed time (when first listed), not the time of each request: the
  // list and GET /v1/models/{id} must agree (they straddled a second boundary in a CI run).
  static const std::int64_t model_created = unix_now();
  switch (route.handler) {
    case Handler::kModels: return handle_models(engine->model_info(), model_created);
    case Handler::kModel: return handle_model(engine->model_info(), wild, model_created);
    case Handler::kTokenize: return handle_tokenize(*engine, request.body);
    case Handler::kDetokenize: return handle_detokenize(*engine, request.body);
    case Handler::kCountTokens: {
      auto r = handle_count_tokens(*engine, request.body);
      if (auto* e = std::get_if<ApiError>(&r)) return reject(*e, "invalid", dialect, request_id);
      return std::move(std::get<HttpReply>(r));
    }
    case Handler::kResponse:
    case Handler::kResponseCancel: return responses_route(route, request, wild);
    case Handler::kRealtime:
      return reject(ApiError{426, "/v1/realtime is a WebSocket: send an Upgrade: websocket request", "invalid_request_error",
                             "", "upgrade_required"},
                    "invalid");
    default: break;
  }
  if (state_.health() == Health::kDraining)
    return reject(ApiError{503, "the server is shutting down", "unavailable_error", "", "draining"}, "unavailable",
                  dialect, request_id);
  auto refuse = [&](const ApiError& e) {
    return reject(e, e.code == "context_length_exceeded" ? "too_long" : "invalid", dialect, request_id);
  };
  if (route.handler == Handler::kMessages) {
    auto job = prepare_messages(*engine, request.body, state_.next_id("msg_"), request_id);
    if (auto* e = std::get_if<ApiError>(&job)) return refuse(*e);
    return std::move(std::get<GenerationJob>(job));
  }
  if (route.handler == Handler::kResponses) {
    auto job = prepare_responses(*engine, request.body, state_.next_id("resp_"), unix_now());
    if (auto* e = std::get_if<ApiError>(&job)) return refuse(*e);
    if (auto* g = std::get_if<GenerationJob>(&job)) return std::move(*g);
    auto& bg = std::get<BackgroundJob>(job);
    if (!state_.background()) return refuse(ApiError{400, "background responses are not available", "invalid_request_error", "background", ""});
    auto started = state_.background()->start(*engine, std::move(bg.encoder), std::move(bg.request));
    if (auto* e = std::get_if<ApiError>(&started)) return reject(*e, e->status == 429 ? "overloaded" : "invalid");
    auto& response = std::get<std::shared_ptr<BackgroundResponse>>(started);
    if (bg.stream) return FollowJob{response, -1};
    return json_reply(200, dump(response->snapshot()));
  }
  const bool chat = route.handler == Handler::kChat;
  auto job = prepare_generation(*engine, request.body, chat ? Endpoint::kChat : Endpoint::kCompletions,
                                state_.next_id(chat ? "chatcmpl-" : "cmpl-"), unix_now());
  if (auto* e = std::get_if<ApiError>(&job)) return refuse(*e);
  return std::move(std::get<GenerationJob>(job));
}

// GET (snapshot, or stream=true: follow), DELETE and POST .../cancel of a background response.
RouteResult Router::responses_route(const Route& route, const RouteRequest& request, std::string_view id) const {
  auto not_found = [&] {
    return reject(ApiError{404, "No response found with id '" + std::string(id) + "'.", "invalid_request_error", "",
                           "not_found"},
                  "invalid");
  };
  BackgroundStore* store = state_.background();
  if (!store) return not_found();
  const std::string key(id);
  if (request.method == verb::delete_) {
    if (!store->remove(key)) return not_found();
    return json_reply(200, dump({{"id", key}, {"object", "response"}, {"deleted", true}}));
  }
  auto response = store->find(key);
  if (!response) return not_found();
  if (route.handler == Handler::kResponseCancel) {
    response->cancel();
    return json_reply(200, dump(response->snapshot()));
  }
  const auto stream = query_param(request.target, "stream");
  if (!stream || *stream != "true") return json_reply(200, dump(response->snapshot()));
  std::int64_t after = -1;
  std::string_view from = request.last_event_id;
  if (auto q = query_param(request.target, "starting_after")) from = *q;
  if (!from.empty()) {
    auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), after);
    if (ec != std::errc() || end != from.data() + from.size() || after < -1)
      return reject(invalid_param("starting_after", "starting_after must be an integer sequence number"), "invalid");
  }
  return FollowJob{std::move(response), after};
}

// POST /v1/telemetry: 204, or the report's error (404 when --no-client-telemetry turned it off).
HttpReply Router::telemetry_route(const RouteRequest& request) const {
  ClientTelemetry* telemetry = state_.client_telemetry();
  if (!telemetry)
    return reject(ApiError{404, "client telemetry is off on this server (--no-client-telemetry)",
                           "invalid_request_error", "", "telemetry_disabled"},
                  "invalid");
  if (auto error = telemetry->record(request.body)) return reject(*error, "invalid");
  return HttpReply{204, "text/plain", "", {}};
}

RouteResult Router::batch_route(const Route& route, const RouteRequest& request, std::string_view wild) const {
  BatchRunner* runner = state_.batches();
  if (!runner)
    return reject(ApiError{503, "the Files and Batches APIs are not available", "unavailable_error", "", ""}, "unavailable");
  return StoreJob{[this, runner, handler = route.handler, request, wild]() -> HttpReply {
    HttpReply r;
    const bool get = request.method == verb::get;
    try {
      switch (handler) {
        case Handler::kFiles:
          r = get ? handle_file_list(*runner, request.target)
                  : handle_file_upload(*runner, state_, request.content_type, request.body);
          break;
        case Handler::kFile: r = get ? handle_file_get(*runner, wild) : handle_file_delete(*runner, wild); break;
        case Handler::kFileContent: r = handle_file_content(*runner, wild); break;
        case Handler::kBatches:
          r = get ? handle_batch_list(*runner, request.target) : handle_batch_create(*runner, state_, request.body);
          break;
        case Handler::kBatch: r = handle_batch_get(*runner, wild); break;
        default: r = handle_batch_cancel(*runner, wild); break;
      }
    } catch (const std::exception& e) {  // as route() does for the handlers it runs itself
      if (state_.metrics()) state_.metrics()->on_internal_error("handler");
      r = error_reply(ApiError{500, std::string("internal error: ") + e.what(), "server_error", "", ""});
    } catch (...) {
      if (state_.metrics()) state_.metrics()->on_internal_error("handler");
      r = error_reply(ApiError{500, "internal error", "server_error", "", ""});
    }
    if (r.status >= 400 && state_.metrics()) state_.metrics()->on_http_rejected(r.status == 503 ? "unavailable" : "invalid");
    return r;
  }};
}

HttpReply Router::reject(const ApiError& error, std::string_view reason, Dialect dialect,
                         std::string_view request_id) const {
  if (state_.metrics()) state_.metrics()->on_http_rejected(reason);
  return error_reply_in(dialect, error, request_id);
}

}  // namespace ladle::server
