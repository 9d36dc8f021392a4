#include "kvcache/kv_store.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace ladle::kvcache {

Expected<KvDtype> parse_kv_dtype(std::string_view name) {
  if (name == "f32") return KvDtype::kF32;
  if (name == "f16") return KvDtype::kF16;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown KV cache type '" + std::string(name) + "' (expected f32 or f16)");
}

const char* kv_dtype_name(KvDtype dtype) { return dtype == KvDtype::kF16 ? "f16" : "f32"; }

KvStore::KvStore(KvShape shape, int num_blocks) : shape_(shape), num_blocks_(num_blocks) {
  assert(shape.n_layers > 0 && shape.kv_dim > 0 && shape.block_size > 0 && num_blocks >= 0);
  const std::size_t bytes = std::size_t(num_blocks) * bytes_per_block(shape);
  // Cache-line aligned so that K/V rows of 8-value multiples never straddle lines needlessly
  // (aligned_alloc wants a whole number of lines, and at least one for an empty arena); zeroed so
  // that a block never written reads as zeros rather than garbage.
  void* p = std::aligned_alloc(64, std::max<std::size_t>(64, (bytes + 63) / 64 * 64));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_.reset(p);
}

std::size_t KvStore::bytes_per_block(const KvShape& shape) {
  return std::size_t(shape.n_layers) * 2 * shape.block_size * shape.kv_dim * kv_dtype_bytes(shape.dtype);
}

int KvStore::blocks_for_budget(const KvShape& shape, std::size_t budget_bytes) {
  return int(budget_bytes / bytes_per_block(shape));
}

}  // namespace ladle::kvcache
