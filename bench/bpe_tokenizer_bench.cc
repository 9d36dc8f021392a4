// Byte-level BPE tokenization speed: encode() of a 100 KB text (the first 102,400 bytes of
// BENCHMARKS.md: English prose, tables and numbers) with the Llama 3 (llama-bpe), Qwen 2 and GPT-2
// vocabularies of LADLE_VOCAB_DIR, and the load of each vocabulary from its GGUF file.
// Goal (issue 24): well under a second for 100 KB. Reported per text: time, and bytes/s.
#include <benchmark/benchmark.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "model/bpe_tokenizer.h"
#include "model/gguf_file.h"

namespace {

using ladle::model::BpeTokenizer;
using ladle::model::GgufFile;

const char* const kVocabs[] = {"llama-bpe", "qwen2", "gpt-2"};

std::string vocab_path(int i) { return std::string(LADLE_VOCAB_DIR) + "/ggml-vocab-" + kVocabs[i] + ".gguf"; }

const BpeTokenizer& tokenizer(int i) {
  static std::map<int, std::unique_ptr<BpeTokenizer>> loaded;
  auto& slot = loaded[i];
  if (!slot) {
    auto file = GgufFile::open(vocab_path(i));
    auto tok = file ? BpeTokenizer::from_gguf(*file) : ladle::Expected<BpeTokenizer>(file.error());
    if (!tok) throw std::runtime_error(tok.error().message);
    slot = std::make_unique<BpeTokenizer>(std::move(*tok));
  }
  return *slot;
}

const std::string& text_100k() {
  static const std::string text = [] {
    std::ifstream in(std::string(LADLE_SOURCE_DIR) + "/BENCHMARKS.md", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str().substr(0, 102400);
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();  // whole characters
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
    return s;
  }();
  return text;
}

void BM_Encode100KB(benchmark::State& state) {
  const BpeTokenizer& tok = tokenizer(int(state.range(0)));
  const std::string& text = text_100k();
  state.SetLabel(kVocabs[state.range(0)]);
  std::size_t n = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens"] = double(n);
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(text.size()));
}
BENCHMARK(BM_Encode100KB)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);

void BM_LoadVocabulary(benchmark::State& state) {
  state.SetLabel(kVocabs[state.range(0)]);
  for (auto _ : state) {
    auto file = GgufFile::open(vocab_path(int(state.range(0))));
    auto tok = BpeTokenizer::from_gguf(*file);
    benchmark::DoNotOptimize(tok.ok());
  }
}
BENCHMARK(BM_LoadVocabulary)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
