// The Files and Batches routes in process over FakeEngine: a batch from upload to output file, the
// errors of each route in OpenAI's shape, the upload limit, an unwritable data dir as a 503
// naming it, and the store kept off the I/O thread: a stream completes while a line's commit, or
// an API request's read, is held inside the store.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include "server/batch_runner.h"
#include "server/sqlite_batch_store.h"
#include "tests/server/fake_server.h"

namespace ladle::server::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;


// Calls of one store method wait here, once armed, until released: a commit or a read as slow as
// the test wants, inside the real store.
class Latch {
 public:
  void arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  void pass() {
    std::unique_lock lock(mu_);
    if (!armed_) return;
    ++held_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  // Whether a call is waiting at the latch within `timeout` (a bound for a broken server, not a
  // window: a working one gets there in milliseconds).
  bool wait_held(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return held_ > 0; });
  }
  bool released() {
    std::lock_guard lock(mu_);
    return released_;
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, released_ = false;
  int held_ = 0;
};

// The SQLite store, its commits and batch reads passing a Latch first.
class LatchedStore final : public BatchStore {
 public:
  LatchedStore(std::unique_ptr<SqliteBatchStore> store, Latch& commits, Latch& reads)
      : store_(std::move(store)), commits_(commits), reads_(reads) {}

  Status add_file(const StoredFile& meta, std::string_view content) override { return store_->add_file(meta, content); }
  Expected<std::optional<StoredFile>> file(const std::string& id) override { return store_->file(id); }
  Expected<std::optional<std::string>> file_content(const std::string& id) override { return store_->file_content(id); }
  Expected<std::vector<StoredFile>> list_files(const ListQuery& q) override { return store_->list_files(q); }
  Expected<bool> delete_file(const std::string& id) override { return store_->delete_file(id); }
  Status add_batch(const BatchRecord& b) override { return store_->add_batch(b); }
  Expected<std::optional<BatchRecord>> batch(const std::string& id) override {
    reads_.pass();
    return store_->batch(id);
  }
  Expected<std::vector<BatchRecord>> list_batches(const ListQuery& q) override { return store_->list_batches(q); }
  Expected<bool> fail_batch(const std::string& id, const std::string& errors, std::int64_t now) override {
    return store_->fail_batch(id, errors, now);
  }
  Expected<bool> cancel_batch(const std::string& id, std::int64_t now) override { return store_->cancel_batch(id, now); }
  Expected<bool> begin_finalizing(const std::string& id, std::int64_t now) override {
    return store_->begin_finalizing(id, now);
  }
  Expected<std::vector<BatchRecord>> unfinished_batches() override { return store_->unfinished_batches(); }
  Expected<std::vector<int>> count_by_status() override { return store_->count_by_status(); }
  Expected<bool> start_lines(const std::string& id, const std::vector<BatchLineInput>& lines, std::int64_t now) override {
    return store_->start_lines(id, lines, now);
  }
  Expected<std::vector<int>> pending_lines(const std::string& id) override { return store_->pending_lines(id); }
  Expected<BatchLineInput> line(const std::string& id, int line) override { return store_->line(id, line); }
  Expected<bool> commit_line(const std::string& id, const LineResult& result) override {
    commits_.pass();
    return store_->commit_line(id, result);
  }
  Expected<bool> finalize(const std::string& id, BatchStatus status, std::int64_t now, const std::string& output_id,
                          const std::string& error_id,
                          const std::function<std::string(int, const std::string&)>& pending) override {
    return store_->finalize(id, status, now, output_id, error_id, pending);
  }

 private:
  std::unique_ptr<SqliteBatchStore> store_;
  Latch& commits_;
  Latch& reads_;
};

