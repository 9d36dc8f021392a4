// SQLite in RAII form for the batch store: a prepared statement (bind by index, read columns,
// run-and-reset) and a BEGIN IMMEDIATE transaction rolled back unless committed, plus the mapping
// of SQLite's result codes to ladle's errors (a full disk or an unwritable file is kUnavailable:
// the data dir's problem, not a bug).
//
// Threads: a statement belongs to its connection's thread (the store serialises).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kvcache/expected.h"

namespace ladle::server::sqlite {

// Full disk, read-only or vanished files: the data dir's problem, reported as unavailable.
inline Error sql_error(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (primary == SQLITE_FULL) return make_error(ErrorCode::kUnavailable, "the data dir is full (" + message + ")");
  if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR || primary == SQLITE_PERM ||
      primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return make_error(ErrorCode::kUnavailable, "the data dir cannot be written (" + message + ")");
  return make_error(ErrorCode::kInternal, "batch store: " + message);
}

// One prepared statement; bind() numbers from 1, columns from 0.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& text(int i, std::string_view v) {
    if (s_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& blob(int i, std::string_view v) {
    if (s_) sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& integer(int i, std::int64_t v) {
    if (s_) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& opt(int i, const std::optional<std::int64_t>& v) {
    if (s_) v ? sqlite3_bind_int64(s_, i, *v) : sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& opt(int i, const std::optional<std::string>& v) {
    if (!v) {
      if (s_) sqlite3_bind_null(s_, i);
      return *this;
    }
    return text(i, *v);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    if (!s_) return rc_;
    return rc_ = sqlite3_step(s_);
  }
  // step() to the end of a statement that returns no rows.
  // Resets the statement, so that it can be bound and run again.
  Status run(std::string_view what) {
    const int rc = step();
    if (s_) sqlite3_reset(s_);
    if (rc != SQLITE_DONE) return sql_error(db_, rc, what);
    return Ok{};
  }
  Error error(std::string_view what) const { return sql_error(db_, rc_, what); }
  bool row() const { return rc_ == SQLITE_ROW; }

  std::string str(int c) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }
  std::int64_t num(int c) const { return sqlite3_column_int64(s_, c); }
  bool null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::optional<std::int64_t> opt_num(int c) const { return null(c) ? std::nullopt : std::optional(num(c)); }
  std::optional<std::string> opt_str(int c) const { return null(c) ? std::nullopt : std::optional(str(c)); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

// BEGIN IMMEDIATE … COMMIT, rolled back unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { rc_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr); }
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status begun() {
    if (rc_ != SQLITE_OK) return sql_error(db_, rc_, "begin");
    open_ = true;
    return Ok{};
  }
  Status commit() {
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sql_error(db_, rc, "commit");
    open_ = false;
    return Ok{};
  }

 private:
  sqlite3* db_;
  int rc_;
  bool open_ = false;
};

}  // namespace ladle::server::sqlite
