// ggml_matmul_bench: the matmuls of one decode step of a GGUF model (every layer's seven matrices
// and the classifier, in forward order) with `--weights native` (the file's Q4_K / Q6_K numbers in
// panels, model/matmul_ggml.h) beside `--weights q8` (the same file packed into q8 panels),
// timed alternately in one process so that a shared machine's noise hits both alike.
//
// usage: ggml_matmul_bench --model FILE.gguf [--ms 1,8,32] [--threads 2] [--rounds 3] [--min-time 1]
//                          [--native-only] [--isa avx2]
// Prints, per M and weights type, the passes over all matrices per second (for M = 1 the bound a
// decode step's matmuls put on one stream's tok/s; rows/s = M × that) in every round, the best,
// and the weight bytes one pass reads.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "model/gguf_config.h"
#include "model/gguf_file.h"
#include "model/gguf_weights.h"
#include "model/isa.h"
#include "model/matmul.h"
#include "model/thread_pool.h"
#include "model/weights.h"
#include "tests/testing/random_values.h"

using namespace ladle;

namespace {

std::unique_ptr<model::Weights> load(const std::string& path, model::WeightType type) {
  auto file = model::GgufFile::open(path);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.error().message.c_str());
    return nullptr;
  }
  auto shared = std::make_shared<const model::GgufFile>(std::move(*file));
  auto config = model::llama_config_from_gguf(*shared);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().message.c_str());
    return nullptr;
  }
  auto w = model::llama_weights_from_gguf(shared, *config);
  if (!w) {
    std::fprintf(stderr, "%s\n", w.error().message.c_str());
    return nullptr;
  }
  if (auto st = w->convert(type); !st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return nullptr;
  }
  return std::make_unique<model::Weights>(std::move(*w));
}

// Every matmul matrix of a step, in forward order.
std::vector<const model::PackedMatrix*> matrices(const model::Weights& w) {
  std::vector<const model::PackedMatrix*> out;
  for (int l = 0; l < w.config().n_layers; ++l) {
    const model::LayerWeights& lw = w.layer(l);
    for (const model::Matrix* m : {&lw.wq, &lw.wk, &lw.wv, &lw.wo, &lw.w1, &lw.w3, &lw.w2}) out.push_back(&m->packed);
  }
  out.push_back(&w.classifier().packed);
  return out;
}

// The process's CPU seconds (every thread, user and system).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Rate {
  double per_s;      // passes per second of wall time
  double per_cpu_s;  // passes per CPU second of the process (less sensitive to other load)
};

// Passes over `ms` for at least `min_time` seconds.
Rate passes_per_s(const std::vector<const model::PackedMatrix*>& ms, const std::vector<float>& x,
                  std::vector<float>& y, int M, model::ThreadPool& pool, double min_time) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const double cpu0 = cpu_seconds();
  int passes = 0;
  double elapsed = 0;
  do {
    for (const model::PackedMatrix* m : ms) model::matmul(x.data(), *m, y.data(), M, &pool);
    ++passes;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < min_time);
  return {passes / elapsed, passes / (cpu_seconds() - cpu0)};
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, ms_list = "1,8,32";
  int threads = 2, rounds = 3;
  double min_time = 1.0;
  bool only_native = false;
  std::string isa;
  FlagSet flags("ggml_matmul_bench --model FILE.gguf [options]",
                "The matmuls of one decode step, --weights native beside q8, timed alternately.");
  flags.add("--model", &path, "a GGUF file (e.g. the Llama-3.2-1B-shaped Q4_K_M of bench/gguf_vs_llama_server.sh)");
  flags.add("--ms", &ms_list, "rows of x per matmul, comma-separated");
  flags.add("--threads", &threads, "compute threads");
  flags.add("--rounds", &rounds, "alternated rounds");
  flags.add("--min-time", &min_time, "seconds per measurement");
  flags.add("--native-only", &only_native, "time --weights native alone (no q8 panels packed)");
  flags.add("--isa", &isa, "ISA level of the kernels: portable, avx2 or avx512 (default: the best this CPU has)");
  if (auto code = bench::parse_flags(flags, argc, argv)) return *code;
  if (!isa.empty()) {
    auto levels = bench::parse_isa_list(isa);
    if (!levels || levels->size() != 1) {
      std::fprintf(stderr, "--isa: one of portable, avx2, avx512 this CPU has\n");
      return 2;
    }
    if (auto st = model::set_active_isa(levels->front()); !st) {
      std::fprintf(stderr, "%s\n", st.error().message.c_str());
      return 2;
    }
  }
  std::printf("kernels: %s\n", model::isa_name(model::active_isa()));
  if (path.empty()) {
    std::fprintf(stderr, "--model is required\n");
    return 2;
  }
  const model::WeightType types[] = {model::WeightType::kNative, model::WeightType::kQ8};
  std::unique_ptr<model::Weights> weights[2];
  for (int t = 0; t < 2; ++t) {
    if (only_native && t == 1) break;
    const auto start = std::chrono::steady_clock::now();
    weights[t] = load(path, types[t]);
    if (!weights[t]) return 1;
    std::printf("%s: loaded and converted in %.2f s, %.1f MB read per pass (native %.1f MB: the file's K-quant numbers in panels)\n",
                model::weight_type_name(types[t]),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                (weights[t]->packed_bytes() + weights[t]->native_bytes()) / 1e6, weights[t]->native_bytes() / 1e6);
  }
  const model::ModelConfig& c = weights[0]->config();
  const int widest = std::max({c.dim, c.hidden_dim, c.vocab_size});
  model::ThreadPool pool(threads);
  for (const std::string& item : bench::split_commas(ms_list)) {
    const int M = std::stoi(item);
    const auto x = testing::random_vec(std::size_t(M) * std::max(c.dim, c.hidden_dim), 1);
    std::vector<float> y(std::size_t(M) * widest);
    std::vector<double> got[2], per_cpu[2];
    for (int r = 0; r < rounds; ++r)
      for (int t = 0; t < (only_native ? 1 : 2); ++t) {
        const Rate rate = passes_per_s(matrices(*weights[t]), x, y, M, pool, min_time);
        got[t].push_back(rate.per_s);
        per_cpu[t].push_back(rate.per_cpu_s);
      }
    for (int t = 0; t < (only_native ? 1 : 2); ++t) {
      std::printf("M=%-3d %-6s passes/s:", M, model::weight_type_name(types[t]));
      for (double v : got[t]) std::printf(" %.2f", v);
      std::printf("  best %.2f (rows/s %.1f); per CPU-second:", bench::best_of(got[t]), M * bench::best_of(got[t]));
      for (double v : per_cpu[t]) std::printf(" %.2f", v);
      std::printf("\n");
    }
    if (!only_native)
      std::printf("M=%-3d native/q8 best: %.2fx wall, %.2fx per CPU-second\n", M,
                  bench::best_of(got[0]) / bench::best_of(got[1]), bench::best_of(per_cpu[0]) / bench::best_of(per_cpu[1]));
  }
  return 0;
}
