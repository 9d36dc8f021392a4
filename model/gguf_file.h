// GgufFile: one GGUF file (llama.cpp's model format, versions 2 and 3) parsed and bounds-checked:
// its metadata (every value type, arrays included), its tensor infos and where each tensor's bytes
// lie. It interprets nothing: which keys and tensors make a model is gguf_config / gguf_weights /
// gguf_tokenizer's business.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata count; the metadata
// as (string key, u32 value type, value) with strings as u64 length + bytes and arrays as u32
// element type + u64 count + elements; one info per tensor (string name, u32 n_dims, u64
// ne[n_dims] with ne[0] the contiguous dimension, u32 ggml type, u64 offset into the data
// section); zero padding to `general.alignment` (default 32); the data section.
//
// Ownership: open() maps the file and the GgufFile owns the mapping; parse() reads bytes the
// caller keeps alive. Every string_view and span it hands out points into those bytes and lives
// as long as they do (moving the GgufFile keeps them valid). Immutable after construction: any
// thread may read it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"
#include "model/gguf_types.h"
#include "model/mapped_file.h"

namespace ladle::model {

// One metadata value. A scalar is held like an array of one element of its type.
struct GgufValue {
  std::uint32_t type = 0;          // a GgufValueType id (kArray for arrays)
  std::uint32_t element_type = 0;  // the elements' type; == type for a scalar
  std::uint64_t count = 1;         // number of elements
  std::span<const std::byte> fixed;         // fixed-size elements, count × gguf_value_size bytes
  std::vector<std::string_view> strings;    // string elements (element_type kString)

  bool is_array() const { return type == std::uint32_t(GgufValueType::kArray); }
  // The scalar as an integer: any integer type (a bool is not one) whose value fits int64.
  std::optional<std::int64_t> as_int() const;
  // The scalar as a float: f32, f64.
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;
  // Element i of a numeric (or bool) array or scalar as a double; nullopt for strings or i >= count.
  // Exact for every type but 64-bit integers beyond 2^53.
  std::optional<double> number(std::uint64_t i) const;
  // "u32", "array of string", ...
  std::string type_name() const;
};

struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string_view name;
  int n_dims = 0;
  std::array<std::int64_t, 4> ne{1, 1, 1, 1};  // ggml order: ne[0] is the contiguous dimension
  std::uint32_t type = 0;                       // a GgmlType id (known: parse() checks it)
  std::uint64_t offset = 0;                     // from the start of the data section
  std::uint64_t num_elements = 0;
  std::span<const std::byte> data;              // the tensor's bytes, inside the file

  // "[288, 32000]": ne[0..n_dims) as ggml prints it.
  std::string shape() const;
};

class GgufFile {
 public:
  static constexpr std::uint32_t kDefaultAlignment = 32;

  // Maps `path` and parses it. kNotFound for a missing file; kInvalidArgument, with a message
  // naming the file and the problem, for anything parse() refuses.
  static Expected<GgufFile> open(const std::string& path);

  // Parses `bytes` (kept alive by the caller). Refuses, naming the problem and where: a file
  // shorter than what it declares (truncated anywhere), a magic other than "GGUF", a version other
  // than 2 or 3, an empty or duplicate key, an unknown value type, a nested array, a bool other
  // than 0/1, a general.alignment that is not a u32 power of two, a tensor name that is empty,
  // duplicate or longer than ggml's 63 bytes, 0 or more than 4 dimensions, a negative dimension,
  // an element count beyond int64, an unknown ggml type, a row not a whole number of its type's
  // blocks, an offset off the alignment, and tensor data outside the file. Never reads outside
  // `bytes`; counts are checked against the bytes left before anything is allocated for them.
  // `name` starts every message (the path, for open()).
  static Expected<GgufFile> parse(std::span<const std::byte> bytes, const std::string& name);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;

  const std::string& name() const { return name_; }
  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }  // absolute, a multiple of alignment()
  std::uint64_t file_bytes() const { return bytes_.size(); }
  // Whether the bytes are this object's read-only file mapping (open()), whose clean pages the
  // kernel may drop and re-read; false for parse()'s borrowed bytes.
  bool mapped() const { return !map_.bytes().empty(); }

  // Metadata in file order.
  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // Typed lookups whose errors (kInvalidArgument) name the file, the key, and what was wrong:
  // missing, or of the wrong type. get_uint also refuses a negative value or one above `max`.
  Expected<std::uint64_t> get_uint(std::string_view key, std::uint64_t max = UINT32_MAX) const;
  Expected<double> get_float(std::string_view key) const;
  Expected<std::string_view> get_string(std::string_view key) const;
  Expected<bool> get_bool(std::string_view key) const;

  // Tensor infos in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  friend class GgufParser;  // gguf_file.cc: fills a GgufFile section by section
  GgufFile() = default;
  Error error(const std::string& what) const;

  std::string name_;
  MappedFile map_;  // empty for parse()
  std::span<const std::byte> bytes_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = kDefaultAlignment;
  std::uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
};

}  // namespace ladle::model
