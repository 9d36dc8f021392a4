// SqliteBatchStore: the BatchStore in one SQLite database, <data-dir>/batches.sqlite3 — the
// embedded default of the Files and Batches APIs. WAL mode with synchronous=FULL: a committed
// transaction survives a kill -9 and a power cut; readers (GET) never wait for the writer.
//
// NOTE(batch): one transaction per finished line is the price of exactly-once. Measured on the
// AMD EPYC Zen 4 2-vCPU machine (loaded: other builds running), stories260K, 1,000-line batches,
// --batch-max-in-flight 16: max_tokens 1 → 318 lines/s (~3 ms per line, commit included);
// max_tokens 64 → 128 lines/s, 8,192 tok/s. Generation, not the store, bounds real batches.
//
// The data dir is created on open and locked (flock on <data-dir>/lock) for the life of the
// store, so a second server pointed at the same folder is refused instead of running the same
// batches twice. The lock dies with the process, kill -9 included.
//
// Ownership: Server owns it. Threads: any; one connection behind one mutex (SQLite calls are
// short: the largest is an upload's single INSERT).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "server/batch_store.h"

struct sqlite3;

namespace ladle::server {

class SqliteBatchStore final : public BatchStore {
 public:
  struct Options {
    // SQLite's max_page_count (pages of 4 KiB) when > 0: a database that may not grow past it
    // fails its writes as a full disk does (SQLITE_FULL); tests use it to fill the "disk".
    int max_pages = 0;
  };

  // Creates `dir` if needed, locks it and opens (or creates) its database. kUnavailable with the
  // reason when the folder cannot be created or written, or another server holds it.
  static Expected<std::unique_ptr<SqliteBatchStore>> open(const std::string& dir, Options options);
  static Expected<std::unique_ptr<SqliteBatchStore>> open(const std::string& dir) { return open(dir, Options{}); }
  ~SqliteBatchStore() override;

  Status add_file(const StoredFile& meta, std::string_view content) override;
  Expected<std::optional<StoredFile>> file(const std::string& id) override;
  Expected<std::optional<std::string>> file_content(const std::string& id) override;
  Expected<std::vector<StoredFile>> list_files(const ListQuery& query) override;
  Expected<bool> delete_file(const std::string& id) override;

  Status add_batch(const BatchRecord& batch) override;
  Expected<std::optional<BatchRecord>> batch(const std::string& id) override;
  Expected<std::vector<BatchRecord>> list_batches(const ListQuery& query) override;
  Expected<bool> fail_batch(const std::string& id, const std::string& errors_json, std::int64_t now) override;
  Expected<bool> cancel_batch(const std::string& id, std::int64_t now) override;
  Expected<bool> begin_finalizing(const std::string& id, std::int64_t now) override;
  Expected<std::vector<BatchRecord>> unfinished_batches() override;
  Expected<std::vector<int>> count_by_status() override;

  Expected<bool> start_lines(const std::string& batch_id, const std::vector<BatchLineInput>& lines,
                             std::int64_t now) override;
  Expected<std::vector<int>> pending_lines(const std::string& batch_id) override;
  Expected<BatchLineInput> line(const std::string& batch_id, int line) override;
  Expected<bool> commit_line(const std::string& batch_id, const LineResult& result) override;
  Expected<bool> finalize(const std::string& batch_id, BatchStatus status, std::int64_t now, const std::string& output_id,
                  const std::string& error_id,
                  const std::function<std::string(int line, const std::string& custom_id)>& pending_result) override;

 private:
  SqliteBatchStore(sqlite3* db, int lock_fd, std::string dir) : db_(db), lock_fd_(lock_fd), dir_(std::move(dir)) {}
  Status exec(const char* sql);
  // UPDATE batches SET `set` WHERE id = ?1 AND `where`, with ?2 bound to `now`: whether it changed.
  Expected<bool> transition(const std::string& id, const char* set, const char* where, std::int64_t now,
                            const std::string& text = "");
  // The status of a batch inside a transaction (nullopt: unknown).
  Expected<std::optional<BatchStatus>> status_locked(const std::string& id);

  std::mutex mu_;
  sqlite3* const db_;  // GUARDED_BY(mu_)
  const int lock_fd_;
  const std::string dir_;
};

}  // namespace ladle::server
