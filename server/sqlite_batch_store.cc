#include "server/sqlite_batch_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "server/sqlite_statement.h"

namespace ladle::server {
namespace {

using sqlite::sql_error;
using sqlite::Stmt;
using sqlite::Transaction;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS files(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, filename TEXT NOT NULL, purpose TEXT NOT NULL,
  bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batches(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, endpoint TEXT NOT NULL, input_file_id TEXT NOT NULL,
  completion_window TEXT NOT NULL, status TEXT NOT NULL, metadata TEXT NOT NULL, errors TEXT NOT NULL,
  output_file_id TEXT, error_file_id TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  in_progress_at INTEGER, finalizing_at INTEGER, completed_at INTEGER, failed_at INTEGER, expired_at INTEGER,
  cancelling_at INTEGER, cancelled_at INTEGER,
  total INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS batch_lines(
  batch_id TEXT NOT NULL, line INTEGER NOT NULL, custom_id TEXT NOT NULL, body TEXT NOT NULL,
  failed INTEGER, result TEXT, PRIMARY KEY(batch_id, line)) WITHOUT ROWID;
)sql";

constexpr const char* kBatchColumns =
    "id, endpoint, input_file_id, completion_window, status, metadata, errors, output_file_id, error_file_id, "
    "created_at, expires_at, in_progress_at, finalizing_at, completed_at, failed_at, expired_at, cancelling_at, "
    "cancelled_at, total, completed, failed";

BatchRecord batch_of(const Stmt& s) {
  BatchRecord b;
  b.id = s.str(0);
  b.endpoint = s.str(1);
  b.input_file_id = s.str(2);
  b.completion_window = s.str(3);
  b.status = batch_status_from(s.str(4)).value_or(BatchStatus::kFailed);
  b.metadata_json = s.str(5);
  b.errors_json = s.str(6);
  b.output_file_id = s.opt_str(7);
  b.error_file_id = s.opt_str(8);
  b.created_at = s.num(9);
  b.expires_at = s.num(10);
  b.in_progress_at = s.opt_num(11);
  b.finalizing_at = s.opt_num(12);
  b.completed_at = s.opt_num(13);
  b.failed_at = s.opt_num(14);
  b.expired_at = s.opt_num(15);
  b.cancelling_at = s.opt_num(16);
  b.cancelled_at = s.opt_num(17);
  b.total = static_cast<int>(s.num(18));
  b.completed = static_cast<int>(s.num(19));
  b.failed = static_cast<int>(s.num(20));
  return b;
}

StoredFile file_of(const Stmt& s) {
  return StoredFile{s.str(0), s.str(1), s.str(2), s.num(3), s.num(4)};
}

}  // namespace

Expected<std::unique_ptr<SqliteBatchStore>> SqliteBatchStore::open(const std::string& dir, Options options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "the data dir " + dir + " cannot be created: " + ec.message());
  const std::string lock_path = dir + "/lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return make_error(ErrorCode::kUnavailable, "the data dir " + dir + " cannot be written: " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return make_error(ErrorCode::kUnavailable, "the data dir " + dir + " is in use by another ladle serve");
  }
  sqlite3* db = nullptr;
  const std::string path = dir + "/batches.sqlite3";
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteBatchStore> store(new SqliteBatchStore(db, fd, dir));
  if (rc != SQLITE_OK) return sql_error(db, rc, "open " + path);
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"})
    if (Status s = store->exec(pragma); !s.ok()) return s.error();
  if (options.max_pages > 0)
    if (Status s = store->exec(("PRAGMA max_page_count=" + std::to_string(options.max_pages)).c_str()); !s.ok())
      return s.error();
  if (Status s = store->exec(kSchema); !s.ok()) return s.error();
  return store;
}

SqliteBatchStore::~SqliteBatchStore() {
  sqlite3_close_v2(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status SqliteBatchStore::exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return sql_error(db_, rc, sql);
  return Ok{};
}

Status SqliteBatchStore::add_file(const StoredFile& meta, std::string_view content) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT INTO files(id, filename, purpose, bytes, created_at, content) VALUES(?,?,?,?,?,?)");
  s.text(1, meta.id).text(2, meta.filename).text(3, meta.purpose).integer(4, static_cast<std::int64_t>(content.size()));
  s.integer(5, meta.created_at).blob(6, content);
  return s.run("store the file");
}

