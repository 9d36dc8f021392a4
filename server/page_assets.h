// PageAsset: one file of the built-in page (server/page/: index.html, its scripts, style sheet and
// icon), compiled into the binary at build time by server/page/embed.cmake, so `GET /` needs no
// file beside the binary, no CDN and no network.
//
// Thread-safety: immutable static data.
#pragma once

#include <span>
#include <string_view>

namespace ladle::server {

struct PageAsset {
  std::string_view name;   // the file's name in server/page/ ("index.html", "main.js")
  std::string_view bytes;  // its contents
};

// Every file of the page (defined in the generated page_assets_data.cc).
std::span<const PageAsset> page_assets();

}  // namespace ladle::server
