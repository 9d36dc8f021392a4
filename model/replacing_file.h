// ReplacingFile: writes a file as "<path>.partial-<pid>-<n>" and renames it over `path` only once it is
// complete. Used by every file ladle writes (checkpoints, tokenizers, GGUF exports).
//
// NOTE(model): why not write in place. `ladle serve` maps its checkpoint (the embedding table is
// read from the mapping), and truncating a mapped file makes every later access to the truncated
// pages raise SIGBUS: rewriting the checkpoint a running server uses (`ladle make-model --out` on
// the same path, or the benchmarks regenerating their models) killed the server with "Bus error".
// A rename leaves the old inode, and so every existing mapping of it, intact; readers that open the
// path later see either the old file or the complete new one, never half of it; and a failed write
// leaves no file that looks complete. Each writer has its own temporary name (process id and a
// per-process count), so writers of one path at once (test processes making the same synthetic
// model) each write a whole file and the last rename wins; with one shared name, one writer's
// rename took the file the other was still writing, and the other's rename failed.
//
// One object per file being written; not shared between threads.
#pragma once

#include <cstdio>
#include <string>

#include "kvcache/expected.h"

namespace ladle::model {

class ReplacingFile {
 public:
  // Creates "<path>.partial-<pid>-<n>" for writing; opened() says whether that worked.
  explicit ReplacingFile(std::string path);
  ~ReplacingFile();  // removes the temporary file unless commit() succeeded
  ReplacingFile(const ReplacingFile&) = delete;
  ReplacingFile& operator=(const ReplacingFile&) = delete;

  // Ok, or "cannot create <path>.partial-<pid>-<n>: <reason>".
  Status opened() const;
  std::FILE* get() const { return file_; }
  const std::string& temp_path() const { return temp_; }

  // Flushes and closes the temporary file, then renames it to the target path. On failure the
  // temporary file is removed, the target is left as it was, and the error names the step.
  Status commit();

 private:
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  int open_errno_ = 0;
  bool committed_ = false;
};

}  // namespace ladle::model