Expected<std::optional<StoredFile>> SqliteBatchStore::file(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT id, filename, purpose, bytes, created_at FROM files WHERE id = ?");
  const int rc = s.text(1, id).step();
  if (rc == SQLITE_ROW) return std::optional(file_of(s));
  if (rc != SQLITE_DONE) return s.error("read the file");
  return std::optional<StoredFile>();
}

Expected<std::optional<std::string>> SqliteBatchStore::file_content(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT content FROM files WHERE id = ?");
  const int rc = s.text(1, id).step();
  if (rc == SQLITE_ROW) return std::optional(s.str(0));
  if (rc != SQLITE_DONE) return s.error("read the file");
  return std::optional<std::string>();
}

Expected<std::vector<StoredFile>> SqliteBatchStore::list_files(const ListQuery& q) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id, filename, purpose, bytes, created_at FROM files WHERE (?1 = '' OR purpose = ?1) AND "
         "(?2 = '' OR seq < (SELECT seq FROM files WHERE id = ?2)) ORDER BY seq DESC LIMIT ?3");
  s.text(1, q.purpose).text(2, q.after).integer(3, q.limit + 1);
  std::vector<StoredFile> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(file_of(s));
  if (rc != SQLITE_DONE) return s.error("list the files");
  return out;
}

Expected<bool> SqliteBatchStore::delete_file(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM files WHERE id = ?");
  if (Status st = s.text(1, id).run("delete the file"); !st.ok()) return st.error();
  return sqlite3_changes(db_) > 0;
}

Status SqliteBatchStore::add_batch(const BatchRecord& b) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO batches(id, endpoint, input_file_id, completion_window, status, metadata, errors, created_at, "
         "expires_at) VALUES(?,?,?,?,?,?,?,?,?)");
  s.text(1, b.id).text(2, b.endpoint).text(3, b.input_file_id).text(4, b.completion_window);
  s.text(5, batch_status_name(b.status)).text(6, b.metadata_json).text(7, b.errors_json);
  s.integer(8, b.created_at).integer(9, b.expires_at);
  return s.run("store the batch");
}

Expected<std::optional<BatchRecord>> SqliteBatchStore::batch(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kBatchColumns + " FROM batches WHERE id = ?").c_str());
  const int rc = s.text(1, id).step();
  if (rc == SQLITE_ROW) return std::optional(batch_of(s));
  if (rc != SQLITE_DONE) return s.error("read the batch");
  return std::optional<BatchRecord>();
}

Expected<std::vector<BatchRecord>> SqliteBatchStore::list_batches(const ListQuery& q) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kBatchColumns +
               " FROM batches WHERE (?1 = '' OR seq < (SELECT seq FROM batches WHERE id = ?1)) ORDER BY seq DESC "
               "LIMIT ?2").c_str());
  s.text(1, q.after).integer(2, q.limit + 1);
  std::vector<BatchRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(batch_of(s));
  if (rc != SQLITE_DONE) return s.error("list the batches");
  return out;
}

Expected<bool> SqliteBatchStore::transition(const std::string& id, const char* set, const char* where,
                                            std::int64_t now, const std::string& text) {
  Stmt s(db_, (std::string("UPDATE batches SET ") + set + " WHERE id = ?1 AND " + where).c_str());
  s.text(1, id).integer(2, now).text(3, text);
  if (Status st = s.run("change the batch's status"); !st.ok()) return st.error();
  return sqlite3_changes(db_) > 0;
}

Expected<std::optional<BatchStatus>> SqliteBatchStore::status_locked(const std::string& id) {
  Stmt s(db_, "SELECT status FROM batches WHERE id = ?");
  const int rc = s.text(1, id).step();
  if (rc == SQLITE_ROW) return batch_status_from(s.str(0));
  if (rc != SQLITE_DONE) return s.error("read the batch");
  return std::optional<BatchStatus>();
}

