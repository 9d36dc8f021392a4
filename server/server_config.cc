#include "server/server_config.h"

#include <sys/resource.h>

#include <algorithm>

namespace ladle::server {

Status ServerConfig::validate() const {
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  if (port < 0 || port > 65535) return bad("--port must be in [0, 65535]");
  if (io_threads < 1 || io_threads > 64) return bad("--io-threads must be in [1, 64]");
  if (!(stall_timeout > 0)) return bad("--stall-timeout must be > 0");
  if (!(ping_interval > 0)) return bad("--ping-interval must be > 0");
  if (!(drain_timeout >= 0)) return bad("--drain-timeout must be >= 0");
  if (!(idle_timeout > 0)) return bad("--idle-timeout must be > 0");
  if (max_body < 64) return bad("--max-body must be at least 64 bytes");
  if (max_background < 0) return bad("--max-background must be >= 0");
  if (!(background_ttl > 0)) return bad("--background-ttl must be > 0");
  if (!(background_log_mb > 0)) return bad("--background-log-mb must be > 0");
  if (!(header_timeout > 0)) return bad("--header-timeout must be > 0");
  if (max_header_bytes < 256 || max_header_bytes > (1 << 30)) return bad("--max-header-bytes must be in [256, 1 GiB]");
  if (max_header_count < 1) return bad("--max-header-count must be at least 1");
  if (max_url_length < 1) return bad("--max-url-length must be at least 1");
  if (max_connections < 0) return bad("--max-connections must be >= 0");
  if (!(max_file_mb > 0) || max_file_mb > 4096) return bad("--max-file-mb must be in (0, 4096]");
  if (batch_max_in_flight < 1) return bad("--batch-max-in-flight must be at least 1");
  // It goes into a response header and, as its tag, into ids and nginx's id -> replica map.
  if (replica_id.size() > 64 || replica_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                              "0123456789.:-") != std::string::npos)
    return bad("--replica-id must be at most 64 letters, digits, '.', ':' or '-'");
  return Ok{};
}

int ServerConfig::resolved_max_connections() const {
  if (max_connections > 0) return max_connections;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  return static_cast<int>(std::clamp<rlim_t>(limit.rlim_cur, 80, 1 << 20) - 64);
}

void add_server_flags(FlagSet& flags, ServerConfig& c) {
  flags.add("--host", &c.host, "address to listen on");
  flags.add("--port", &c.port, "TCP port (0: any free port)");
  flags.add("--io-threads", &c.io_threads, "threads serving HTTP connections");
  flags.add("--stall-timeout", &c.stall_timeout, "seconds without write progress before a slow client is cut and its request cancelled");
  flags.add("--ping-interval", &c.ping_interval, "seconds between ': ping' comments on a stream waiting for tokens");
  flags.add("--drain-timeout", &c.drain_timeout, "seconds in-flight requests may run after SIGINT/SIGTERM before they are cancelled");
  flags.add("--idle-timeout", &c.idle_timeout, "seconds an idle keep-alive connection is kept open");
  flags.add("--max-body", &c.max_body, "request body bytes at most (larger bodies get 413)");
  flags.add("--max-background", &c.max_background,
            "background responses (POST /v1/responses with background: true) running at once; more get 429");
  flags.add("--background-ttl", &c.background_ttl, "seconds a finished background response is kept for GET and resume");
  flags.add("--background-log-mb", &c.background_log_mb,
            "MiB of background responses' event logs kept in all (the oldest finished are evicted first; "
            "new ones get 429 while running ones alone exceed it)");
  flags.add("--no-client-telemetry", &c.no_client_telemetry,
            "turn off client telemetry: POST /v1/telemetry answers 404 and the built-in page sends no reports "
            "(ladle_client_* stay empty)");
  flags.add("--api-key", &c.api_key,
            "require \"Authorization: Bearer KEY\" on the /v1 routes, /tokenize and /detokenize (/health and "
            "/metrics stay open); default: $LADLE_API_KEY, or none");
  flags.add("--allowed-origin", &c.allowed_origin,
            "Access-Control-Allow-Origin of every response and CORS preflight answer, for browser clients "
            "(an origin such as http://localhost:3000, or * for any; empty: no CORS)");
  flags.add("--header-timeout", &c.header_timeout,
            "seconds from a request's first byte to the end of its headers before the connection is cut "
            "(slow-header clients)");
  flags.add("--max-header-bytes", &c.max_header_bytes, "request line and headers, bytes at most (larger: 431)");
  flags.add("--max-header-count", &c.max_header_count, "header fields per request at most (more: 431)");
  flags.add("--max-url-length", &c.max_url_length, "request-target (URL) bytes at most (longer: 414)");
  flags.add("--max-connections", &c.max_connections,
            "open connections at most; a connection beyond it gets 503 and is closed (0: the open-file "
            "limit less 64)");
  flags.add("--replica-id", &c.replica_id,
            "this replica's name behind a load balancer (default host:port): sent as X-Ladle-Replica on every "
            "reply, and its tag (':' and '.' as '-') goes into the ids it makes (resp_<tag>_...), so a proxy can "
            "route a resume to the replica that owns the id (deploy/nginx.conf)");
  flags.add("--data-dir", &c.data_dir,
            "this replica's own folder for the Files and Batches APIs (a SQLite database, batches.sqlite3), "
            "created on first use; a restart with the same folder resumes unfinished batches");
  flags.add("--max-file-mb", &c.max_file_mb, "MiB per file uploaded to POST /v1/files (larger: 413)");
  flags.add("--batch-max-in-flight", &c.batch_max_in_flight,
            "batch lines (Batches API) running in the engine at once; the rest wait their turn");
}

}  // namespace ladle::server
