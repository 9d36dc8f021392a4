// ScriptedSseServer: a TEST FIXTURE, not a server. It accepts loopback connections, reads one
// HTTP request each and answers with raw bytes from a script (pieces written with a delay
// before each), then closes. Lets the client tests put exact bytes and gaps on a real socket:
// odd splits, merged events, truncation, errors. The real server is exercised by e2e_test.cc.
//
// Thread-per-connection, joined in the destructor; the script runs on the connection thread.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ladle::loadgen::testing {

struct Piece {
  std::chrono::milliseconds delay_before{0};
  std::string bytes;
};
using Script = std::function<std::vector<Piece>(const std::string& request_body)>;

inline std::string sse_head() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
}
inline std::string chunked_head() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
}
inline std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}
inline std::string text_event(const std::string& text) {
  return "data: {\"choices\":[{\"index\":0,\"text\":\"" + text + "\",\"finish_reason\":null}]}\n\n";
}
inline std::string usage_event(int prompt, int completion) {
  return "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":" + std::to_string(prompt) +
         ",\"completion_tokens\":" + std::to_string(completion) + "}}\n\n";
}

class ScriptedSseServer {
 public:
  explicit ScriptedSseServer(Script script) : script_(std::move(script)) {
    namespace ip = boost::asio::ip;
    acceptor_.open(ip::tcp::v4());
    acceptor_.set_option(ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind({ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedSseServer() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    // Unblock accept() by connecting once.
    boost::asio::ip::tcp::socket s(ioc_);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    accept_thread_.join();
    std::lock_guard lock(mu_);
    for (auto& t : connections_) t.join();
  }
  unsigned short port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  // Writes that failed because the client had closed (drops observed by the "server").
  int broken_writes() const { return broken_writes_.load(); }
  std::string last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }
  std::string last_target() {  // the request line's target, e.g. "/v1/completions?x=1"
    std::lock_guard lock(mu_);
    return last_target_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      boost::asio::ip::tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      std::lock_guard lock(mu_);
      connections_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }
  void serve(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    ++requests_;
    {
      std::lock_guard lock(mu_);
      last_body_ = req.body();
      last_target_ = std::string(req.target());
    }
    for (const Piece& p : script_(req.body())) {
      std::this_thread::sleep_for(p.delay_before);
      boost::asio::write(socket, boost::asio::buffer(p.bytes), ec);
      if (ec) {
        ++broken_writes_;
        return;
      }
    }
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    // Drain until the client closes, so it sees our FIN before an RST.
    char sink[256];
    while (!ec) socket.read_some(boost::asio::buffer(sink), ec);
  }

  Script script_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0}, broken_writes_{0};
  std::mutex mu_;
  std::vector<std::thread> connections_;  // GUARDED_BY(mu_)
  std::string last_body_;                 // GUARDED_BY(mu_)
  std::string last_target_;               // GUARDED_BY(mu_)
  std::thread accept_thread_;
};

}  // namespace ladle::loadgen::testing
