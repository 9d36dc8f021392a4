// Router: the one route table of `ladle serve`. Maps (method, path) to a handler, refuses unknown
// paths (404), requests without the API key when one is set (401), wrong methods (405 + Allow),
// and requests that arrive while the engine is loading or the server is draining (503); answers
// CORS preflights. Any exception thrown below it becomes a JSON 500 here, once.
//
// Ownership: one per server, shared by every session. Threads: route() is const and may be called
// from any I/O thread concurrently.
#pragma once

#include <string_view>
#include <variant>

#include <boost/beast/http/verb.hpp>

#include "server/handlers.h"
#include "server/server_state.h"

namespace ladle::server {

// Either a reply to write as is, or a generation for the session to submit and stream.
using RouteResult = std::variant<HttpReply, GenerationJob>;

class Router {
 public:
  explicit Router(ServerState& state) : state_(state) {}

  // `target` may carry a query string, which is ignored. `authorization` is the request's
  // Authorization header: with an API key configured, every route but /health and /metrics wants
  // "Bearer <key>" and answers 401 otherwise.
  RouteResult route(boost::beast::http::verb method, std::string_view target, std::string_view body,
                    std::string_view authorization = {}) const;

  // The answer to a browser's CORS preflight (OPTIONS) for `target`: 204 allowing the route's
  // method and the headers the browser asks for (`requested_headers`, its
  // Access-Control-Request-Headers: the SDKs send their own), 404 for an unknown path. The
  // session adds Access-Control-Allow-Origin, as it does to every reply.
  HttpReply preflight(std::string_view target, std::string_view requested_headers) const;

 private:
  RouteResult dispatch(boost::beast::http::verb method, std::string_view path, std::string_view body,
                       std::string_view authorization) const;
  RouteResult generation(Endpoint endpoint, std::string_view body) const;
  HttpReply reject(const ApiError& error, std::string_view reason) const;
  HttpReply no_route(std::string_view path) const;
  bool authorized(std::string_view authorization) const;

  ServerState& state_;
};

}  // namespace ladle::server
