// ServerConfig: the HTTP server's own settings (`ladle serve` flags other than the engine's).
// A plain value type, filled by add_server_flags() and checked by validate().
#pragma once

#include <cstdint>
#include <string>

#include "kvcache/expected.h"
#include "scheduler/flag_set.h"

namespace ladle::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0 = any free port (tests)
  int io_threads = 1;                    // threads running the io_context
  double stall_timeout = 30;             // s without write progress before a client is cut
  double ping_interval = 10;             // s between ": ping" comments on an idle stream
  double drain_timeout = 30;             // s in-flight requests may take to finish on shutdown
  double idle_timeout = 60;              // s a keep-alive connection may wait for its next request
  std::int64_t max_body = 1 << 20;       // request body bytes at most (413 above)
  std::string allowed_origin = "*";      // Access-Control-Allow-Origin for browser clients ("": no CORS)
  std::string api_key = "";              // non-empty: the model routes want "Authorization: Bearer <key>"
  std::string model_name = "ladle";      // API model id until an engine reports its own
  int max_background = 64;               // background responses running at once (429 beyond)
  double background_ttl = 3600;          // s a finished background response is kept
  double background_log_mb = 256;        // MiB of background event logs kept in all
  double header_timeout = 10;            // s from a request's first byte to the end of its headers
  std::int64_t max_header_bytes = 64 * 1024;  // request line + headers, bytes at most (431 above)
  int max_header_count = 100;            // header fields at most (431 above)
  int max_url_length = 8192;             // request-target bytes at most (414 above)
  int max_connections = 0;               // open connections at most (503 above); 0: open-file limit − 64
  bool no_client_telemetry = false;      // refuse POST /v1/telemetry (the page then sends none)
  std::string replica_id = "";           // this replica's name in a fleet ("": host:port once bound)
  std::string data_dir = "ladle-data";   // the replica's own folder for files and batches (created on first use)
  double max_file_mb = 100;              // MiB per uploaded file (POST /v1/files; 413 above)
  int batch_max_in_flight = 8;           // batch lines running in the engine at once

  Status validate() const;
  // max_connections, or for 0 the process's open-file limit (RLIMIT_NOFILE) less 64 descriptors
  // kept for the model, logs and the event loop (at least 16).
  int resolved_max_connections() const;
  // The body limit of POST /v1/files: max_file_mb and room for the multipart framing.
  std::int64_t max_upload_body() const { return static_cast<std::int64_t>(max_file_mb * 1024 * 1024) + 64 * 1024; }
};

// Registers --host, --port, --io-threads (HTTP threads; --threads is the engine's compute threads), --stall-timeout, --ping-interval, --drain-timeout,
// --idle-timeout, --max-body, --api-key, --allowed-origin, --header-timeout, --max-header-bytes,
// --max-header-count, --max-url-length, --max-connections, --replica-id, --data-dir, --max-file-mb
// and --batch-max-in-flight on `flags`,
// writing into `config`.
void add_server_flags(FlagSet& flags, ServerConfig& config);

}  // namespace ladle::server
