#include "kvcache/kv_store.h"

#include <cassert>

namespace ladle::kvcache {

KvStore::KvStore(KvShape shape, int num_blocks) : shape_(shape), num_blocks_(num_blocks) {
  assert(shape.n_layers > 0 && shape.kv_dim > 0 && shape.block_size > 0 && num_blocks >= 0);
  // Value-initialised: a block never written reads as zeros rather than garbage.
  data_ = std::make_unique<float[]>(std::size_t(shape.n_layers) * num_blocks * 2 * tile_floats());
}

std::size_t KvStore::bytes_per_block(const KvShape& shape) {
  return std::size_t(shape.n_layers) * 2 * shape.block_size * shape.kv_dim * sizeof(float);
}

int KvStore::blocks_for_budget(const KvShape& shape, std::size_t budget_bytes) {
  return int(budget_bytes / bytes_per_block(shape));
}

}  // namespace ladle::kvcache
