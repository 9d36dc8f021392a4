// End to end with a real Prometheus: start `ladle serve` on the tiny trained model and
// /usr/bin/prometheus (scrape_interval 1s) on free loopback ports, send K streamed completions,
// then ask Prometheus's HTTP API for ladle_time_to_first_token_seconds_count until it says K.
// Both processes are stopped (SIGTERM, then SIGKILL) and the temporary storage removed at the end.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr int kRequests = 5;

// A loopback TCP port nobody listens on right now.
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// A child process with stdout+stderr in `log`; SIGTERM (then SIGKILL after 10 s) on destruction.
class Child {
 public:
  Child(std::vector<std::string> argv, const fs::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  // True while the process has not exited.
  bool running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  void stop() {
    if (!running()) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && running(); ++i) std::this_thread::sleep_for(100ms);
    if (running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  int status_ = 0;
};

struct Reply {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 request on a fresh connection (Beast, synchronous); nullopt if it failed.
std::optional<Reply> http_request(int port, http::verb verb, const std::string& target,
                                  const std::string& body = "") {
  try {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.expires_after(60s);
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  static_cast<unsigned short>(port)));
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buffer, parser);
    boost::beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    return Reply{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Polls `ready` every 200 ms until it returns true or `timeout` passes.
template <class F>
bool wait_until(std::chrono::seconds timeout, F ready) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

// The single value of an instant query, or nullopt when Prometheus has no sample (yet).
std::optional<double> prometheus_query(int port, const std::string& query) {
  auto reply = http_request(port, http::verb::get, "/api/v1/query?query=" + query);
  if (!reply || reply->status != 200) return std::nullopt;
  auto json = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || json.value("status", "") != "success") return std::nullopt;
  const auto& result = json["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// The value of an unlabelled sample in ladle's own /metrics text.
std::optional<double> ladle_sample(int port, const std::string& name) {
  auto reply = http_request(port, http::verb::get, "/metrics");
  if (!reply || reply->status != 200) return std::nullopt;
  std::istringstream in(reply->body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return std::nullopt;
}

class PrometheusScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPrometheus, X_OK) != 0) GTEST_SKIP() << kPrometheus << " not installed";
    char tmpl[] = "/tmp/ladle_scrape_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    prometheus_.reset();  // stops it first: it scrapes ladle
    ladle_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // `ladle serve` on the tiny trained model; returns once /health says the engine runs.
  void start_ladle() {
    const std::string bin = LADLE_BINARY_DIR "/ladle";
    ASSERT_EQ(access(bin.c_str(), X_OK), 0) << bin << " not built";
    // Port 0: the server binds a free port itself and says which (no pick-then-bind race with the
    // other tests that ctest -j runs beside this one).
    ladle_ = std::make_unique<Child>(
        std::vector<std::string>{bin, "serve", "--model", LADLE_MODELS_DIR "/stories260K.bin",
                                 "--tokenizer", LADLE_MODELS_DIR "/tok512.bin", "--host",
                                 "127.0.0.1", "--port", "0"},
        dir_ / "ladle.log");
    ASSERT_TRUE(ladle_->started());
    ASSERT_TRUE(wait_until(60s, [&] {
      const std::string log = ladle_->log();
      const std::size_t at = log.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) ladle_port_ = std::atoi(log.c_str() + at + 30);
      return ladle_port_ > 0 || !ladle_->running();
    })) << "ladle serve did not say its port:\n" << ladle_->log();
    ASSERT_TRUE(wait_until(60s, [&] {
      // The server listens while the model loads; /health turns 200 once the engine runs.
      auto r = http_request(ladle_port_, http::verb::get, "/health");
      return (r && r->status == 200) || !ladle_->running();
    }) && ladle_->running()) << "ladle serve did not come up:\n" << ladle_->log();
  }

  // Prometheus scraping ladle every second, with its own config and storage under dir_.
  // Prometheus takes the port it is given, so one is picked; should another process take it
  // first (ctest -j), Prometheus exits at once and another port is tried.
  void start_prometheus() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      prom_port_ = free_port();
      ASSERT_GT(prom_port_, 0);
      {
        std::ofstream config(dir_ / "prometheus.yml");
        config << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
               << "scrape_configs:\n  - job_name: ladle\n    scrape_interval: 1s\n"
               << "    scrape_timeout: 1s\n    static_configs:\n"
               << "      - targets: ['127.0.0.1:" << ladle_port_ << "']\n";
      }
      prometheus_ = std::make_unique<Child>(
          std::vector<std::string>{kPrometheus, "--config.file=" + (dir_ / "prometheus.yml").string(),
                                   "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                                   "--web.listen-address=127.0.0.1:" + std::to_string(prom_port_)},
          dir_ / "prometheus.log");
      ASSERT_TRUE(prometheus_->started());
      const bool up = wait_until(60s, [&] {
        auto r = http_request(prom_port_, http::verb::get, "/-/ready");
        return (r && r->status == 200) || !prometheus_->running();
      }) && prometheus_->running();
      if (up) return;
      if (prometheus_->log().find("address already in use") == std::string::npos) break;
    }
    FAIL() << "prometheus did not come up:\n" << prometheus_->log();
  }

