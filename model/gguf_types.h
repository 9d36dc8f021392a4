// GGUF's numbering: ggml's tensor types (ggml.h) with their block layouts, and GGUF's metadata
// value types (gguf.h). Shared by the reader (model/gguf_file.h) and the writer
// (tools/gguf_writer.h), so that one table says what each id means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ladle::model {

// ggml_type. Every type llama.cpp can store in a GGUF file is listed, so that a file holding one
// ladle cannot compute with still parses and the loader can name it.
enum class GgmlType : std::uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22,
  kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39, kNVFP4 = 40, kQ1_0 = 41, kQ2_0 = 42,
};

// How a tensor type lays out its elements: `block_elements` consecutive elements of a row are
// stored together in `block_bytes` bytes (1 and the element size for the plain types).
struct GgmlTypeTraits {
  const char* name;            // ggml's spelling: "f32", "q8_0", "q4_K", ...
  std::uint32_t block_elements;
  std::uint32_t block_bytes;
};

// The traits of ggml type id `type`, or nullopt for an id ggml does not define (or has removed,
// such as 4, 5 and 31..33).
std::optional<GgmlTypeTraits> ggml_type_traits(std::uint32_t type);
// "q8_0" for a known id, "type 31" for any other.
std::string ggml_type_name(std::uint32_t type);

// gguf_type: the type of a metadata value.
enum class GgufValueType : std::uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

// Bytes of one value of a fixed-size type (every type but kString and kArray); 0 for those two
// and for an unknown id.
std::size_t gguf_value_size(std::uint32_t type);
// "u32", "string", "array", ...; "type 13" for an unknown id.
std::string gguf_value_type_name(std::uint32_t type);

}  // namespace ladle::model
