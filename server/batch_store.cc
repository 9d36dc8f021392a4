#include "server/batch_store.h"

#include <array>

namespace ladle::server {
namespace {
constexpr std::array<std::string_view, kNumBatchStatuses> kNames = {
    "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"};
}  // namespace

std::string_view batch_status_name(BatchStatus status) { return kNames[static_cast<int>(status)]; }

std::optional<BatchStatus> batch_status_from(std::string_view name) {
  for (int i = 0; i < kNumBatchStatuses; ++i)
    if (kNames[i] == name) return static_cast<BatchStatus>(i);
  return std::nullopt;
}

bool batch_status_final(BatchStatus status) {
  return status == BatchStatus::kCompleted || status == BatchStatus::kFailed || status == BatchStatus::kExpired ||
         status == BatchStatus::kCancelled;
}

}  // namespace ladle::server