  // K streamed completions of different lengths, each read to its [DONE].
  void send_completions(int k) {
    for (int i = 0; i < k; ++i) {
      nlohmann::json body = {{"prompt", "Once upon a time, there was a little"},
                             {"max_tokens", 8 + 4 * i}, {"temperature", 0}, {"stream", true}};
      auto reply = http_request(ladle_port_, http::verb::post, "/v1/completions", body.dump());
      ASSERT_TRUE(reply.has_value()) << ladle_->log();
      ASSERT_EQ(reply->status, 200) << reply->body;
      EXPECT_NE(reply->body.find("data: [DONE]"), std::string::npos) << reply->body;
    }
  }

  // Exactness at ladle itself after k requests: every generated token is either a first token
  // or a next token, and with every client gone the levels are back to 0. The engine reports its
  // last gauges right after the step that finished the last request, which may trail the
  // client's [DONE] by microseconds: allow a short bounded wait, then require exact values.
  void expect_exact_counts_at_ladle(int k) {
    std::optional<double> ttft, itl, tokens, running, waiting, used;
    EXPECT_TRUE(wait_until(5s, [&] {
      ttft = ladle_sample(ladle_port_, "ladle_time_to_first_token_seconds_count");
      itl = ladle_sample(ladle_port_, "ladle_inter_token_latency_seconds_count");
      tokens = ladle_sample(ladle_port_, "ladle_generation_tokens_total");
      running = ladle_sample(ladle_port_, "ladle_num_requests_running");
      waiting = ladle_sample(ladle_port_, "ladle_num_requests_waiting");
      used = ladle_sample(ladle_port_, "ladle_kv_cache_blocks_used");
      return ttft && itl && tokens && *ttft + *itl == *tokens && running == 0.0 &&
             waiting == 0.0 && used == 0.0;
    }));
    ASSERT_TRUE(ttft && itl && tokens);
    EXPECT_EQ(*ttft, k);
    EXPECT_EQ(*ttft + *itl, *tokens);
    EXPECT_GE(*tokens, k);
    EXPECT_EQ(running, 0.0);
    EXPECT_EQ(waiting, 0.0);
    EXPECT_EQ(used, 0.0);
  }

  fs::path dir_;
  int ladle_port_ = 0, prom_port_ = 0;
  std::unique_ptr<Child> ladle_, prometheus_;
};

TEST_F(PrometheusScrapeTest, PrometheusCountsEveryRequestsFirstToken) {
  ASSERT_NO_FATAL_FAILURE(start_ladle());
  ASSERT_NO_FATAL_FAILURE(start_prometheus());
  ASSERT_NO_FATAL_FAILURE(send_completions(kRequests));
  expect_exact_counts_at_ladle(kRequests);

  // Through Prometheus: the scrape works and the TTFT count arrives (bounded wait).
  std::optional<double> seen;
  EXPECT_TRUE(wait_until(30s, [&] {
    seen = prometheus_query(prom_port_, "ladle_time_to_first_token_seconds_count");
    return seen == static_cast<double>(kRequests);
  })) << "last value: " << (seen ? std::to_string(*seen) : "none") << "\n" << prometheus_->log();
  EXPECT_EQ(prometheus_query(prom_port_, "up%7Bjob%3D%22ladle%22%7D"), 1.0);
  EXPECT_EQ(prometheus_query(prom_port_, "ladle_num_requests_running"), 0.0);

  prometheus_->stop();
  ladle_->stop();
  EXPECT_FALSE(prometheus_->running());
  EXPECT_FALSE(ladle_->running());
}

}  // namespace
