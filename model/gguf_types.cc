// The tables behind gguf_types.h, from ggml.c's type_traits and ggml-common.h's block structs.
#include "model/gguf_types.h"

#include <array>

namespace ladle::model {
namespace {

constexpr std::uint32_t kQK = 256;  // QK_K: elements per K-quant super-block

struct Entry {
  GgmlType type;
  GgmlTypeTraits traits;
};

// Block sizes are sizeof(block_*) of ggml-common.h (llama.cpp de3ff81, node-llama-cpp 3.22.1).
constexpr std::array kTypes = {
    Entry{GgmlType::kF32, {"f32", 1, 4}},         Entry{GgmlType::kF16, {"f16", 1, 2}},
    Entry{GgmlType::kQ4_0, {"q4_0", 32, 18}},     Entry{GgmlType::kQ4_1, {"q4_1", 32, 20}},
    Entry{GgmlType::kQ5_0, {"q5_0", 32, 22}},     Entry{GgmlType::kQ5_1, {"q5_1", 32, 24}},
    Entry{GgmlType::kQ8_0, {"q8_0", 32, 34}},     Entry{GgmlType::kQ8_1, {"q8_1", 32, 36}},
    Entry{GgmlType::kQ2_K, {"q2_K", kQK, 84}},    Entry{GgmlType::kQ3_K, {"q3_K", kQK, 110}},
    Entry{GgmlType::kQ4_K, {"q4_K", kQK, 144}},   Entry{GgmlType::kQ5_K, {"q5_K", kQK, 176}},
    Entry{GgmlType::kQ6_K, {"q6_K", kQK, 210}},   Entry{GgmlType::kQ8_K, {"q8_K", kQK, 292}},
    Entry{GgmlType::kIQ2_XXS, {"iq2_xxs", kQK, 66}}, Entry{GgmlType::kIQ2_XS, {"iq2_xs", kQK, 74}},
    Entry{GgmlType::kIQ3_XXS, {"iq3_xxs", kQK, 98}}, Entry{GgmlType::kIQ1_S, {"iq1_s", kQK, 50}},
    Entry{GgmlType::kIQ4_NL, {"iq4_nl", 32, 18}}, Entry{GgmlType::kIQ3_S, {"iq3_s", kQK, 110}},
    Entry{GgmlType::kIQ2_S, {"iq2_s", kQK, 82}},  Entry{GgmlType::kIQ4_XS, {"iq4_xs", kQK, 136}},
    Entry{GgmlType::kI8, {"i8", 1, 1}},           Entry{GgmlType::kI16, {"i16", 1, 2}},
    Entry{GgmlType::kI32, {"i32", 1, 4}},         Entry{GgmlType::kI64, {"i64", 1, 8}},
    Entry{GgmlType::kF64, {"f64", 1, 8}},         Entry{GgmlType::kIQ1_M, {"iq1_m", kQK, 56}},
    Entry{GgmlType::kBF16, {"bf16", 1, 2}},       Entry{GgmlType::kTQ1_0, {"tq1_0", kQK, 54}},
    Entry{GgmlType::kTQ2_0, {"tq2_0", kQK, 66}},  Entry{GgmlType::kMXFP4, {"mxfp4", 32, 17}},
    Entry{GgmlType::kNVFP4, {"nvfp4", 64, 36}},   Entry{GgmlType::kQ1_0, {"q1_0", 128, 18}},
    Entry{GgmlType::kQ2_0, {"q2_0", 64, 18}},
};

constexpr std::array<const char*, 13> kValueNames = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                     "bool", "string", "array", "u64", "i64", "f64"};
constexpr std::array<std::size_t, 13> kValueSizes = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

}  // namespace

std::optional<GgmlTypeTraits> ggml_type_traits(std::uint32_t type) {
  for (const Entry& e : kTypes)
    if (std::uint32_t(e.type) == type) return e.traits;
  return std::nullopt;
}

std::string ggml_type_name(std::uint32_t type) {
  if (auto t = ggml_type_traits(type)) return t->name;
  return "type " + std::to_string(type);
}

std::size_t gguf_value_size(std::uint32_t type) { return type < kValueSizes.size() ? kValueSizes[type] : 0; }

std::string gguf_value_type_name(std::uint32_t type) {
  if (type < kValueNames.size()) return kValueNames[type];
  return "type " + std::to_string(type);
}

}  // namespace ladle::model
