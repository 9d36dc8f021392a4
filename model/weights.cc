#include "model/weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "model/ggml_dequantize.h"
#include "model/gguf_types.h"
#include "model/ggml_panels.h"
#include "model/matmul_ggml.h"
#include "model/q8_panels.h"
#include "model/streamed_buffer.h"
#include "model/thread_pool.h"

namespace ladle::model {

namespace {

constexpr std::size_t kHeaderBytes = 7 * sizeof(std::int32_t);

Error bad_file(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "checkpoint " + path + ": " + what);
}

// Tells the kernel it may drop the pages wholly inside `run`: they are clean pages of a private
// read-only file mapping, so a later read (tests, convert back to kF32) faults them in again.
void drop_pages(std::span<const float> run) {
  const std::uintptr_t page = std::uintptr_t(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t begin = (std::uintptr_t(run.data()) + page - 1) / page * page;
  const std::uintptr_t end = std::uintptr_t(run.data() + run.size()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

Expected<WeightType> parse_weight_type(std::string_view name) {
  if (name == "f32") return WeightType::kF32;
  if (name == "f16") return WeightType::kF16;
  if (name == "q8") return WeightType::kQ8;
  if (name == "native") return WeightType::kNative;
  return make_error(ErrorCode::kInvalidArgument,
                    "--weights must be f32, f16, q8 or native, not '" + std::string(name) + "'");
}

const char* weight_type_name(WeightType type) {
  switch (type) {
    case WeightType::kF16: return "f16";
    case WeightType::kQ8: return "q8";
    case WeightType::kNative: return "native";
    case WeightType::kF32: break;
  }
  return "f32";
}

Weights::Weights(Weights&& o) noexcept { *this = std::move(o); }

Weights& Weights::operator=(Weights&& o) noexcept {
  if (this != &o) {
    release();
    config_ = o.config_;
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    token_embedding_ = o.token_embedding_;
    embedding_ggml_ = o.embedding_ggml_;
    layers_ = std::move(o.layers_);
    rms_final_ = o.rms_final_;
    wcls_ = o.wcls_;
    type_ = o.type_;
    packed_ = std::move(o.packed_);
    packed_bytes_ = std::exchange(o.packed_bytes_, 0);
    native_bytes_ = std::exchange(o.native_bytes_, 0);
    storage_ = std::move(o.storage_);
    droppable_ = std::move(o.droppable_);
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
  w.wcls_.f32 = cfg.shared_classifier ? w.token_embedding_ : take(std::size_t(cfg.vocab_size) * d);
  w.layers_.resize(L);
  for (std::size_t l = 0; l < L; ++l) {
    LayerWeights& lw = w.layers_[l];
    lw.rms_att = rms_att + l * d;
    lw.wq.f32 = wq + l * d * d;
    lw.wk.f32 = wk + l * kv * d;
    lw.wv.f32 = wv + l * kv * d;
    lw.wo.f32 = wo + l * d * d;
    lw.rms_ffn = rms_ffn + l * d;
    lw.w1.f32 = w1 + l * h * d;
    lw.w2.f32 = w2 + l * d * h;
    lw.w3.f32 = w3 + l * h * d;
  }
  w.droppable_ = w.matmul_runs();
  return w;
}

Weights Weights::from_views(const ModelConfig& config, Views views, std::shared_ptr<const void> storage,
                            std::vector<std::span<const float>> droppable) {
  Weights w;
  w.config_ = config;
  w.token_embedding_ = views.token_embedding;
  w.embedding_ggml_ = views.token_embedding_ggml;
  w.layers_ = std::move(views.layers);
  w.rms_final_ = views.rms_final;
  w.wcls_.f32 = views.classifier;
  w.wcls_.ggml = views.classifier_ggml;
  w.storage_ = std::move(storage);
  w.droppable_ = std::move(droppable);
  return w;
}

void Weights::embedding_row(int token, float* out) const {
  const std::size_t dim = std::size_t(config_.dim);
  if (token_embedding_ != nullptr) {
    std::memcpy(out, token_embedding_ + std::size_t(token) * dim, dim * sizeof(float));
    return;
  }
  const auto traits = ggml_type_traits(embedding_ggml_.type);
  const std::size_t row_bytes = dim / traits->block_elements * traits->block_bytes;
  dequantize(embedding_ggml_.type, embedding_ggml_.data + std::size_t(token) * row_bytes, out, dim);
}

std::size_t Weights::embedding_bytes() const {
  const std::size_t dim = std::size_t(config_.dim), vocab = std::size_t(config_.vocab_size);
  if (token_embedding_ != nullptr) return vocab * dim * sizeof(float);
  const auto traits = ggml_type_traits(embedding_ggml_.type);
  return vocab * (dim / traits->block_elements * traits->block_bytes);
}

std::size_t Weights::bytes_per_token() const {
  const std::size_t row = std::size_t(config_.dim) * sizeof(float);
  // The panels with their scales (and at kNative the file's blocks).
  if (type_ == WeightType::kQ8 || type_ == WeightType::kNative) return packed_bytes_ + native_bytes_ + row;
  const std::size_t width = type_ == WeightType::kF16 ? sizeof(Half) : sizeof(float);
  return config_.matmul_params() * width + row;
}

std::vector<std::span<const float>> Weights::matmul_runs() const {
  const std::size_t d = config_.dim, h = config_.hidden_dim, L = config_.n_layers, kv = config_.kv_dim();
  // run.c's order puts each layer group's matrices back to back: wq, wk, wv, wo (all layers), then
  // rms_ffn, then w1, w2, w3 (all layers). A shared classifier is the embedding, still read.
  std::vector<std::span<const float>> runs = {{layers_[0].wq.f32, L * (2 * d * d + 2 * kv * d)},
                                              {layers_[0].w1.f32, L * 3 * h * d}};
  if (wcls_.f32 != token_embedding_) runs.push_back({wcls_.f32, std::size_t(config_.vocab_size) * d});
  return runs;
}

std::vector<Weights::Slot> Weights::matmul_slots() {
  const int d = config_.dim, h = config_.hidden_dim, kv = config_.kv_dim();
  std::vector<Slot> slots;
  for (LayerWeights& l : layers_)
    for (Slot s : {Slot{&l.wq, d, d}, Slot{&l.wk, kv, d}, Slot{&l.wv, kv, d}, Slot{&l.wo, d, d}, Slot{&l.w1, h, d},
                   Slot{&l.w2, d, h}, Slot{&l.w3, h, d}})
      slots.push_back(s);
  slots.push_back({&wcls_, config_.vocab_size, d});
  return slots;
}

namespace {

// Bytes of an [N × K] matrix's panels at `type`.
std::size_t panel_bytes(WeightType type, int N, int K) {
  switch (type) {
    case WeightType::kQ8:
    case WeightType::kNative: return q8_packed_bytes(N, K);
    case WeightType::kF16: return packed_elements(N, K) * sizeof(Half);
    case WeightType::kF32: break;
  }
  return packed_elements(N, K) * sizeof(float);
}

// Bytes of one row of K values in ggml type `type` (a block type convert() reads).
std::size_t ggml_row_bytes(std::uint32_t type, int K) {
  const auto traits = ggml_type_traits(type);
  return std::size_t(K) / traits->block_elements * traits->block_bytes;
}

// Rows of a matrix packed by one task of convert(): whole panels, so that pieces of one matrix
// never share a panel, and small enough that the classifier spreads over every thread.
constexpr int kPieceRows = 16 * kPanel;
// Packed buffers this large or smaller are collapsed into 2 MiB pages as soon as they are written
// (NOTE(weights) in convert()).
constexpr std::size_t kCollapseNowBytes = std::size_t(512) << 20;

}  // namespace

std::string Weights::pack_piece(WeightType type, const Slot& s, std::size_t index, int n0, int rows, char* at) const {
  if (type == WeightType::kNative) type = WeightType::kQ8;  // the matrices kNative does not hold in K-quant panels
  const int K = s.K;
  const GgmlRows& blocks = s.m->ggml;
  const std::size_t row_bytes = blocks.data != nullptr ? ggml_row_bytes(blocks.type, K) : 0;
  if (type == WeightType::kQ8 && blocks.data != nullptr && q8_copies_ggml(blocks.type)) {
    q8_pack_ggml_rows(blocks.type, blocks.data + n0 * row_bytes, rows, K, n0, reinterpret_cast<std::uint8_t*>(at));
    return {};
  }
  if (s.m->f32 == nullptr && rows > kPanel) {
    // Widened one panel at a time, so that its floats are still in the core's cache when packed.
    // NOTE(weights): start-up. A whole piece widened first holds 256 rows (8 MiB of floats at
    // K = 8192, beyond L2) per thread, one panel ≤ 512 KiB. On its own this changed nothing visible
    // in loading the Llama-3.2-1B-shaped Q4_K_M file with `--weights q8` (the quantizer 39 → 41 %
    // of the CPU samples, one loaded run each); kept for the smaller buffer.
    for (int r = 0; r < rows; r += kPanel)
      if (std::string e = pack_piece(type, s, index, n0 + r, std::min(kPanel, rows - r), at); !e.empty()) return e;
    return {};
  }
  const float* src = s.m->f32 != nullptr ? s.m->f32 + std::size_t(n0) * K : nullptr;
  std::unique_ptr<float[]> widened;  // rows held as GGUF blocks, widened (not zero-filled first)
  if (src == nullptr) {
    widened.reset(new float[std::size_t(rows) * K]);
    dequantize(blocks.type, blocks.data + n0 * row_bytes, widened.get(), std::size_t(rows) * K);
    src = widened.get();
  }
  // Where the value at row n (of this piece), column k came from, for an error.
  auto where = [&](std::size_t n, std::size_t k) {
    const float* value = src + n * K + k;
    char text[32];
    std::snprintf(text, sizeof text, "%g", double(*value));
    // A checkpoint's floats follow the embedding in one mapping; a GGUF's tensors lie apart.
    return std::string(text) + " (" +
           (storage_ ? "row " + std::to_string(n0 + n) + ", column " + std::to_string(k) + " of matmul matrix " +
                           std::to_string(index)
                     : "float " + std::to_string(value - token_embedding_) + " after the header") +
           ")";
  };
  switch (type) {
    case WeightType::kNative:  // taken as kQ8 above
    case WeightType::kQ8:
      if (const std::size_t bad = q8_pack_rows(src, rows, K, n0, reinterpret_cast<std::uint8_t*>(at));
          bad < std::size_t(rows) * K)
        return "--weights q8: weight value " + where(bad / K, bad % K) +
               " cannot be quantized (not finite, or its block's scale max|w|/127 exceeds a half's 65504); use "
               "--weights f32";
      return {};
    case WeightType::kF32:
      pack_rows(src, rows, K, n0, reinterpret_cast<float*>(at));
      return {};
    case WeightType::kF16: break;
  }
  // The piece's own panels in fp32, then rounded into its place (panel n0 / kPanel onwards).
  std::vector<float> panels(packed_elements(rows, K), 0.0f);
  pack_rows(src, rows, K, 0, panels.data());
  Half* out = reinterpret_cast<Half*>(at) + std::size_t(n0) * K;
  if (const std::size_t bad = floats_to_halves(panels, {out, panels.size()}); bad < panels.size()) {
    // Back from panel order to the value's place in the matrix.
    const std::size_t n = bad / (std::size_t(K) * kPanel) * kPanel + bad % kPanel, k = bad / kPanel % K;
    return "--weights f16: weight value " + where(n, k) + " does not fit a half (largest 65504); use --weights f32";
  }
  return {};
}

Status Weights::convert(WeightType type, Q8Activations q8_activations) {
  auto slots = matmul_slots();
  if (type == type_ && packed_) {
    for (const Slot& s : slots) s.m->packed.q8_activations = q8_activations;
    return Ok{};
  }
  // At kNative, the matrices matmul reads in the file's own Q4_K / Q6_K numbers: rearranged bit
  // for bit into panels of 16 rows (model/ggml_panels.h) in the buffer (2 MiB pages,
  // advise_huge_pages), not read in the file's mapping.
  // NOTE(weights): 4 KiB pages made the one-stream step TLB-bound. The Llama-3.2-1B-shaped Q4_K_M
  // file, ggml_matmul_bench --ms 1 --native-only (quiet Zen 4, 2 vCPUs): in the mapping 27.3-28.3
  // passes/s (one thread 16.5-16.8), copied to 2 MiB pages 35.6-38.5 (one thread 22.2); `ladle
  // generate --weights native` 25.9 -> 32.9-35.2 tok/s. The copy costs ~0.2 s of start-up (1.1 s
  // the first time after the VM's balloon took the memory back; below), and the file's pages
  // become droppable like the fp32 ones.
  auto k_quant = [type](const Slot& s) {
    return type == WeightType::kNative && s.m->ggml.data != nullptr && matmul_reads_ggml(s.m->ggml.type);
  };
  // Each matrix starts on a 64-byte line.
  std::vector<std::size_t> offsets;
  std::size_t bytes = 0, native = 0;
  for (const Slot& s : slots) {
    offsets.push_back(bytes);
    if (k_quant(s)) {
      const std::size_t n = ggml_panels_bytes(s.m->ggml.type, s.N, s.K);
      native += n;
      bytes += (n + 63) / 64 * 64;
    } else {
      bytes += (panel_bytes(type, s.N, s.K) + 63) / 64 * 64;
    }
  }
  // Padding columns of partial panels stay 0 (the buffer comes zeroed).
  StreamedBuffer packed = allocate_streamed(bytes);
  if (!packed) return make_error(ErrorCode::kInternal, "cannot allocate " + std::to_string(bytes) + " bytes for packed weights");
  // Pieces of kPieceRows rows, in file order, packed on every core.
  // NOTE(weights): start-up. One thread packed the 110M shape in ~0.5-2.6 s before the first token
  // (issue 23: ~1.5 s); the pieces are independent, so they spread over the cores. Timed on the
  // loaded Zen 4 (load average ~10 on 2 vCPUs), convert() alone, serial / parallel, two runs each:
  // f32 2.7, 0.45, 0.63, 1.5 / 1.9, 1.6, 0.49, 2.3 s; f16 0.33, 0.35, 0.60, 0.45 / 0.49, 0.53,
  // 0.50, 0.46; q8 0.51, 0.60, 0.86, 0.60 / 0.55, 0.74, 0.73, 0.63: no gain visible under that
  // load (f32 is page faults of the mapping and of the new buffer); the quiet re-run decides.
  struct Piece {
    std::size_t slot;
    int n0, rows;
  };
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i < slots.size(); ++i)
    for (int n0 = 0; n0 < slots[i].N; n0 += kPieceRows)
      pieces.push_back({i, n0, std::min(kPieceRows, slots[i].N - n0)});
  std::vector<std::string> errors(pieces.size());
  ThreadPool pool(0);
  // The buffer's pages faulted in up front, 2 MiB per call on every core, rather than one fault
  // per 4 KiB page as the pieces first write them.
  // NOTE(weights): start-up. 1B Q8_0 file, `ladle generate --weights q8 -n 1`, alternated three
  // times (loaded Zen 4): system time 1.07-1.31 s without, 0.86-0.89 s with.
  constexpr std::size_t kPopulateChunk = std::size_t(2) << 20;
  const std::size_t mapped = packed.get_deleter().bytes;
  // At kNative, 2 MiB pages from the first fault (streamed_buffer.h: the q8 panels wait).
  // NOTE(weights): start-up, ggml_matmul_bench --native-only's "loaded and converted" (quiet Zen 4,
  // alternated): hinted before the faults 1.19, 0.25, 0.62, 0.19, 0.20 s; only collapsed after
  // the copy (MADV_COLLAPSE) 0.51, 0.49, 0.50, 0.79, 0.58 s; the step's speed the same (34-36
  // passes/s). The collapse after the copy stays, for what the faults could not get in 2 MiB.
  if (native > 0) advise_huge_pages(packed);
  pool.parallel_for(int((mapped + kPopulateChunk - 1) / kPopulateChunk), [&](int t, int) {
    const std::size_t from = std::size_t(t) * kPopulateChunk;
    populate_streamed(packed, from, std::min(kPopulateChunk, mapped - from));
  });
  pool.parallel_for(int(pieces.size()), [&](int t, int) {
    const Piece& p = pieces[std::size_t(t)];
    const Slot& s = slots[p.slot];
    if (k_quant(s)) {  // the file's numbers, rearranged into panels of 16 rows
      const std::size_t row = ggml_row_bytes(s.m->ggml.type, s.K);
      pack_ggml_panels(s.m->ggml.type, s.m->ggml.data + std::size_t(p.n0) * row,
                       p.rows, s.K, p.n0, static_cast<std::byte*>(packed.get()) + offsets[p.slot]);
      return;
    }
    errors[std::size_t(t)] = pack_piece(type, slots[p.slot], p.slot, p.n0, p.rows,
                                        static_cast<char*>(packed.get()) + offsets[p.slot]);
  });
  for (const std::string& e : errors)  // the first bad value in file order
    if (!e.empty()) return make_error(ErrorCode::kInvalidArgument, e);
  // Now that it is written (streamed_buffer.h): collapsed into 2 MiB pages at once for kNative and
  // for buffers up to kCollapseNowBytes, else left to khugepaged.
  // NOTE(weights): a buffer left to khugepaged (16 MiB every 10 s by default) stays on 4 KiB pages
  // for the first seconds to minutes of a process, and the matmuls pay for it: forward_bench
  // --shapes 15m --max-batch 4 --weights f32 --isa avx2 (quiet Zen 4, 2 vCPUs, three alternated
  // rounds, tok/s at 1 / 4 rows): the code before the AVX-512 work (42ebfc9, hint at allocation)
  // 661-692 / 1,749-1,983; deferred 604-655 / 1,551-1,641 (AnonHugePages 16 of 126 MB resident
  // against 68); collapsed at once 652-717 / 1,721-1,913. The price is start-up system time,
  // which grows with the buffer and with the VM's balloon: `ladle generate -n 1` on the 110M
  // shape, q8 (116 MB) +0.01 s, f32 (418 MB) +0.08-0.17 s (once +0.96 s); the 1B Q8_0 file's
  // 1.3 GB of panels +4 s (NOTE(model) in streamed_buffer.h). Hence a size bound, 512 MiB: with
  // 256 the 110M f32 buffer stayed deferred and read 0.86-0.93x the old code at 2-8 rows
  // (forward_bench --shapes 110m --isa avx2, three rounds), collapsed 0.97-1.03x.
  advise_huge_pages(packed, native > 0 || bytes <= kCollapseNowBytes);
  packed_ = std::move(packed);
  packed_bytes_ = bytes - native;
  native_bytes_ = native;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const Slot& s = slots[i];
    const char* at = static_cast<const char*>(packed_.get()) + offsets[i];
    PackedMatrix view{nullptr, nullptr, s.N, s.K};
    if (k_quant(s)) {
      view.ggml = reinterpret_cast<const std::byte*>(at);
      view.ggml_type = s.m->ggml.type;
    } else if (type == WeightType::kQ8 || type == WeightType::kNative) view.q8 = reinterpret_cast<const std::uint8_t*>(at);
    else if (type == WeightType::kF16) view.f16 = reinterpret_cast<const Half*>(at);
    else view.f32 = reinterpret_cast<const float*>(at);
    view.q8_activations = q8_activations;
    s.m->packed = view;
  }
  type_ = type;
  for (const auto& run : droppable_) drop_pages(run);
  return Ok{};
}

}  // namespace ladle::model
