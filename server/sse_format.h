// SSE and HTTP/1.1 chunked framing for streamed responses: pure string functions, no I/O.
//
// A streamed completion is written as raw bytes: sse_response_head() once, then each event as
// http_chunk(sse_event(json)) (or a ping comment), and http_last_chunk() at the end, so that the
// connection stays usable for the next (keep-alive or pipelined) request. For an HTTP/1.0 client
// the same events go out unframed (body_piece / body_end with chunked = false) and the connection
// closes after them.
//
// Thread-safety: stateless; call from anywhere.
#pragma once

#include <string>
#include <string_view>

namespace ladle::server {

// "data: <line>\n" for every line of `data`, then a blank line. JSON from nlohmann's dump() has no
// newlines, so this is normally one line.
std::string sse_event(std::string_view data);

// The terminating event "data: [DONE]\n\n".
std::string_view sse_done();

// A comment line ": <text>\n\n" that clients ignore; used as a keep-alive ping.
std::string sse_comment(std::string_view text);

// One HTTP/1.1 chunk: hex size, CRLF, payload, CRLF. An empty payload yields "" (an empty chunk
// would end the body).
std::string http_chunk(std::string_view payload);

// The zero-size chunk that ends a chunked body.
std::string_view http_last_chunk();

// One piece of a streamed body: http_chunk(payload) when `chunked`, else the payload as it is (an
// HTTP/1.0 client knows no chunked encoding; its body ends where the connection does).
std::string body_piece(std::string_view payload, bool chunked);

// What ends a streamed body: http_last_chunk() when `chunked`, else nothing (the close does).
std::string_view body_end(bool chunked);

// Status line and headers of a streamed response (200, text/event-stream, no-cache,
// X-Accel-Buffering: no, and chunked unless `chunked` is false: an HTTP/1.0 client's response is
// delimited by closing the connection), ending with the blank line.
// `allow_origin`, if not empty, is sent as Access-Control-Allow-Origin.
std::string sse_response_head(bool keep_alive, bool chunked = true, std::string_view allow_origin = {});

}  // namespace ladle::server
