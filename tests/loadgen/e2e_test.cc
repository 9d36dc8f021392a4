// End to end: a real `ladle serve` on the stories260K model on a free loopback port, driven by
// `ladle bench` and `ladle cancel-test` as a user would run them. Skipped until the ladle
// binary (with a working `serve`) has been built in this build tree.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ladle::loadgen {
namespace {

const std::string kLadle = LADLE_BINARY_DIR "/ladle";
const std::string kModel = LADLE_MODELS_DIR "/stories260K.bin";
const std::string kTokenizer = LADLE_MODELS_DIR "/tok512.bin";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ladle_loadgen_e2e_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Runs `ladle args...` with stdout+stderr to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  std::vector<std::string> all = {kLadle};
  all.insert(all.end(), args.begin(), args.end());
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, kLadle.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = spawn(args, log);
  return pid < 0 ? -1 : wait_exit(pid);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LadleServer {
 public:
  bool start() {
    pid_ = spawn({"serve", "--model", kModel, "--tokenizer", kTokenizer, "--host", "127.0.0.1", "--port", "0",
                  "--max-running", "4", "--max-batched-tokens", "32"},
                 log_);
    if (pid_ < 0) return false;
    std::regex listening(R"(listening on (http://127\.0\.0\.1:\d+))");
    for (int i = 0; i < 600; ++i) {  // up to 30 s to load
      std::string text = slurp(log_);
      std::smatch m;
      if (url_.empty() && std::regex_search(text, m, listening)) url_ = m[1];
      if (!url_.empty() && text.find("ladle serve: ready") != std::string::npos) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return pid_ = -1, false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  ~LadleServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      wait_exit(pid_);
    }
    std::filesystem::remove(log_);
  }
  const std::string& url() const { return url_; }
  std::string log() const { return slurp(log_); }

 private:
  pid_t pid_ = -1;
  std::string url_;
  std::string log_ = temp_path("serve.log");
};

bool serve_is_built() {
  if (::access(kLadle.c_str(), X_OK) != 0) return false;
  return run({"serve", "--help"}, temp_path("help.log")) == 0;
}

TEST(LoadgenE2eTest, BenchAndCancelTestAgainstLadleServe) {
  ASSERT_TRUE(serve_is_built()) << kLadle << " serve --help failed";
  LadleServer server;
  ASSERT_TRUE(server.start()) << server.log();

  std::string json = temp_path("bench.json"), svg = temp_path("bench.svg"), bench_log = temp_path("bench.log");
  int rc = run({"bench", "--url", server.url(), "--concurrency", "1,4", "--num-requests", "12", "--input-len", "16",
                "--output-len", "24", "--ignore-eos", "--duration", "30", "--json", json, "--plot", svg},
               bench_log);
  ASSERT_EQ(rc, 0) << slurp(bench_log) << server.log();
  std::string report = slurp(bench_log);
  EXPECT_NE(report.find("Serving Benchmark Result (concurrency 4)"), std::string::npos) << report;
  auto doc = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(doc["runs"].size(), 2u);
  for (const auto& r : doc["runs"]) {
    EXPECT_EQ(r["completed"], 12);
    EXPECT_EQ(r["failed"], 0);
    EXPECT_EQ(r["total_output_tokens"], 12 * 24);  // ignore_eos: exactly max_tokens each
    EXPECT_GT(r["ttft_ms"]["p50"].get<double>(), 0);
    EXPECT_EQ(r["samples"].size(), 12u);
    EXPECT_EQ(r["samples"][0]["output_tokens"], 24);
  }
  EXPECT_NE(slurp(svg).find("</svg>"), std::string::npos);

  std::string cancel_log = temp_path("cancel.log");
  // NOTE(loadgen): a bound of 1 s, ten times `ladle cancel-test`'s 100 ms default: this test
  // asserts that every dropped request is freed (a leak never is), not how fast; on a loaded
  // CI machine 100 ms was exceeded. The speed is the benchmark's (BENCHMARKS.md, cancellation).
  rc = run({"cancel-test", "--url", server.url(), "--drops", "4", "--long-tokens", "400", "--prefill-len", "200",
            "--saturate", "12", "--max-free-ms", "1000"},
           cancel_log);
  EXPECT_EQ(rc, 0) << slurp(cancel_log) << server.log();
  std::string cancel = slurp(cancel_log);
  EXPECT_NE(cancel.find("PASS"), std::string::npos) << cancel;
  std::printf("%s%s", report.c_str(), cancel.c_str());
  for (const auto& f : {json, svg, bench_log, cancel_log, temp_path("help.log")}) std::filesystem::remove(f);
}

}  // namespace
}  // namespace ladle::loadgen
