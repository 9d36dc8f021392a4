// KvStore: the paged K/V arena. Owns the floats, knows nothing of who uses which block.
//
// Layout: for each layer, for each block, a [block_size × kv_dim] tile of keys followed by a
// [block_size × kv_dim] tile of values (kv_dim = n_kv_heads × head_dim), so that one block of one
// layer is a contiguous 2 × block_size × kv_dim floats and a block's K rows are contiguous.
// Block bookkeeping (ref counts, free list, prefix cache) lives in BlockPool, never here.
// Thread-safety: none; the engine thread is the only user.
#pragma once

#include <cstddef>
#include <memory>

#include "kvcache/ids.h"

namespace ladle::kvcache {

struct KvShape {
  int n_layers = 0;
  int kv_dim = 0;      // floats per token per layer for K (and again for V)
  int block_size = 16; // tokens per block
};

class KvStore {
 public:
  // An arena of exactly num_blocks blocks (may be 0 for tests that only need the shape).
  KvStore(KvShape shape, int num_blocks);

  // How many blocks fit in `budget_bytes`.
  static int blocks_for_budget(const KvShape& shape, std::size_t budget_bytes);
  // Bytes of one block across all layers (K and V).
  static std::size_t bytes_per_block(const KvShape& shape);

  const KvShape& shape() const { return shape_; }
  int num_blocks() const { return num_blocks_; }
  int block_size() const { return shape_.block_size; }

  // Base of block `b`'s key tile in `layer`: [block_size × kv_dim], row = slot in block.
  float* key_block(int layer, BlockId b) { return data_.get() + offset(layer, b); }
  const float* key_block(int layer, BlockId b) const { return data_.get() + offset(layer, b); }
  // Base of block `b`'s value tile in `layer`: [block_size × kv_dim].
  float* value_block(int layer, BlockId b) { return key_block(layer, b) + tile_floats(); }
  const float* value_block(int layer, BlockId b) const { return key_block(layer, b) + tile_floats(); }

 private:
  std::size_t tile_floats() const { return std::size_t(shape_.block_size) * shape_.kv_dim; }
  std::size_t offset(int layer, BlockId b) const {
    return (std::size_t(layer) * num_blocks_ + std::size_t(b)) * 2 * tile_floats();
  }

  KvShape shape_;
  int num_blocks_;
  std::unique_ptr<float[]> data_;  // [n_layers][num_blocks][2][block_size][kv_dim]
};

}  // namespace ladle::kvcache
