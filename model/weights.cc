#include "model/weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

namespace ladle::model {

namespace {

constexpr std::size_t kHeaderBytes = 7 * sizeof(std::int32_t);

Error bad_file(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "checkpoint " + path + ": " + what);
}

}  // namespace

Weights::Weights(Weights&& o) noexcept { *this = std::move(o); }

Weights& Weights::operator=(Weights&& o) noexcept {
  if (this != &o) {
    release();
    config_ = o.config_;
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    token_embedding_ = o.token_embedding_;
    layers_ = std::move(o.layers_);
    rms_final_ = o.rms_final_;
    wcls_ = o.wcls_;
  }
  return *this;
}

Weights::~Weights() { release(); }

void Weights::release() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
  map_ = nullptr;
}

Expected<Weights> Weights::load(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return make_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                      "checkpoint " + path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return make_error(ErrorCode::kInternal, "checkpoint " + path + ": fstat failed");
  }
  const std::size_t file_bytes = std::size_t(st.st_size);
  std::int32_t header[7] = {};
  if (file_bytes < kHeaderBytes || ::pread(fd, header, kHeaderBytes, 0) != ssize_t(kHeaderBytes)) {
    ::close(fd);
    return bad_file(path, "truncated: " + std::to_string(file_bytes) + " bytes, shorter than the 28-byte header");
  }
  ModelConfig cfg;
  cfg.dim = header[0];
  cfg.hidden_dim = header[1];
  cfg.n_layers = header[2];
  cfg.n_heads = header[3];
  cfg.n_kv_heads = header[4];
  // -INT32_MIN does not fit an int: such a header gets vocab 0, which validate() rejects.
  cfg.vocab_size = header[5] == INT32_MIN ? 0 : (header[5] < 0 ? -header[5] : header[5]);
  cfg.shared_classifier = header[5] > 0;
  cfg.seq_len = header[6];
  if (auto st_cfg = cfg.validate(); !st_cfg.ok()) {
    ::close(fd);
    return bad_file(path, st_cfg.error().message);
  }
  const std::size_t expected = kHeaderBytes + cfg.checkpoint_floats() * sizeof(float);
  if (file_bytes != expected) {
    ::close(fd);
    return bad_file(path, std::string(file_bytes < expected ? "truncated" : "oversized") + ": " +
                              std::to_string(file_bytes) + " bytes, the header implies " +
                              std::to_string(expected));
  }
  void* map = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return make_error(ErrorCode::kInternal, "checkpoint " + path + ": mmap failed");

  Weights w;
  w.config_ = cfg;
  w.map_ = map;
  w.map_bytes_ = file_bytes;
  const std::size_t d = cfg.dim, h = cfg.hidden_dim, L = cfg.n_layers, kv = cfg.kv_dim();
  const float* p = reinterpret_cast<const float*>(static_cast<const char*>(map) + kHeaderBytes);
  auto take = [&p](std::size_t n) { const float* t = p; p += n; return t; };
  w.token_embedding_ = take(std::size_t(cfg.vocab_size) * d);
  const float* rms_att = take(L * d);
  const float* wq = take(L * d * d);
  const float* wk = take(L * kv * d);
  const float* wv = take(L * kv * d);
  const float* wo = take(L * d * d);
  const float* rms_ffn = take(L * d);
  const float* w1 = take(L * h * d);
  const float* w2 = take(L * d * h);
  const float* w3 = take(L * h * d);
  w.rms_final_ = take(d);
  take(std::size_t(cfg.seq_len) * cfg.head_dim());  // legacy freq_cis_real/imag, unused
  w.wcls_ = cfg.shared_classifier ? w.token_embedding_ : take(std::size_t(cfg.vocab_size) * d);
  w.layers_.resize(L);
  for (std::size_t l = 0; l < L; ++l)
    w.layers_[l] = LayerWeights{rms_att + l * d, wq + l * d * d,  wk + l * kv * d,
                                wv + l * kv * d, wo + l * d * d,  rms_ffn + l * d,
                                w1 + l * h * d,  w2 + l * d * h,  w3 + l * h * d};
  return w;
}

std::size_t Weights::bytes_per_token() const {
  return (config_.matmul_params() + std::size_t(config_.dim)) * sizeof(float);
}

}  // namespace ladle::model
