// The Files and Batches routes in process over FakeEngine: a batch from upload to output file, the
// errors of each route in OpenAI's shape, the upload limit, and an unwritable data dir as a 503
// naming it.
#include <gtest/gtest.h>

#include <filesystem>

#include "server/sqlite_batch_store.h"
#include "tests/server/fake_server.h"

namespace ladle::server::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class BatchApiTest : public FakeServerTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ladle-batch-api-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
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
  fs::path dir_;
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
  json b;
  ASSERT_TRUE(testing::FakeEngine::wait_for([&] {
    b = json::parse(call(http::verb::get, "/v1/batches/" + id).body);
    return b["status"] == "completed";
  }, std::chrono::seconds(10))) << b.dump();
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
  json b;
  ASSERT_TRUE(testing::FakeEngine::wait_for([&] {
    b = json::parse(call(http::verb::get, "/v1/batches/batch_old").body);
    return b["status"] == "expired";
  }, std::chrono::seconds(10))) << b.dump();
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

}  // namespace
}  // namespace ladle::server::test
