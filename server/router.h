// Router: the one route table of `ladle serve`. Maps (method, path) to a handler, refuses unknown
// paths (404), requests without the API key when one is set (401), wrong methods (405 + Allow),
// and requests that arrive while the engine is loading or the server is draining (503); answers
// CORS preflights. Any exception thrown below it becomes a 500 here, once.
//
// Each route belongs to a dialect, and every reply of that route, errors included, is in its shape:
// the Anthropic routes (/v1/messages...) answer Anthropic errors and carry a request-id header.
//
// Ownership: one per server, shared by every session. Threads: route() is const and may be called
// from any I/O thread concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <variant>

#include <boost/beast/http/verb.hpp>

#include "server/background_response.h"
#include "server/handlers.h"
#include "server/server_state.h"

namespace ladle::server {

// GET /v1/responses/{id}?stream=true: replay a background response's log after `after`, then
// follow it.
struct FollowJob {
  std::shared_ptr<BackgroundResponse> response;
  std::int64_t after = -1;
};

// A Files or Batches API request: `run` reads or writes the BatchStore (SQLite: an fsync per write),
// so the session hands it to BatchRunner::run_store_job, off the I/O threads, and writes the
// reply it returns. `run` views the request (target, body, headers): the session keeps it, and
// reads nothing more from its connection, until the reply is written.
struct StoreJob {
  std::function<HttpReply()> run;
};

// A reply to write as is, a generation for the session to submit and stream, a log to follow, or
// a store request to run off the I/O threads.
using RouteResult = std::variant<HttpReply, GenerationJob, FollowJob, StoreJob>;

// What the router reads of a request.
struct RouteRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string_view target;          // path and query string
  std::string_view body;
  std::string_view authorization;   // "Bearer <key>"
  std::string_view x_api_key;       // Anthropic's header for the key
  std::string_view last_event_id;   // an EventSource's resume point
  std::string_view content_type;    // multipart uploads carry their boundary here
};

enum class Dialect { kOpenAi, kAnthropic };

class Router {
 public:
  explicit Router(ServerState& state) : state_(state) {}

  RouteResult route(const RouteRequest& request) const;
  // The same, with only an Authorization header.
  RouteResult route(boost::beast::http::verb method, std::string_view target, std::string_view body,
                    std::string_view authorization = {}) const {
    return route(RouteRequest{method, target, body, authorization, {}, {}, {}});
  }

  // The answer to a browser's CORS preflight (OPTIONS) for `target`: 204 allowing the route's
  // methods and the headers the browser asks for (`requested_headers`, its
  // Access-Control-Request-Headers: the SDKs send their own), 404 for an unknown path. The
  // session adds Access-Control-Allow-Origin, as it does to every reply.
  HttpReply preflight(std::string_view target, std::string_view requested_headers) const;

  // The dialect whose error shape a reply to `target` takes (for errors found before routing,
  // such as 413).
  static Dialect dialect_of(std::string_view target);
  // `error` in `dialect`'s shape.
  static HttpReply error_reply_in(Dialect dialect, const ApiError& error, std::string_view request_id = {});

  struct Route;  // an entry of the route table (router.cc)

 private:
  // `wild`: the path segment the route's "*" matched (empty if it has none).
  RouteResult dispatch(const Route& route, const RouteRequest& request, std::string_view path, std::string_view wild,
                       const std::string& request_id) const;
  RouteResult responses_route(const Route& route, const RouteRequest& request, std::string_view path) const;
  HttpReply telemetry_route(const RouteRequest& request) const;
  // The Files and Batches APIs (files_api.h, batch_api.h).
  RouteResult batch_route(const Route& route, const RouteRequest& request, std::string_view wild) const;
  HttpReply reject(const ApiError& error, std::string_view reason, Dialect dialect = Dialect::kOpenAi,
                   std::string_view request_id = {}) const;
  bool authorized(const RouteRequest& request) const;

  ServerState& state_;
};

}  // namespace ladle::server
