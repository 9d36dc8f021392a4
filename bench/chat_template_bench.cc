// What a Jinja chat template costs per request: rendering a 20-message conversation (10 user and
// 10 assistant turns of ~300 bytes each, no system message, as every shipped template accepts it)
// with each template of LADLE_VOCAB_DIR/templates, and loading (parse + probe render) each one.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/jinja/jinja_chat_template.h"

namespace {

using ladle::jinja::ChatTurn;
using ladle::jinja::JinjaChatTemplate;

const char* const kTemplates[] = {"Qwen-Qwen2.5-7B-Instruct", "google-gemma-2-2b-it",
                                  "meta-llama-Llama-3.2-3B-Instruct", "microsoft-Phi-3.5-mini-instruct",
                                  "mistralai-Mistral-Nemo-Instruct-2407"};

std::string read_template(int i) {
  std::ifstream in(std::string(LADLE_VOCAB_DIR) + "/templates/" + kTemplates[i] + ".jinja", std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<ChatTurn> conversation() {
  std::vector<ChatTurn> turns;
  for (int i = 0; i < 20; ++i) {
    std::string text = "Turn " + std::to_string(i) + ": ";
    while (text.size() < 300) text += "some words of a message, 一些文字 🙂 ";
    turns.push_back({i % 2 == 0 ? "user" : "assistant", text});
  }
  return turns;
}

void BM_Render20Turns(benchmark::State& state) {
  const int i = static_cast<int>(state.range(0));
  state.SetLabel(kTemplates[i]);
  auto t = JinjaChatTemplate::load(read_template(i), "<s>", "</s>");
  if (!t) {
    state.SkipWithError(t.error().message.c_str());
    return;
  }
  const auto turns = conversation();
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto out = t->render(turns, true);
    bytes = out->size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["prompt_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render20Turns)->DenseRange(0, 4)->Unit(benchmark::kMicrosecond);

void BM_Load(benchmark::State& state) {
  const int i = static_cast<int>(state.range(0));
  state.SetLabel(kTemplates[i]);
  const std::string source = read_template(i);
  for (auto _ : state) benchmark::DoNotOptimize(JinjaChatTemplate::load(source, "<s>", "</s>"));
}
BENCHMARK(BM_Load)->DenseRange(0, 4)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