Expected<bool> SqliteBatchStore::fail_batch(const std::string& id, const std::string& errors_json, std::int64_t now) {
  std::lock_guard lock(mu_);
  return transition(id, "status = 'failed', failed_at = ?2, errors = ?3", "status = 'validating'", now, errors_json);
}

Expected<bool> SqliteBatchStore::cancel_batch(const std::string& id, std::int64_t now) {
  std::lock_guard lock(mu_);
  return transition(id, "status = 'cancelling', cancelling_at = ?2", "status IN ('validating', 'in_progress')", now);
}

Expected<bool> SqliteBatchStore::begin_finalizing(const std::string& id, std::int64_t now) {
  std::lock_guard lock(mu_);
  return transition(id, "status = 'finalizing', finalizing_at = ?2", "status = 'in_progress'", now);
}

Expected<std::vector<BatchRecord>> SqliteBatchStore::unfinished_batches() {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kBatchColumns +
               " FROM batches WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling') ORDER BY seq")
                  .c_str());
  std::vector<BatchRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(batch_of(s));
  if (rc != SQLITE_DONE) return s.error("list the unfinished batches");
  return out;
}

Expected<std::vector<int>> SqliteBatchStore::count_by_status() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT status, count(*) FROM batches GROUP BY status");
  std::vector<int> out(kNumBatchStatuses, 0);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    if (auto status = batch_status_from(s.str(0))) out[static_cast<int>(*status)] = static_cast<int>(s.num(1));
  if (rc != SQLITE_DONE) return s.error("count the batches");
  return out;
}

Expected<bool> SqliteBatchStore::start_lines(const std::string& batch_id, const std::vector<BatchLineInput>& lines,
                                             std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  if (Status s = t.begun(); !s.ok()) return s.error();
  auto status = status_locked(batch_id);
  if (!status) return status.error();
  if (*status != BatchStatus::kValidating && *status != BatchStatus::kCancelling) return false;
  if (Status s = Stmt(db_, "DELETE FROM batch_lines WHERE batch_id = ?").text(1, batch_id).run("reset the lines");
      !s.ok())
    return s.error();
  Stmt insert(db_, "INSERT INTO batch_lines(batch_id, line, custom_id, body) VALUES(?,?,?,?)");
  for (const auto& l : lines) {
    insert.text(1, batch_id).integer(2, l.line).text(3, l.custom_id).text(4, l.body);
    if (Status s = insert.run("store a line"); !s.ok()) return s.error();
  }
  Stmt update(db_, *status == BatchStatus::kValidating
                       ? "UPDATE batches SET status='in_progress', in_progress_at=?2, total=?3, completed=0, failed=0 "
                         "WHERE id=?1"
                       : "UPDATE batches SET total=?3, completed=0, failed=0 WHERE id=?1");
  update.text(1, batch_id).integer(2, now).integer(3, static_cast<std::int64_t>(lines.size()));
  if (Status s = update.run("start the batch"); !s.ok()) return s.error();
  if (Status s = t.commit(); !s.ok()) return s.error();
  return true;
}

Expected<std::vector<int>> SqliteBatchStore::pending_lines(const std::string& batch_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT line FROM batch_lines WHERE batch_id = ? AND result IS NULL ORDER BY line");
  s.text(1, batch_id);
  std::vector<int> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(static_cast<int>(s.num(0)));
  if (rc != SQLITE_DONE) return s.error("list the pending lines");
  return out;
}

Expected<BatchLineInput> SqliteBatchStore::line(const std::string& batch_id, int line) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT custom_id, body FROM batch_lines WHERE batch_id = ? AND line = ?");
  const int rc = s.text(1, batch_id).integer(2, line).step();
  if (rc == SQLITE_ROW) return BatchLineInput{line, s.str(0), s.str(1)};
  if (rc != SQLITE_DONE) return s.error("read a line");
  return make_error(ErrorCode::kNotFound, "batch " + batch_id + " has no line " + std::to_string(line));
}

