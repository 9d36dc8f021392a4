#include "model/checkpoint_writer.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "model/replacing_file.h"

namespace ladle::model {

namespace {

class Writer {
 public:
  Writer(std::FILE* f, std::uint64_t seed) : f_(f), state_(seed) { buf_.reserve(kChunk); }

  // `n` floats uniform in [-scale, scale).
  void uniform(std::size_t n, float scale) {
    for (std::size_t i = 0; i < n; ++i) put(scale * (2.0f * next() - 1.0f));
  }
  void constant(std::size_t n, float v) {
    for (std::size_t i = 0; i < n; ++i) put(v);
  }
  void put(float v) {
    buf_.push_back(v);
    if (buf_.size() == kChunk) flush();
  }
  bool flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), sizeof(float), buf_.size(), f_) != buf_.size()) ok_ = false;
    buf_.clear();
    return ok_;
  }

 private:
  static constexpr std::size_t kChunk = 1 << 16;
  float next() {  // splitmix64 → 24-bit uniform in [0, 1)
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return float((z ^ (z >> 31)) >> 40) / 16777216.0f;
  }

  std::FILE* f_;
  std::uint64_t state_;
  std::vector<float> buf_;
  bool ok_ = true;
};

}  // namespace

Status write_synthetic_checkpoint(const std::string& path, const ModelConfig& cfg, std::uint64_t seed) {
  if (auto st = cfg.validate(); !st.ok()) return st;
  ReplacingFile out(path);  // the old file stays whole (and mapped) until this one is complete
  if (auto st = out.opened(); !st.ok()) return st;
  std::FILE* f = out.get();
  const std::int32_t header[7] = {cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
                                  cfg.shared_classifier ? cfg.vocab_size : -cfg.vocab_size, cfg.seq_len};
  if (std::fwrite(header, sizeof header, 1, f) != 1) return make_error(ErrorCode::kInternal, "write failed: " + path);

  const std::size_t d = cfg.dim, h = cfg.hidden_dim, L = cfg.n_layers, v = cfg.vocab_size, kv = cfg.kv_dim();
  const float in_d = 1.0f / std::sqrt(float(d)), in_h = 1.0f / std::sqrt(float(h));
  Writer w(f, seed);
  w.uniform(v * d, 1.0f);       // token embedding
  w.constant(L * d, 1.0f);      // rms_att
  w.uniform(L * d * d, in_d);   // wq
  w.uniform(L * kv * d, in_d);  // wk
  w.uniform(L * kv * d, in_d);  // wv
  w.uniform(L * d * d, in_d);   // wo
  w.constant(L * d, 1.0f);      // rms_ffn
  w.uniform(L * h * d, in_d);   // w1
  w.uniform(L * d * h, in_h);   // w2
  w.uniform(L * h * d, in_d);   // w3
  w.constant(d, 1.0f);          // rms_final
  const int hs = cfg.head_dim();
  for (int part = 0; part < 2; ++part)  // legacy freq_cis_real, freq_cis_imag [seq_len × hs/2]
    for (int pos = 0; pos < cfg.seq_len; ++pos)
      for (int i = 0; i < hs; i += 2) {
        const float a = float(pos) / std::pow(cfg.rope_theta, float(i) / float(hs));
        w.put(part == 0 ? std::cos(a) : std::sin(a));
      }
  if (!cfg.shared_classifier) w.uniform(v * d, in_d);  // wcls
  if (!w.flush()) return make_error(ErrorCode::kInternal, "write failed: " + out.temp_path());
  return out.commit();
}

}  // namespace ladle::model
