// sqlite_batch_store.h: files and batches round-trip, listing order and cursors, conditional status
// changes, exactly-once line results, finalize's files, durability across a reopen, the data dir's
// lock, and a full or unwritable data dir as kUnavailable errors.
#include "server/sqlite_batch_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace ladle::server {
namespace {

namespace fs = std::filesystem;

class SqliteBatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ladle-store-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<SqliteBatchStore> open(SqliteBatchStore::Options options = {}) {
    auto s = SqliteBatchStore::open(dir_.string() + "/data", options);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }
  static BatchRecord batch(std::string id) {
    BatchRecord b;
    b.id = std::move(id);
    b.endpoint = "/v1/completions";
    b.input_file_id = "file-1";
    b.created_at = 100;
    b.expires_at = 100 + 86400;
    b.metadata_json = R"({"k":"v"})";
    return b;
  }
  static std::vector<BatchLineInput> lines(int n) {
    std::vector<BatchLineInput> out;
    for (int i = 1; i <= n; ++i) out.push_back({i, "c" + std::to_string(i), R"({"prompt":"x"})"});
    return out;
  }
  fs::path dir_;
};

TEST_F(SqliteBatchStoreTest, FilesRoundTripAndListNewestFirstWithCursor) {
  auto store = open();
  ASSERT_TRUE(store);
  const std::string binary("a\0b\xff", 4);
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(store->add_file({"file-" + std::to_string(i), "f.jsonl", i == 3 ? "batch_output" : "batch", 0, 10 + i},
                                i == 2 ? binary : "x").ok());
  auto f = store->file("file-2");
  ASSERT_TRUE(f.ok() && *f);
  EXPECT_EQ((*f)->bytes, 4);
  EXPECT_EQ((*f)->created_at, 12);
  EXPECT_EQ(**store->file_content("file-2"), binary);
  auto all = store->list_files({"", 2, ""});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);  // limit + 1: the caller's has_more
  EXPECT_EQ((*all)[0].id, "file-3");
  auto after = store->list_files({"file-3", 5, "batch"});
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].id, "file-2");
  EXPECT_EQ((*after)[1].id, "file-1");
  EXPECT_TRUE(*store->delete_file("file-2"));
  EXPECT_FALSE(*store->delete_file("file-2"));
  EXPECT_FALSE(*store->file("file-2"));
  EXPECT_FALSE(*store->file_content("file-2"));
}

TEST_F(SqliteBatchStoreTest, StatusChangesAreConditional) {
  auto store = open();
  ASSERT_TRUE(store->add_batch(batch("b1")).ok());
  EXPECT_FALSE(*store->begin_finalizing("b1", 101));  // validating, not in_progress
  EXPECT_TRUE(*store->start_lines("b1", lines(3), 102));
  auto b = **store->batch("b1");
  EXPECT_EQ(b.status, BatchStatus::kInProgress);
  EXPECT_EQ(b.in_progress_at, 102);
  EXPECT_EQ(b.total, 3);
  EXPECT_EQ(b.metadata_json, R"({"k":"v"})");
  EXPECT_FALSE(*store->fail_batch("b1", "{}", 103));  // only from validating
  EXPECT_TRUE(*store->cancel_batch("b1", 104));
  EXPECT_FALSE(*store->cancel_batch("b1", 105));     // already cancelling
  EXPECT_FALSE(*store->begin_finalizing("b1", 106));
  EXPECT_EQ((**store->batch("b1")).cancelling_at, 104);
  EXPECT_FALSE(*store->finalize("b1", BatchStatus::kCompleted, 107, "o", "e", {}));  // cancelling → cancelled only
  ASSERT_TRUE(store->add_batch(batch("b2")).ok());
  EXPECT_TRUE(*store->fail_batch("b2", R"({"object":"list","data":[]})", 108));
  b = **store->batch("b2");
  EXPECT_EQ(b.status, BatchStatus::kFailed);
  EXPECT_EQ(b.failed_at, 108);
  EXPECT_FALSE(*store->cancel_batch("b2", 109));
  auto counts = *store->count_by_status();
  EXPECT_EQ(counts[static_cast<int>(BatchStatus::kCancelling)], 1);
  EXPECT_EQ(counts[static_cast<int>(BatchStatus::kFailed)], 1);
  EXPECT_FALSE(*store->batch("nope"));
}