Expected<bool> SqliteBatchStore::commit_line(const std::string& batch_id, const LineResult& r) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  if (Status s = t.begun(); !s.ok()) return s.error();
  Stmt set(db_, "UPDATE batch_lines SET failed=?3, result=?4 WHERE batch_id=?1 AND line=?2 AND result IS NULL");
  set.text(1, batch_id).integer(2, r.line).integer(3, r.failed ? 1 : 0).text(4, r.json);
  if (Status s = set.run("store a line's result"); !s.ok()) return s.error();
  if (sqlite3_changes(db_) == 0) return false;
  Stmt count(db_, r.failed ? "UPDATE batches SET failed = failed + 1 WHERE id = ?"
                           : "UPDATE batches SET completed = completed + 1 WHERE id = ?");
  if (Status s = count.text(1, batch_id).run("count a line"); !s.ok()) return s.error();
  if (Status s = t.commit(); !s.ok()) return s.error();
  return true;
}

Expected<bool> SqliteBatchStore::finalize(const std::string& batch_id, BatchStatus status, std::int64_t now,
                                          const std::string& output_id, const std::string& error_id,
                                          const std::function<std::string(int, const std::string&)>& pending_result) {
  std::lock_guard lock(mu_);
  Transaction t(db_);
  if (Status s = t.begun(); !s.ok()) return s.error();
  auto from = status_locked(batch_id);
  if (!from) return from.error();
  const bool allowed = *from && ((status == BatchStatus::kCompleted && *from == BatchStatus::kFinalizing) ||
                                 (status == BatchStatus::kCancelled && *from == BatchStatus::kCancelling) ||
                                 (status == BatchStatus::kExpired &&
                                  (*from == BatchStatus::kInProgress || *from == BatchStatus::kFinalizing)));
  if (!allowed) return false;
  std::string output, errors;
  int completed = 0, failed = 0;
  {
    Stmt lines(db_, "SELECT line, custom_id, failed, result FROM batch_lines WHERE batch_id = ? ORDER BY line");
    lines.text(1, batch_id);
    Stmt set(db_, "UPDATE batch_lines SET failed=1, result=?3 WHERE batch_id=?1 AND line=?2");
    int rc;
    while ((rc = lines.step()) == SQLITE_ROW) {
      std::string result;
      bool line_failed = true;
      if (lines.null(3)) {
        result = pending_result(static_cast<int>(lines.num(0)), lines.str(1));
        set.text(1, batch_id).integer(2, lines.num(0)).text(3, result);
        if (Status s = set.run("store a cancelled line"); !s.ok()) return s.error();
      } else {
        result = lines.str(3);
        line_failed = lines.num(2) != 0;
      }
      (line_failed ? errors : output) += result + "\n";
      ++(line_failed ? failed : completed);
    }
    if (rc != SQLITE_DONE) return lines.error("read the lines");
  }
  auto add = [&](const std::string& id, const std::string& name, const std::string& content) {
    Stmt s(db_, "INSERT INTO files(id, filename, purpose, bytes, created_at, content) VALUES(?,?,'batch_output',?,?,?)");
    s.text(1, id).text(2, name).integer(3, static_cast<std::int64_t>(content.size())).integer(4, now).blob(5, content);
    return s.run("store a result file");
  };
  std::optional<std::string> output_file, error_file;
  if (!output.empty()) {
    if (Status s = add(output_id, batch_id + "_output.jsonl", output); !s.ok()) return s.error();
    output_file = output_id;
  }
  if (!errors.empty()) {
    if (Status s = add(error_id, batch_id + "_error.jsonl", errors); !s.ok()) return s.error();
    error_file = error_id;
  }
  const char* at = status == BatchStatus::kCancelled ? "cancelled_at"
                   : status == BatchStatus::kExpired ? "expired_at"
                                                     : "completed_at";
  Stmt update(db_, (std::string("UPDATE batches SET status=?2, output_file_id=?3, error_file_id=?4, completed=?5, "
                                "failed=?6, ") + at + "=?7 WHERE id=?1").c_str());
  update.text(1, batch_id).text(2, batch_status_name(status)).opt(3, output_file).opt(4, error_file);
  update.integer(5, completed).integer(6, failed).integer(7, now);
  if (Status s = update.run("finish the batch"); !s.ok()) return s.error();
  if (Status s = t.commit(); !s.ok()) return s.error();
  return true;
}

}  // namespace ladle::server
