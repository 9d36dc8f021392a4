// The page's routes through the Router: GET / and its files with the CSP, open without the API
// key; /v1/server-state and /v1/telemetry behind it; --no-client-telemetry; issued ids.
#include "server/page_handler.h"

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "server/client_telemetry.h"
#include "server/metrics.h"
#include "server/page_assets.h"
#include "server/router.h"
#include "tests/testing/fake_engine.h"

namespace ladle::server {
namespace {

using boost::beast::http::verb;
using nlohmann::json;

std::string header(const HttpReply& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

HttpReply reply(const Router& router, verb method, const std::string& target, const std::string& body = "",
                const std::string& auth = "") {
  return std::get<HttpReply>(router.route(method, target, body, auth));
}

TEST(PageHandlerTest, ServesEveryFileWithTheCsp) {
  ASSERT_GE(page_assets().size(), 5u);
  ServerState state(ServerConfig{.api_key = "k"}, nullptr);
  Router router(state);
  const HttpReply index = reply(router, verb::get, "/");  // open without the key, even while loading
  EXPECT_EQ(index.status, 200u);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<script type=\"module\" src=\"/page/main.js\"></script>"), std::string::npos);
  EXPECT_EQ(header(index, "Content-Security-Policy"), kPageCsp);
  EXPECT_EQ(header(index, "X-Content-Type-Options"), "nosniff");
  for (const PageAsset& asset : page_assets()) {
    const HttpReply r = reply(router, verb::get, "/page/" + std::string(asset.name));
    EXPECT_EQ(r.status, 200u) << asset.name;
    EXPECT_EQ(r.body, asset.bytes);
    EXPECT_EQ(r.content_type, page_content_type(asset.name));
    EXPECT_EQ(header(r, "Content-Security-Policy"), kPageCsp);
  }
  EXPECT_EQ(reply(router, verb::get, "/page/main.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(reply(router, verb::get, "/page/nope.js").status, 404u);
  EXPECT_EQ(reply(router, verb::get, "/page/").status, 404u);
  EXPECT_EQ(reply(router, verb::post, "/").status, 405u);
}

TEST(PageHandlerTest, NoInlineScriptOrStyleInThePage) {
  for (const PageAsset& asset : page_assets()) {
    if (asset.name != "index.html") continue;
    EXPECT_EQ(asset.bytes.find("<style"), std::string::npos);
    EXPECT_EQ(asset.bytes.find(" style="), std::string::npos);
    EXPECT_EQ(asset.bytes.find("<script>"), std::string::npos);
    for (std::size_t at = asset.bytes.find(" on"); at != std::string::npos; at = asset.bytes.find(" on", at + 1)) {
      std::size_t end = at + 3;  // no onclick=, onload=... handlers
      while (end < asset.bytes.size() && asset.bytes[end] >= 'a' && asset.bytes[end] <= 'z') ++end;
      EXPECT_NE(asset.bytes.substr(end, 1), "=") << asset.bytes.substr(at, end - at);
    }
    EXPECT_EQ(asset.bytes.find("http"), std::string::npos);  // nothing from elsewhere
  }
}

TEST(PageHandlerTest, ServerStateAndTelemetryFollowTheApiKey) {
  Metrics metrics;
  testing::FakeEngine engine;
  ServerState state(ServerConfig{.api_key = "k"}, &metrics);
  state.set_engine(&engine);
  ClientTelemetry telemetry(&metrics, [&](std::string_view id) { return state.issued(id); });
  state.set_client_telemetry(&telemetry);
  Router router(state);
  EXPECT_EQ(reply(router, verb::get, "/v1/server-state").status, 401u);
  const HttpReply s = reply(router, verb::get, "/v1/server-state", "", "Bearer k");
  ASSERT_EQ(s.status, 200u);
  const json j = json::parse(s.body);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["model"], "fake-model");
  EXPECT_EQ(j["client_telemetry"], true);
  for (const char* key : {"running", "waiting", "kv_blocks_used", "kv_blocks_capacity", "kv_usage", "in_flight"})
    EXPECT_TRUE(j[key].is_number()) << key;

  const std::string id = state.next_id("chatcmpl-");
  const std::string body = json{{"response_id", id}, {"first_paint_ms", 42}}.dump();
  EXPECT_EQ(reply(router, verb::post, "/v1/telemetry", body).status, 401u);
  EXPECT_EQ(reply(router, verb::post, "/v1/telemetry", body, "Bearer k").status, 204u);
  const HttpReply bad = reply(router, verb::post, "/v1/telemetry", R"({"response_id":"x","first_paint_ms":1})",
                              "Bearer k");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(json::parse(bad.body)["error"]["param"], "response_id");  // OpenAI's error shape
}

TEST(PageHandlerTest, TelemetryOffIsA404) {
  ServerState state(ServerConfig{}, nullptr);
  Router router(state);
  const HttpReply r = reply(router, verb::post, "/v1/telemetry", R"({"response_id":"a","first_paint_ms":1})");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "telemetry_disabled");
  EXPECT_EQ(json::parse(reply(router, verb::get, "/v1/server-state").body)["client_telemetry"], false);
}

TEST(PageHandlerTest, IssuedIdsAreThoseHandedOut) {
  ServerState state(ServerConfig{}, nullptr);
  const std::string a = state.next_id("chatcmpl-"), b = state.next_id("resp_");
  EXPECT_TRUE(state.issued(a));
  EXPECT_TRUE(state.issued(b));
  const std::string tag = b.substr(5, b.size() - 6);
  EXPECT_FALSE(state.issued("resp_" + tag + "3"));   // not handed out yet
  EXPECT_FALSE(state.issued("resp_" + tag + "0"));
  EXPECT_FALSE(state.issued("resp_" + tag + "01"));
  EXPECT_FALSE(state.issued("resp_" + tag));
  EXPECT_FALSE(state.issued(tag + "1"));              // no prefix
  EXPECT_FALSE(state.issued("RESP_" + tag + "1"));
  EXPECT_FALSE(state.issued("resp_000000000000" "1"));  // another start's tag
}

}  // namespace
}  // namespace ladle::server
