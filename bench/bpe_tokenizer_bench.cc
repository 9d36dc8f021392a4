// Byte-level BPE tokenization speed: encode() of two 100 KB texts with the Llama 3 (llama-bpe),
// Qwen 2 and GPT-2 vocabularies of LADLE_VOCAB_DIR, and the load of each vocabulary from its GGUF
// file. Texts (102,400 bytes, cut at a character boundary): "prose" is README.md then
// BENCHMARKS.md, repeated (English prose, tables, numbers, code); "vectors" is llama.cpp's test
// strings (ggml-vocab-llama-bpe.gguf.inp, many scripts and emoji), repeated.
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

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `seed` repeated to 102,400 bytes, then cut back to a whole UTF-8 character.
std::string text_100k(const std::string& seed) {
  if (seed.empty()) throw std::runtime_error("bpe_tokenizer_bench: empty source text");
  std::string s;
  while (s.size() < 102400) s += seed;
  s.resize(102400);
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
  return s;
}

const std::string& text(int kind) {
  static const std::string prose =
      text_100k(read(std::string(LADLE_SOURCE_DIR) + "/README.md") + read(std::string(LADLE_SOURCE_DIR) + "/BENCHMARKS.md"));
  static const std::string vectors = text_100k(read(std::string(LADLE_VOCAB_DIR) + "/ggml-vocab-llama-bpe.gguf.inp"));
  return kind == 0 ? prose : vectors;
}

void BM_Encode100KB(benchmark::State& state) {
  const BpeTokenizer& tok = tokenizer(int(state.range(0)));
  const std::string& t = text(int(state.range(1)));
  state.SetLabel(std::string(kVocabs[state.range(0)]) + (state.range(1) == 0 ? " prose" : " vectors"));
  std::size_t n = 0;
  for (auto _ : state) {
    auto ids = tok.encode(t, /*add_special=*/true, /*parse_special=*/true);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens"] = double(n);
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(t.size()));
}
BENCHMARK(BM_Encode100KB)->ArgsProduct({{0, 1, 2}, {0, 1}})->Unit(benchmark::kMillisecond);

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
