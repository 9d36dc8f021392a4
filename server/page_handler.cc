#include "server/page_handler.h"

#include <string>

#include "server/openai_encoder.h"
#include "server/page_assets.h"

namespace ladle::server {

std::string_view page_content_type(std::string_view name) {
  auto ends_with = [&](std::string_view ext) { return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext; };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "text/plain; charset=utf-8";
}

HttpReply handle_page(std::string_view path) {
  constexpr std::string_view kPrefix = "/page/";
  std::string_view name = "index.html";
  if (path != "/") name = path.substr(path.rfind('/') + 1);
  if (path != "/" && path.substr(0, kPrefix.size()) != kPrefix) name = {};
  for (const PageAsset& asset : page_assets()) {
    if (asset.name != name) continue;
    HttpReply r{200, std::string(page_content_type(name)), std::string(asset.bytes), {}};
    r.headers.emplace_back("Content-Security-Policy", std::string(kPageCsp));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    // NOTE(page): revalidate every load, so a rebuilt binary's page is never mixed with a cached
    // older script; the files are small and served from memory.
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return error_reply(ApiError{404, "the page has no file '" + std::string(name) + "'", "invalid_request_error", "",
                              "not_found"});
}

}  // namespace ladle::server
