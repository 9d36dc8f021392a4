// An in-process `ladle serve` front end on a free loopback port over FakeEngine, for the raw-HTTP
// tests of each dialect, plus helpers to read SSE frames with their event names and ids.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "server/server.h"
#include "tests/server/test_client.h"
#include "tests/testing/fake_engine.h"

namespace ladle::server::test {

// One SSE frame: its event name (empty if none), id (-1 if none) and data.
struct Frame {
  std::string event;
  long long id = -1;
  std::string data;
};

// Every frame of an SSE body (comments skipped).
inline std::vector<Frame> sse_frames(const std::string& body) {
  std::vector<Frame> out;
  Frame f;
  bool any = false;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      if (any) out.push_back(f);
      f = Frame{};
      any = false;
    } else if (line.rfind("event: ", 0) == 0) {
      f.event = line.substr(7), any = true;
    } else if (line.rfind("id: ", 0) == 0) {
      f.id = std::stoll(line.substr(4)), any = true;
    } else if (line.rfind("data: ", 0) == 0) {
      f.data = line.substr(6), any = true;
    }
  }
  return out;
}

class FakeServerTest : public ::testing::Test {
 protected:
  void start(testing::FakeEngineOptions options = {}, ServerConfig config = {}) {
    engine_ = std::make_unique<testing::FakeEngine>(options);
    config.port = 0;
    auto server = Server::create(config, &metrics_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    server_->start(false);
    server_->set_engine(engine_.get(), [e = engine_.get()] { e->stop(); });
  }
  void TearDown() override {
    if (server_) {
      server_->shutdown();
      server_->wait();
    }
    engine_.reset();  // before the server's io_context, which the sinks' strands belong to
    server_.reset();
  }
  unsigned short port() const { return server_->port(); }
  // A request with extra headers; the whole reply.
  Reply call(http::verb method, const std::string& target, const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::io_context ioc;
    auto socket = connect_to(ioc, port());
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(false);
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    Reply r;
    http::read(socket, buffer, r.raw);
    r.status = r.raw.result_int();
    r.body = r.raw.body();
    return r;
  }
  Reply post_json(const std::string& target, const nlohmann::json& body,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    return call(http::verb::post, target, body.dump(), std::move(headers));
  }

  Metrics metrics_;
  std::unique_ptr<testing::FakeEngine> engine_;
  std::unique_ptr<Server> server_;
};

}  // namespace ladle::server::test