class BatchApiTest : public FakeServerTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ladle-batch-api-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    commits_.release();  // a failed assertion may have left a runner thread at a latch
    reads_.release();
    FakeServerTest::TearDown();
    fs::remove_all(dir_);
  }
  void start_with(std::string data_dir) {
    ServerConfig config;
    config.data_dir = std::move(data_dir);
    config.max_file_mb = 0.01;
    start({}, config);
  }
  Reply upload(const std::string& content, const std::string& purpose = "batch") {
    const std::string body = "--bnd\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" + purpose +
                             "\r\n--bnd\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\r\n" +
                             content + "\r\n--bnd--\r\n";
    return call(http::verb::post, "/v1/files", body, {{"Content-Type", "multipart/form-data; boundary=bnd"}});
  }
  static json error_of(const Reply& r) { return json::parse(r.body)["error"]; }
  // The batch `id` once its status reads `status` (within 10 s; else a failure naming what it read).
  json batch_when(const std::string& id, const std::string& status) {
    json b;
    EXPECT_TRUE(testing::FakeEngine::wait_for([&] {
      b = json::parse(call(http::verb::get, "/v1/batches/" + id).body);
      return b["status"] == status;
    }, std::chrono::seconds(10))) << b.dump();
    return b;
  }
  // A server with one I/O thread, whose store passes commits_ and reads_.
  void start_latched() {
    ServerConfig config;
    config.data_dir = dir_.string();
    config.io_threads = 1;
    start({}, config);
    // Before any request: the fresh data dir has no database for the runner's start to open.
    server_->state().batches()->set_store_opener([this](const std::string& dir) -> Expected<std::unique_ptr<BatchStore>> {
      auto store = SqliteBatchStore::open(dir);
      if (!store) return store.error();
      return std::unique_ptr<BatchStore>(new LatchedStore(std::move(*store), commits_, reads_));
    });
  }
  // With a store call held at `latch`: a streamed completion on the same (only) I/O thread gets
  // all of its tokens before the latch is released. Releases it.
  void expect_a_stream_while_held(Latch& latch) {
    auto streamed = std::async(std::launch::async, [&] {
      return post_json("/v1/completions", {{"prompt", "hi"}, {"max_tokens", 4}, {"stream", true}});
    });
    const bool done_while_held = streamed.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
    EXPECT_TRUE(done_while_held && !latch.released()) << "the stream waited for the store";
    latch.release();
    Reply r = streamed.get();
    ASSERT_EQ(r.status, 200u) << r.body;
    std::string text;
    for (const auto& f : sse_frames(r.body))
      if (f.data != "[DONE]") text += json::parse(f.data)["choices"][0]["text"].get<std::string>();
    EXPECT_EQ(text, " Once upon a time");
  }
  fs::path dir_;
  Latch commits_, reads_;
};

TEST_F(BatchApiTest, ABatchRunsFromUploadToOutputFile) {
  start_with(dir_.string());
  std::string content;
  for (int i = 0; i < 3; ++i)
    content += json{{"custom_id", "r" + std::to_string(i)}, {"method", "POST"}, {"url", "/v1/completions"},
                    {"body", {{"prompt", "hi"}, {"max_tokens", 4}}}}.dump() + "\n";
  Reply file = upload(content);
  ASSERT_EQ(file.status, 200u) << file.body;
  const std::string file_id = json::parse(file.body)["id"];
  Reply created = post_json("/v1/batches", {{"input_file_id", file_id}, {"endpoint", "/v1/completions"},
                                            {"completion_window", "24h"}});
  ASSERT_EQ(created.status, 200u) << created.body;
  const std::string id = json::parse(created.body)["id"];
  const json b = batch_when(id, "completed");
  ASSERT_EQ(b["status"], "completed");
  EXPECT_EQ(b["request_counts"], json({{"total", 3}, {"completed", 3}, {"failed", 0}}));
  for (const auto& r : engine_->submitted()) EXPECT_EQ(r.request_class, scheduler::RequestClass::kBatch);
  Reply out = call(http::verb::get, "/v1/files/" + b["output_file_id"].get<std::string>() + "/content");
  ASSERT_EQ(out.status, 200u);
  std::istringstream lines(out.body);
  std::string text;
  int n = 0;
  for (std::string l; std::getline(lines, l); ++n) {
    json j = json::parse(l);
    EXPECT_EQ(j["custom_id"], "r" + std::to_string(n));
    EXPECT_EQ(j["response"]["body"]["choices"][0]["text"], " Once upon a time");
  }
  EXPECT_EQ(n, 3);
  Reply again = call(http::verb::post, "/v1/batches/" + id + "/cancel");
  EXPECT_EQ(again.status, 409u);
  EXPECT_EQ(error_of(again)["code"], "batch_not_cancellable");
}

TEST_F(BatchApiTest, RouteErrorsAreOpenAiShaped) {
  start_with(dir_.string());
  EXPECT_EQ(call(http::verb::get, "/v1/files/file-x").status, 404u);
  EXPECT_EQ(call(http::verb::delete_, "/v1/files/file-x").status, 404u);
  EXPECT_EQ(call(http::verb::get, "/v1/batches/batch_x").status, 404u);
  EXPECT_EQ(call(http::verb::post, "/v1/batches/batch_x/cancel").status, 404u);
  Reply limit = call(http::verb::get, "/v1/batches?limit=0");
  EXPECT_EQ(limit.status, 400u);
  EXPECT_EQ(error_of(limit)["param"], "limit");
  Reply not_multipart = call(http::verb::post, "/v1/files", "{}");
  EXPECT_EQ(not_multipart.status, 400u);
  EXPECT_NE(error_of(not_multipart)["message"].get<std::string>().find("multipart/form-data"), std::string::npos);
  EXPECT_EQ(error_of(upload("x", "assistants"))["param"], "purpose");
  Reply big = upload(std::string(20000, 'x'));  // over --max-file-mb 0.01 (10485 bytes)
  EXPECT_EQ(big.status, 413u);
  EXPECT_EQ(error_of(big)["code"], "file_too_large");
  Reply unknown_field = post_json("/v1/batches", {{"input_file_id", "f"}, {"endpoint", "/v1/completions"},
                                                  {"completion_window", "24h"}, {"priority", 1}});
  EXPECT_EQ(unknown_field.status, 400u);
  Reply window = post_json("/v1/batches", {{"input_file_id", "f"}, {"endpoint", "/v1/completions"},
                                           {"completion_window", "1h"}});
  EXPECT_EQ(error_of(window)["param"], "completion_window");
  Reply missing = post_json("/v1/batches", {{"input_file_id", "file-none"}, {"endpoint", "/v1/completions"},
                                            {"completion_window", "24h"}});
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(call(http::verb::put, "/v1/batches").status, 405u);
}

