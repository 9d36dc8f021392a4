// BatchStore: where the Files and Batches APIs keep everything that must survive a restart — the
// uploaded files (bytes and metadata), the batches (status, timestamps, counts, errors, metadata,
// file ids) and each batch line's input and result. SqliteBatchStore (sqlite_batch_store.h) is
// the embedded default under --data-dir; the interface is the seam where a server database can
// replace it for several replicas sharing their batches.
//
// Contract: every mutating call is one transaction (all of it or none of it is stored), so a
// crash between two calls leaves a consistent store. commit_line() is the unit of durability: a
// line counts as done (request_counts) only once its result is committed, and a committed line is
// never run again. Failures are values: kUnavailable (the data dir cannot be opened or written:
// read-only, full disk), kNotFound (unknown id), kInternal (anything else).
//
// Threads: every method may be called from any thread (implementations serialise).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::server {

struct StoredFile {
  std::string id;          // "file-…"
  std::string filename;
  std::string purpose;     // "batch" (uploads), "batch_output" (results)
  std::int64_t bytes = 0;
  std::int64_t created_at = 0;  // unix seconds
};

// A batch's life (OpenAI's statuses).
enum class BatchStatus { kValidating, kFailed, kInProgress, kFinalizing, kCompleted, kExpired, kCancelling, kCancelled };
inline constexpr int kNumBatchStatuses = 8;
std::string_view batch_status_name(BatchStatus status);
std::optional<BatchStatus> batch_status_from(std::string_view name);
// completed, failed, expired and cancelled: nothing changes any more.
bool batch_status_final(BatchStatus status);

struct BatchRecord {
  std::string id;  // "batch_…"
  std::string endpoint;
  std::string input_file_id;
  std::string completion_window = "24h";
  BatchStatus status = BatchStatus::kValidating;
  std::string metadata_json = "null";  // the client's metadata object, as JSON text
  std::string errors_json = "null";    // {"object":"list","data":[...]} once validation failed
  std::optional<std::string> output_file_id, error_file_id;
  std::int64_t created_at = 0, expires_at = 0;
  std::optional<std::int64_t> in_progress_at, finalizing_at, completed_at, failed_at, expired_at, cancelling_at,
      cancelled_at;
  int total = 0, completed = 0, failed = 0;  // request_counts
};

// One input line of a batch, as validation accepted it.
struct BatchLineInput {
  int line = 0;  // 1-based line number in the input file
  std::string custom_id;
  std::string body;  // the request body (JSON text)
};

// A finished line: the whole line of the output file (or of the error file when `failed`).
struct LineResult {
  int line = 0;
  bool failed = false;
  std::string json;
};

// Where a listing starts: after the item with this id (newest first), at most `limit` items.
struct ListQuery {
  std::string after;  // empty: from the newest
  int limit = 20;
  std::string purpose;  // files only: "" for any
};

class BatchStore {
 public:
  virtual ~BatchStore() = default;

  // Files. add_file stores `content` under `meta.id` (meta.bytes is set from it).
  virtual Status add_file(const StoredFile& meta, std::string_view content) = 0;
  virtual Expected<std::optional<StoredFile>> file(const std::string& id) = 0;
  virtual Expected<std::optional<std::string>> file_content(const std::string& id) = 0;
  // Newest first; up to query.limit + 1 items, so that the caller can tell has_more.
  virtual Expected<std::vector<StoredFile>> list_files(const ListQuery& query) = 0;
  // False when unknown.
  virtual Expected<bool> delete_file(const std::string& id) = 0;

  // Batches. Status changes are conditional on the current status, so that a cancel arriving from
  // an HTTP thread and the runner's own steps never overwrite each other: each returns false (and
  // changes nothing) when the batch is not in the status it starts from.
  virtual Status add_batch(const BatchRecord& batch) = 0;
  virtual Expected<std::optional<BatchRecord>> batch(const std::string& id) = 0;
  virtual Expected<std::vector<BatchRecord>> list_batches(const ListQuery& query) = 0;
  // validating → failed at `now`, with `errors_json` ({"object":"list","data":[...]}).
  virtual Expected<bool> fail_batch(const std::string& id, const std::string& errors_json, std::int64_t now) = 0;
  // validating or in_progress → cancelling at `now`.
  virtual Expected<bool> cancel_batch(const std::string& id, std::int64_t now) = 0;
  // in_progress → finalizing at `now`.
  virtual Expected<bool> begin_finalizing(const std::string& id, std::int64_t now) = 0;
  // Batches not in a final status, oldest first (what a restarted server resumes).
  virtual Expected<std::vector<BatchRecord>> unfinished_batches() = 0;
  // How many batches are in each status (indexed by BatchStatus).
  virtual Expected<std::vector<int>> count_by_status() = 0;

  // Validation passed: stores the lines (replacing any from an interrupted validation) and sets
  // total, in one transaction, moving a validating batch to in_progress at `now`. A batch
  // cancelled while it was validating keeps its status (its lines are stored so that finalize
  // lists them); false when the batch is in neither status.
  virtual Expected<bool> start_lines(const std::string& batch_id, const std::vector<BatchLineInput>& lines,
                             std::int64_t now) = 0;
  // Line numbers without a committed result, in order.
  virtual Expected<std::vector<int>> pending_lines(const std::string& batch_id) = 0;
  virtual Expected<BatchLineInput> line(const std::string& batch_id, int line) = 0;
  // Stores a line's result and counts it (completed or failed), in one transaction; false (and
  // nothing changed) when the line already had one.
  virtual Expected<bool> commit_line(const std::string& batch_id, const LineResult& result) = 0;
  // The end of a batch, in one transaction: every line still pending gets `pending_result(line,
  // custom_id)` as a failed result (the error file's line); the output file (the completed lines' results in line order)
  // and the error file (the failed ones) are stored when not empty and their ids set; the batch
  // takes `status` at `now`: completed (from finalizing), cancelled (from cancelling) or expired
  // (from in_progress or finalizing). Nothing changes when the batch is not in such a status. `output_id`/`error_id` are the
  // ids to give the two files.
  virtual Expected<bool> finalize(const std::string& batch_id, BatchStatus status, std::int64_t now,
                          const std::string& output_id, const std::string& error_id,
                          const std::function<std::string(int line, const std::string& custom_id)>& pending_result) = 0;
};

}  // namespace ladle::server
