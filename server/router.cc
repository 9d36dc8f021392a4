#include "server/router.h"

#include <chrono>
#include <exception>

#include "server/metrics.h"

namespace ladle::server {
namespace {

using boost::beast::http::verb;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Route {
  std::string_view path;  // a trailing "*" stands for any one path segment
  verb method;
  bool open = false;      // served without the API key (probes and scrapers)
};

// Every route of the server, in one place (handlers are chosen in dispatch()).
constexpr Route kRoutes[] = {
    {"/v1/completions", verb::post}, {"/v1/chat/completions", verb::post},
    {"/v1/models", verb::get},       {"/v1/models/*", verb::get},
    {"/health", verb::get, true},    {"/metrics", verb::get, true},
    {"/tokenize", verb::post},       {"/detokenize", verb::post},
};

// The path of a request target, without its query string.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

const Route* find_route(std::string_view path) {
  for (const auto& r : kRoutes) {
    if (r.path == path) return &r;
    if (r.path.ends_with('*')) {
      const std::string_view prefix = r.path.substr(0, r.path.size() - 1);
      if (path.starts_with(prefix) && path.size() > prefix.size() && path.find('/', prefix.size()) == path.npos)
        return &r;
    }
  }
  return nullptr;
}

}  // namespace

RouteResult Router::route(verb method, std::string_view target, std::string_view body,
                          std::string_view authorization) const {
  const std::string_view path = path_of(target);
  try {
    return dispatch(method, path, body, authorization);
  } catch (const std::exception& e) {
    return error_reply(ApiError{500, std::string("internal error: ") + e.what(), "server_error", "", ""});
  } catch (...) {
    return error_reply(ApiError{500, "internal error", "server_error", "", ""});
  }
}

// Constant time in the key's bytes, so that a guess does not learn how much of it was right.
bool Router::authorized(std::string_view authorization) const {
  const std::string& key = state_.config().api_key;
  if (key.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() != kBearer.size() + key.size() || authorization.substr(0, kBearer.size()) != kBearer)
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < key.size(); ++i)
    diff |= static_cast<unsigned char>(authorization[kBearer.size() + i] ^ key[i]);
  return diff == 0;
}

HttpReply Router::preflight(std::string_view target, std::string_view requested_headers) const {
  const std::string_view path = path_of(target);
  const Route* route = find_route(path);
  if (!route) return no_route(path);
  HttpReply r{204, "text/plain", "", {}};
  r.headers.emplace_back("Access-Control-Allow-Methods", std::string(to_string(route->method)) + ", OPTIONS");
  r.headers.emplace_back("Access-Control-Allow-Headers",
                         requested_headers.empty() ? "Authorization, Content-Type" : std::string(requested_headers));
  r.headers.emplace_back("Access-Control-Max-Age", "86400");
  return r;
}

RouteResult Router::dispatch(verb method, std::string_view path, std::string_view body,
                             std::string_view authorization) const {
  const Route* route = find_route(path);
  if (!route) return no_route(path);
  if (!route->open && !authorized(authorization))
    return reject(ApiError{401, authorization.empty() ? "an API key is required (Authorization: Bearer <key>)"
                                                      : "incorrect API key provided",
                           "invalid_request_error", "", "invalid_api_key"},
                  "unauthorized");
  if (route->method != method) {
    HttpReply r = reject(ApiError{405, "use " + std::string(to_string(route->method)) + " for " +
                                           std::string(path), "invalid_request_error", "", ""}, "invalid");
    r.headers.emplace_back("Allow", std::string(to_string(route->method)));
    return r;
  }
  if (path == "/health") return handle_health(state_.health());
  if (path == "/metrics") {
    HttpReply r = json_reply(200, state_.metrics() ? state_.metrics()->serialize() : "");
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  scheduler::Engine* engine = state_.engine();
  if (!engine) return reject(ApiError{503, "the model is still loading", "unavailable_error", "", "loading"}, "unavailable");
  // A model's `created` is one fixed time (when first listed), not the time of each request: the
  // list and GET /v1/models/{id} must agree (they straddled a second boundary in a CI run).
  static const std::int64_t model_created = unix_now();
  if (path == "/v1/models") return handle_models(engine->model_info(), model_created);
  if (route->path == "/v1/models/*")
    return handle_model(engine->model_info(), path.substr(route->path.size() - 1), model_created);
  if (path == "/tokenize") return handle_tokenize(*engine, body);
  if (path == "/detokenize") return handle_detokenize(*engine, body);
  return generation(path == "/v1/chat/completions" ? Endpoint::kChat : Endpoint::kCompletions, body);
}

RouteResult Router::generation(Endpoint endpoint, std::string_view body) const {
  if (state_.health() == Health::kDraining)
    return reject(ApiError{503, "the server is shutting down", "unavailable_error", "", "draining"}, "unavailable");
  auto job = prepare_generation(*state_.engine(), body, endpoint,
                                state_.next_response_id(endpoint == Endpoint::kChat), unix_now());
  if (auto* e = std::get_if<ApiError>(&job))
    return reject(*e, e->code == "context_length_exceeded" ? "too_long" : "invalid");
  return std::move(std::get<GenerationJob>(job));
}

HttpReply Router::no_route(std::string_view path) const {
  return reject(ApiError{404, "no route for " + std::string(path), "not_found_error", "", ""}, "invalid");
}

HttpReply Router::reject(const ApiError& error, std::string_view reason) const {
  if (state_.metrics()) state_.metrics()->on_http_rejected(reason);
  return error_reply(error);
}

}  // namespace ladle::server
