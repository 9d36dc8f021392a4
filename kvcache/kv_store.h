// KvStore: the paged K/V arena. Owns the K/V values, knows nothing of who uses which block.
//
// Layout: for each layer, for each block, a [block_size × kv_dim] tile of keys followed by a
// [block_size × kv_dim] tile of values (kv_dim = n_kv_heads × head_dim), so that one block of one
// layer is a contiguous 2 × block_size × kv_dim values and a block's K rows are contiguous.
// Values are fp32, or IEEE half (binary16 bit patterns) with KvDtype::kF16: half the bytes per
// token, so twice the tokens in the same budget and half the bytes decode attention streams.
// Block bookkeeping (ref counts, free list, prefix cache) lives in BlockPool, never here.
// Thread-safety: none; the engine thread is the only user.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "kvcache/expected.h"
#include "kvcache/ids.h"

namespace ladle::kvcache {

enum class KvDtype { kF32, kF16 };

// "f32" or "f16"; anything else is kInvalidArgument with a message listing the accepted names.
Expected<KvDtype> parse_kv_dtype(std::string_view name);
const char* kv_dtype_name(KvDtype dtype);
inline std::size_t kv_dtype_bytes(KvDtype dtype) { return dtype == KvDtype::kF16 ? 2 : 4; }

struct KvShape {
  int n_layers = 0;
  int kv_dim = 0;      // values per token per layer for K (and again for V)
  int block_size = 16; // tokens per block
  KvDtype dtype = KvDtype::kF32;
};

class KvStore {
 public:
  // An arena of exactly num_blocks blocks (may be 0 for tests that only need the shape), zeroed.
  KvStore(KvShape shape, int num_blocks);

  // How many blocks fit in `budget_bytes`.
  static int blocks_for_budget(const KvShape& shape, std::size_t budget_bytes);
  // Bytes of one block across all layers (K and V).
  static std::size_t bytes_per_block(const KvShape& shape);

  const KvShape& shape() const { return shape_; }
  KvDtype dtype() const { return shape_.dtype; }
  int num_blocks() const { return num_blocks_; }
  int block_size() const { return shape_.block_size; }

  // Base of block `b`'s key tile in `layer`: [block_size × kv_dim], row = slot in block. T is
  // float for a kF32 store and std::uint16_t (half bit patterns) for kF16.
  template <class T = float>
  T* key_block(int layer, BlockId b) {
    assert(sizeof(T) == kv_dtype_bytes(shape_.dtype));
    return reinterpret_cast<T*>(data_.get()) + offset(layer, b);
  }
  template <class T = float>
  const T* key_block(int layer, BlockId b) const {
    assert(sizeof(T) == kv_dtype_bytes(shape_.dtype));
    return reinterpret_cast<const T*>(data_.get()) + offset(layer, b);
  }
  // Base of block `b`'s value tile in `layer`: [block_size × kv_dim].
  template <class T = float>
  T* value_block(int layer, BlockId b) { return key_block<T>(layer, b) + tile_values(); }
  template <class T = float>
  const T* value_block(int layer, BlockId b) const { return key_block<T>(layer, b) + tile_values(); }

 private:
  std::size_t tile_values() const { return std::size_t(shape_.block_size) * shape_.kv_dim; }
  std::size_t offset(int layer, BlockId b) const {
    return (std::size_t(layer) * num_blocks_ + std::size_t(b)) * 2 * tile_values();
  }

  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  KvShape shape_;
  int num_blocks_;
  std::unique_ptr<void, Free> data_;  // [n_layers][num_blocks][2][block_size][kv_dim], 64-byte aligned
};

}  // namespace ladle::kvcache
