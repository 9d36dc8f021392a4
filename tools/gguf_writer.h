// GgufWriter: writes one GGUF v3 file (llama.cpp's model format) front to back, so that a model of
// any size streams to disk without being held in memory.
//
// The file is: "GGUF", u32 version 3, u64 tensor count, u64 metadata count; the metadata as
// (string key, u32 value type, value) triples; one info per tensor (string name, u32 n_dims, u64
// ne[n_dims] with ne[0] the innermost, contiguous dimension, u32 ggml type, u64 offset into the
// data section); zero padding up to the alignment; then the tensor data, each tensor starting at a
// multiple of the alignment. Everything is little-endian; strings are a u64 byte count and the
// bytes, without a terminator. The writer adds "general.alignment" itself, since it owns the value.
//
// Use: add_*() every key and tensor, then open(), then write() the tensors' bytes in declaration
// order (in chunks of any size), then finish(). The file is written as "<path>.partial" and
// renamed to `path` only by a successful finish(), so a failed export never leaves a file that
// looks complete (nor clobbers an existing one). Not thread-safe: one thread drives one writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"
#include "model/gguf_file.h"
#include "model/gguf_types.h"
#include "model/replacing_file.h"

namespace ladle::tools {

// ggml's tensor type ids and GGUF's value type ids, shared with the reader. A tensor of any type
// takes its bytes as given (a quantized one in ggml's block layout).
using model::GgmlType;
using model::GgufValueType;

class GgufWriter {
 public:
  static constexpr std::uint32_t kVersion = 3;
  // llama.cpp's default; also the value it expects when the key is present.
  static constexpr std::uint32_t kAlignment = 32;

  GgufWriter() = default;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  // An unfinished writer closes and removes its ".partial" file.
  ~GgufWriter();

  // Metadata, written in the order added. A key added twice makes open() fail (llama.cpp refuses
  // files with duplicate keys); adding after open() makes finish() fail.
  void add_u32(std::string_view key, std::uint32_t value);
  void add_f32(std::string_view key, float value);
  void add_bool(std::string_view key, bool value);
  void add_string(std::string_view key, std::string_view value);
  void add_strings(std::string_view key, std::span<const std::string> values);
  void add_f32s(std::string_view key, std::span<const float> values);
  void add_i32s(std::string_view key, std::span<const std::int32_t> values);
  // A value as another file holds it (model/gguf_file.h), copied type for type: scalars and
  // arrays of any element type, so that keys pass from one GGUF to another unchanged.
  void add_value(std::string_view key, const model::GgufValue& value);

  // Declares the next tensor: `ne` in ggml order (ne[0] innermost; a row-major [rows × cols]
  // matrix is {cols, rows}), 1 to 4 positive dimensions. Its data offset is the padded end of the
  // previous tensor's. A repeated name or a bad shape makes open() fail (finish(), after open()).
  void add_tensor(std::string_view name, std::vector<std::int64_t> ne, GgmlType type);

  // Creates "<path>.partial" and writes everything up to the data section. Fails (nothing
  // written) on an earlier add_*() mistake or when the file cannot be created. Call it once.
  Status open(const std::string& path);

  // Appends tensor data: the bytes of the declared tensors back to back, in declaration order,
  // split into calls however the caller likes; the padding between tensors is the writer's.
  // Fails on bytes beyond the last tensor or on an I/O error.
  Status write(std::span<const std::byte> bytes);

  // Checks that every tensor got all its bytes, flushes, closes, and renames the file to `path`.
  Status finish();

  // Bytes of a tensor's data as declared (without padding).
  std::uint64_t tensor_bytes(std::size_t index) const;
  // Bytes written to the file so far (after finish(): its size).
  std::uint64_t bytes_written() const { return position_; }

 private:
  struct TensorInfo {
    std::string name;
    std::vector<std::int64_t> ne;
    GgmlType type;
    std::uint64_t offset;  // from the start of the data section
  };
  // Appends a key and its value type to metadata_ (the value follows), noting duplicates.
  void begin_kv(std::string_view key, GgufValueType type);
  void begin_array(std::string_view key, GgufValueType element_type, std::size_t count);
  Status put(const void* data, std::size_t bytes);
  Status pad_to_alignment();
  Status fail(std::string message);

  std::string metadata_;            // the serialized key/value pairs (small: the vocabulary at most)
  std::set<std::string, std::less<>> keys_;  // every key added (a duplicate fails open())
  std::vector<TensorInfo> tensors_;
  std::uint64_t data_bytes_ = 0;    // the data section's size, padding included
  std::string setup_error_;         // the first add_*() mistake, reported by open()

  bool opened_ = false;             // open() was called (successful or not): no more add_*()
  std::unique_ptr<model::ReplacingFile> file_;  // "<path>.partial", renamed into place by finish()
  std::string path_;
  std::uint64_t position_ = 0;      // bytes written to the file so far
  std::size_t current_ = 0;         // the tensor write() is filling
  std::uint64_t current_written_ = 0;
  bool finished_ = false;
};

}  // namespace ladle::tools