TEST_F(SqliteBatchStoreTest, EachLineCountsOnceAndFinalizeListsEveryLineOnce) {
  auto store = open();
  ASSERT_TRUE(store->add_batch(batch("b")).ok());
  ASSERT_TRUE(*store->start_lines("b", lines(4), 1));
  EXPECT_TRUE(*store->commit_line("b", {2, false, R"({"line":2})"}));
  EXPECT_FALSE(*store->commit_line("b", {2, true, R"({"again":2})"}));  // never twice
  EXPECT_TRUE(*store->commit_line("b", {3, true, R"({"line":3})"}));
  EXPECT_EQ(*store->pending_lines("b"), (std::vector<int>{1, 4}));
  EXPECT_EQ(store->line("b", 4)->custom_id, "c4");
  EXPECT_FALSE(store->line("b", 9).ok());
  auto b = **store->batch("b");
  EXPECT_EQ(b.completed, 1);
  EXPECT_EQ(b.failed, 1);
  ASSERT_TRUE(*store->cancel_batch("b", 5));
  ASSERT_TRUE(*store->finalize("b", BatchStatus::kCancelled, 6, "file-out", "file-err",
                               [](int line, const std::string& id) { return "{\"cancelled\":\"" + id + "\"}"; }));
  b = **store->batch("b");
  EXPECT_EQ(b.status, BatchStatus::kCancelled);
  EXPECT_EQ(b.cancelled_at, 6);
  EXPECT_EQ(b.completed, 1);
  EXPECT_EQ(b.failed, 3);
  EXPECT_EQ(b.output_file_id, "file-out");
  EXPECT_EQ(b.error_file_id, "file-err");
  EXPECT_EQ(**store->file_content("file-out"), "{\"line\":2}\n");
  EXPECT_EQ(**store->file_content("file-err"), "{\"cancelled\":\"c1\"}\n{\"line\":3}\n{\"cancelled\":\"c4\"}\n");
  EXPECT_EQ((**store->file("file-out")).purpose, "batch_output");
  EXPECT_TRUE(store->pending_lines("b")->empty());
  EXPECT_FALSE(*store->finalize("b", BatchStatus::kCancelled, 7, "x", "y", {}));  // once
}

TEST_F(SqliteBatchStoreTest, CommittedStateSurvivesReopenAndTheDirIsLocked) {
  {
    auto store = open();
    ASSERT_TRUE(store->add_batch(batch("b")).ok());
    ASSERT_TRUE(*store->start_lines("b", lines(2), 1));
    ASSERT_TRUE(*store->commit_line("b", {1, false, "{}"}));
    auto second = SqliteBatchStore::open(dir_.string() + "/data");
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(second.error().message.find("in use"), std::string::npos);
  }
  auto store = open();
  auto unfinished = *store->unfinished_batches();
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].completed, 1);
  EXPECT_EQ(*store->pending_lines("b"), (std::vector<int>{2}));
}

TEST_F(SqliteBatchStoreTest, AFullDataDirIsUnavailableAndKeepsWhatWasCommitted) {
  auto store = open({.max_pages = 64});  // 256 KiB
  ASSERT_TRUE(store->add_file({"file-small", "s", "batch", 0, 1}, "small").ok());
  Status s = store->add_file({"file-big", "b", "batch", 0, 1}, std::string(1 << 20, 'x'));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("full"), std::string::npos) << s.error().message;
  EXPECT_FALSE(*store->file("file-big"));
  EXPECT_EQ(**store->file_content("file-small"), "small");
}

TEST_F(SqliteBatchStoreTest, AnUnwritableDataDirIsUnavailable) {
  // /proc is not writable, for root too.
  auto s = SqliteBatchStore::open("/proc/ladle-data-test");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("/proc/ladle-data-test"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace ladle::server
