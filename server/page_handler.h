// The built-in page's routes: GET / (index.html) and GET /page/{file} (its scripts, style sheet
// and icon), served from the bytes compiled into the binary (server/page_assets.h).
//
// Every reply carries a strict Content-Security-Policy (kPageCsp): scripts, styles and
// connections only from this origin, no inline script or style, no framing, no form posts, no
// plugins — so a model's output that the page renders as text can never become markup that runs.
// These routes are open (no API key): the page asks for a key when the API answers 401.
//
// Thread-safety: pure functions over immutable data.
#pragma once

#include <string_view>

#include "server/http_reply.h"

namespace ladle::server {

inline constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// `path` is "/" or "/page/<file>": the file with its Content-Type and the page's security
// headers, or a 404 for a file the page does not have.
HttpReply handle_page(std::string_view path);

// The Content-Type of a page file, from its extension (text/plain for any other).
std::string_view page_content_type(std::string_view name);

}  // namespace ladle::server
