#include "model/replacing_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace ladle::model {

namespace {
std::string temporary_name(const std::string& path) {
  static std::atomic<unsigned> count{0};
  return path + ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(count++);
}
}  // namespace

ReplacingFile::ReplacingFile(std::string path) : path_(std::move(path)), temp_(temporary_name(path_)) {
  file_ = std::fopen(temp_.c_str(), "wb");
  if (file_ == nullptr) open_errno_ = errno;
}

ReplacingFile::~ReplacingFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(temp_.c_str());
}

Status ReplacingFile::opened() const {
  if (file_ != nullptr || committed_) return Ok{};
  return make_error(ErrorCode::kInvalidArgument, "cannot create " + temp_ + ": " + std::strerror(open_errno_));
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
