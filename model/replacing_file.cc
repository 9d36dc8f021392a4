#include "model/replacing_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace ladle::model {

namespace {
std::atomic<unsigned> g_counter{0};  // distinct temporary names for writers in one process
}  // namespace

ReplacingFile::ReplacingFile(std::string path)
    : path_(std::move(path)),
      temp_(path_ + ".partial." + std::to_string(::getpid()) + "." + std::to_string(g_counter++)) {
  file_ = std::fopen(temp_.c_str(), "wb");
}

ReplacingFile::~ReplacingFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(temp_.c_str());
}

Status ReplacingFile::commit() {
  if (file_ == nullptr) return make_error(ErrorCode::kInternal, "cannot write " + path_ + ": the file is not open");
  const bool flushed = std::fflush(file_) == 0;
  const int flush_err = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed)
    return make_error(ErrorCode::kInternal, "write failed: " + temp_ + ": " + std::strerror(flushed ? errno : flush_err));
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    return make_error(ErrorCode::kInternal, "cannot rename " + temp_ + " to " + path_ + ": " + std::strerror(errno));
  committed_ = true;
  return Ok{};
}

}  // namespace ladle::model
