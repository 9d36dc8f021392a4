// Fuzz target: the GGUF parser (model/gguf_file.h) and what reads its result: the llama
// hyperparameters (gguf_config.h), the sentencepiece tokenizer (gguf_tokenizer.h) and the tensor
// checks and widening of gguf_weights.h, on arbitrary bytes.
//
// Checks: no crash, hang or sanitizer report; a file that parses has every tensor's bytes inside
// the input, at data_offset() + offset, of the size its type and shape imply, with the data
// section aligned; every metadata value's accessors stay in bounds; a refusal has a message
// naming the file. Seeds: tiny llama GGUFs written by `ladle export-gguf` (F16 tied, F32 untied).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/gguf_config.h"
#include "model/gguf_file.h"
#include "model/gguf_tokenizer.h"
#include "model/gguf_weights.h"

using namespace ladle;

namespace {

void check_refusal(const Error& e) {
  if (e.message.rfind("gguf fuzz.gguf: ", 0) != 0) std::abort();
}

void check_file(const model::GgufFile& f, std::span<const std::byte> in) {
  if (f.data_offset() % f.alignment() != 0) std::abort();
  for (const model::GgufKeyValue& kv : f.metadata()) {
    const model::GgufValue& v = kv.value;
    (void)v.type_name();
    (void)v.as_int();
    (void)v.as_float();
    (void)v.as_bool();
    if (v.element_type == std::uint32_t(model::GgufValueType::kString)) {
      if (v.strings.size() != v.count) std::abort();
      if (!v.is_array()) (void)v.as_string();
    } else {
      if (v.fixed.size() != v.count * model::gguf_value_size(v.element_type)) std::abort();
      if (v.count > 0 && !v.number(v.count - 1)) std::abort();
      if (v.number(v.count)) std::abort();
    }
    if (f.find(kv.key) != &v) std::abort();
  }
  for (const model::GgufTensorInfo& t : f.tensors()) {
    const auto traits = model::ggml_type_traits(t.type);
    if (!traits) std::abort();
    if (t.num_elements % traits->block_elements != 0) std::abort();
    if (t.data.size() != t.num_elements / traits->block_elements * traits->block_bytes) std::abort();
    if (!t.data.empty() && (t.data.data() < in.data() || t.data.data() + t.data.size() > in.data() + in.size()))
      std::abort();
    if (!t.data.empty() && t.data.data() != in.data() + f.data_offset() + t.offset) std::abort();
    (void)t.shape();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto file = model::GgufFile::parse(in, "fuzz.gguf");
  if (!file) {
    check_refusal(file.error());
    return 0;
  }
  check_file(*file, in);
  auto shared = std::make_shared<const model::GgufFile>(std::move(*file));
  auto config = model::llama_config_from_gguf(*shared);
  if (!config) {
    check_refusal(config.error());
    return 0;
  }
  if (config->validate().ok() == false) std::abort();
  auto tok = model::tokenizer_from_gguf(*shared, config->vocab_size);
  if (!tok) check_refusal(tok.error());
  else if (tok->vocab_size() != config->vocab_size) std::abort();
  else (void)tok->encode("Once upon a time", true, false);
  auto weights = model::llama_weights_from_gguf(shared, *config);
  if (!weights) {
    check_refusal(weights.error());
    return 0;
  }
  // Every view is readable: the first and last embedding rows, the classifier's last float (or
  // byte, when it stays in Q8_0 / Q4_0 blocks), the final norm.
  const std::size_t n = std::size_t(config->vocab_size) * std::size_t(config->dim);
  std::vector<float> row(std::size_t(config->dim));
  weights->embedding_row(0, row.data());
  float touched = row[0];
  weights->embedding_row(config->vocab_size - 1, row.data());
  touched += row.back();
  const model::Matrix& cls = weights->classifier();
  if (cls.f32 != nullptr) touched += cls.f32[n - 1];
  else touched += float(std::to_integer<int>(cls.ggml.data[0]));
  volatile float sink = touched + weights->rms_final()[config->dim - 1];
  (void)sink;
  return 0;
}