// A batch left in_progress by a previous server, one line done, its window over: the restarted
// server expires it, keeping the finished line and listing the other as batch_expired.
TEST_F(BatchApiTest, AResumedBatchPastItsWindowExpires) {
  {
    auto store = SqliteBatchStore::open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    BatchRecord b;
    b.id = "batch_old";
    b.endpoint = "/v1/completions";
    b.input_file_id = "file-gone";
    b.created_at = 1000;
    b.expires_at = 1000 + 86400;  // long past
    ASSERT_TRUE((*store)->add_batch(b).ok());
    const std::string body = R"({"prompt":"hi","max_tokens":2})";
    ASSERT_TRUE(*(*store)->start_lines("batch_old", {{1, "done", body}, {2, "late", body}}, 1001));
    ASSERT_TRUE(*(*store)->commit_line("batch_old", {1, false, R"({"custom_id":"done"})"}));
  }
  start_with(dir_.string());
  const json b = batch_when("batch_old", "expired");
  ASSERT_EQ(b["status"], "expired");
  EXPECT_TRUE(b["expired_at"].is_number());
  EXPECT_EQ(b["request_counts"], json({{"total", 2}, {"completed", 1}, {"failed", 1}}));
  EXPECT_TRUE(engine_->submitted().empty());  // nothing ran: the finished line is kept, the other expired
  EXPECT_EQ(call(http::verb::get, "/v1/files/" + b["output_file_id"].get<std::string>() + "/content").body,
            "{\"custom_id\":\"done\"}\n");
  json err = json::parse(call(http::verb::get, "/v1/files/" + b["error_file_id"].get<std::string>() + "/content").body);
  EXPECT_EQ(err["custom_id"], "late");
  EXPECT_EQ(err["error"]["code"], "batch_expired");
  EXPECT_TRUE(err["response"].is_null());
}

TEST_F(BatchApiTest, AnUnwritableDataDirIsA503NamingIt) {
  start_with("/proc/ladle-batch-api-test");
  for (Reply r : {upload("{}"), call(http::verb::get, "/v1/batches"), call(http::verb::get, "/v1/files")}) {
    EXPECT_EQ(r.status, 503u) << r.body;
    EXPECT_EQ(error_of(r)["code"], "storage_unavailable");
    EXPECT_NE(error_of(r)["message"].get<std::string>().find("/proc/ladle-batch-api-test"), std::string::npos);
  }
}

// A line's commit (SQLite, fsyncs) runs on the runner's own thread: while one is held, a stream
// on the server's only I/O thread still gets every token. Then the batch completes, counted once.
TEST_F(BatchApiTest, AStreamDoesNotWaitForALinesCommit) {
  start_latched();
  Reply file = upload(json{{"custom_id", "r0"}, {"method", "POST"}, {"url", "/v1/completions"},
                           {"body", {{"prompt", "hi"}, {"max_tokens", 4}}}}.dump() + "\n");
  ASSERT_EQ(file.status, 200u) << file.body;
  commits_.arm();
  Reply created = post_json("/v1/batches", {{"input_file_id", json::parse(file.body)["id"]},
                                            {"endpoint", "/v1/completions"}, {"completion_window", "24h"}});
  ASSERT_EQ(created.status, 200u) << created.body;
  ASSERT_TRUE(commits_.wait_held(std::chrono::seconds(20))) << "the line was never committed";
  expect_a_stream_while_held(commits_);
  const std::string id = json::parse(created.body)["id"];
  const json b = batch_when(id, "completed");
  ASSERT_EQ(b["status"], "completed");
  EXPECT_EQ(b["request_counts"], json({{"total", 1}, {"completed", 1}, {"failed", 0}}));
}

// The Batches API's own store calls run off the I/O thread too: a GET held in the store does
// not hold up a stream.
TEST_F(BatchApiTest, AStreamDoesNotWaitForABatchApiRequest) {
  start_latched();
  reads_.arm();
  auto get = std::async(std::launch::async, [&] { return call(http::verb::get, "/v1/batches/batch_x"); });
  ASSERT_TRUE(reads_.wait_held(std::chrono::seconds(20))) << "the GET never reached the store";
  expect_a_stream_while_held(reads_);
  Reply r = get.get();
  EXPECT_EQ(r.status, 404u) << r.body;
}

}  // namespace
}  // namespace ladle::server::test
