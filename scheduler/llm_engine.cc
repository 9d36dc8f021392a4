// LlmEngine, its first half: construction (load the model, size the KV cache, warm up) and the
// thread-safe entry points (submit, cancel, tokenize). The step thread is llm_engine_step.cc.
#include "scheduler/llm_engine.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "model/isa.h"
#include "model/model_file.h"
#include "model/utf8.h"
#include "scheduler/llm_engine_impl.h"

namespace ladle::scheduler {

std::vector<TokenId> stop_tokens_of(const model::AnyTokenizer& tok) {
  std::vector<TokenId> stop = tok.end_of_generation();
  if (tok.sentencepiece() != nullptr) stop.insert(stop.begin(), tok.sentencepiece()->bos());
  return stop;
}

// ---------------------------------------------------------------------------------------------
// Construction

Expected<std::unique_ptr<LlmEngine>> LlmEngine::create(EngineConfig config, EngineObserver* observer) {
  if (config.model_path.empty()) return make_error(ErrorCode::kInvalidArgument, "no --model given");
  // A llama2.c checkpoint with its tokenizer.bin (default: beside it), or a GGUF file with its own.
  auto loaded = model::load_model(config.model_path, config.tokenizer_path);
  if (!loaded) return loaded.error();
  const model::AnyTokenizer& tok = loaded->tokenizer;
  std::string chat_origin;
  auto chat = select_chat_template(config.chat_template_path, loaded->chat_template, config.model_path,
                                   tok.bos() ? tok.token_text(*tok.bos()) : "", tok.eos() ? tok.token_text(*tok.eos()) : "",
                                   chat_origin);
  if (!chat) return chat.error();
  const model::ModelConfig mc = loaded->weights.config();
  // The shape decides the defaults, which decide the model's buffer sizes.
  if (auto st = resolve_engine_defaults(config, mc); !st) return st.error();
  // The kernels' ISA level is process-wide, chosen once here at start-up ("auto" keeps the one in
  // effect: the best this CPU has unless something set another).
  if (config.isa != "auto")
    if (auto st = model::set_active_isa(*model::parse_isa(config.isa)); !st) return st.error();
  auto model = model::Transformer::create(
      std::move(loaded->weights), runtime_limits(config));
  if (!model) return model.error();

  const kvcache::KvShape shape = (*model)->kv_shape(config.block_size, kv_cache_dtype(config));
  const int num_blocks = kvcache::KvStore::blocks_for_budget(shape, std::size_t(config.kv_cache_mb) << 20);
  if (num_blocks < blocks_for(2, config.block_size))
    return make_error(ErrorCode::kInvalidArgument, "--kv-cache-mb is too small for even one block");

  auto impl = std::make_unique<Impl>(std::move(config), observer, std::move(*model), std::move(loaded->tokenizer),
                                     std::move(*chat), shape, num_blocks);
  ModelInfo& info = impl->info;
  info.name = std::filesystem::path(impl->config.model_path).filename().string();
  info.vocab_size = mc.vocab_size;
  info.context_length = mc.seq_len;
  info.dim = mc.dim;
  info.hidden_dim = mc.hidden_dim;
  info.n_layers = mc.n_layers;
  info.n_heads = mc.n_heads;
  info.n_kv_heads = mc.n_kv_heads;
  info.kv_blocks_total = num_blocks;
  info.block_size = impl->config.block_size;
  info.isa = model::isa_name(model::active_isa());
  info.bos = impl->tokenizer.bos();
  info.tokenizer = impl->tokenizer.kind();
  info.chat_template = chat_origin;
  const double warm_ms = impl->warm_up();
  const std::size_t screen_bytes = impl->model->argmax_screen_bytes();
  char screen[32] = "off";
  if (screen_bytes > 0) std::snprintf(screen, sizeof screen, "%.1f MiB", double(screen_bytes) / (1 << 20));
  const std::string weights = impl->config.weights == "q8"
                                  ? "q8 (" + impl->config.q8_activations + " activations)"
                                  : impl->config.weights;
  std::fprintf(stderr,
               "ladle: model %s (dim %d, %d layers, %d/%d heads, vocab %d %s, chat template %s, context %d); KV cache %d MiB = %d "
               "blocks of %d = %d tokens (%s); max-running %d, max-batched-tokens %d, max-decode-deferral %d, itl-target-ms %g, batch-floor-share %g, batch-step-share %g, "
               "threads %d, weights %s, isa %s, greedy "
               "argmax screen %s; warm-up %.0f ms\n",
               info.name.c_str(), mc.dim, mc.n_layers, mc.n_heads, mc.n_kv_heads, mc.vocab_size, info.tokenizer.c_str(),
               info.chat_template.c_str(), mc.seq_len,
               impl->config.kv_cache_mb, num_blocks, info.block_size, num_blocks * info.block_size,
               impl->config.kv_cache_dtype.c_str(),
               impl->config.max_running, impl->config.max_batched_tokens, impl->config.max_decode_deferral,
               impl->config.itl_target_ms, impl->config.batch_floor_share, impl->config.batch_step_share,
               impl->config.threads, weights.c_str(), info.isa.c_str(), screen, warm_ms);
  impl->publish_gauges();
  return std::unique_ptr<LlmEngine>(new LlmEngine(std::move(impl)));
}

// NOTE(engine): warm-up. Before the first request, one short prompt step and one greedy decode
// step run on KV blocks that no sequence holds yet (the pool hands out the lowest first, so the
// first request reuses them; a block's slots are always written before they are read, and only
// blocks a sequence filled are ever cached, so what the warm-up leaves there is never seen). The
// first request then does not pay for the first touch of those blocks' pages, of the packed
// weights' and the file's pages (every step reads every matrix), or for the kernels' cold code and
// caches; llama.cpp's server warms up the same way by default. Measured on 110M f32
// (`/tmp/s9/cold.sh`: fresh servers, six one-client requests each, builds alternated, 2 × 3
// servers each): without it the first request's TTFT was the slowest in every server, 6-82 ms
// above the median of the other five; with it, -9 to +10 ms.
// The prompt step is kWarmUpTokens long, not the whole --max-batched-tokens budget: the step
// buffers and the KV arena come zero-filled (already touched) at allocation, and a step of 16 rows
// runs the same batched kernels as one of 128, so the rest of a full-budget step was compute the
// first request never needed. Llama-3.2-1B shape, Q8_0 file, `--weights q8`, `ladle serve` on the
// loaded Zen 4 (load average 6-9), three servers each: the full 128-token step took 4.6-9.6 s
// (1.5-1.7 s quiet: 44 % of the process's CPU samples), the 16-token one 0.8-1.3 s; 110M
// checkpoint 170-300 ms → 26-58 ms. The first requests' queue time and TTFT: BENCHMARKS.md, "Idle
// server".
constexpr int kWarmUpTokens = 16;

// Returns its duration in ms.
double LlmEngine::Impl::warm_up() {
  const auto t0 = Clock::now();
  const int bs = config.block_size, seq_len = model->config().seq_len;
  const int T = std::min({config.max_batched_tokens, kWarmUpTokens, seq_len - 1, kv.num_blocks() * bs - 1});
  if (T < 1) return 0;
  model::SequenceSlice slice;
  for (int b = 0; b < blocks_for(T + 1, bs); ++b) slice.block_table.push_back(BlockId(b));
  model::ForwardBatch prompt;
  for (int p = 0; p < T; ++p) {
    prompt.token_ids.push_back(TokenId(p % model->config().vocab_size));
    prompt.positions.push_back(p);
  }
  slice.query_len = slice.context_len = T;
  slice.needs_logits = true;
  prompt.seqs.push_back(slice);
  model->forward(prompt, kv);
  model::ForwardBatch decode{{TokenId(1 % model->config().vocab_size)}, {T}, {slice}};
  decode.seqs[0].query_len = 1;
  decode.seqs[0].context_len = T + 1;
  decode.seqs[0].argmax_only = true;
  model->forward_dropping(decode, kv, {});
  return seconds_between(t0, Clock::now()) * 1e3;
}

LlmEngine::LlmEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LlmEngine::~LlmEngine() { stop(); }

void LlmEngine::start() {
  if (!impl_->thread.joinable()) impl_->thread = std::thread([this] { impl_->run(); });
}

void LlmEngine::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  else impl_->cancel_everything();  // never started: answer whatever was submitted
}

const ModelInfo& LlmEngine::model_info() const { return impl_->info; }
const EngineConfig& LlmEngine::config() const { return impl_->config; }

EngineGauges LlmEngine::gauges() const {
  std::lock_guard lock(impl_->mu);
  return impl_->gauges;
}

// ---------------------------------------------------------------------------------------------
// Thread-safe entry points

Expected<RequestId> LlmEngine::submit(GenerationRequest request, std::weak_ptr<TokenSink> sink) {
  auto reject = [&](ErrorCode code, std::string message) -> Expected<RequestId> {
    if (impl_->observer) impl_->observer->on_request_rejected(code);
    return make_error(code, std::move(message));
  };
  const int n = int(request.prompt_tokens.size());
  const int context = impl_->info.context_length;
  if (n == 0) return reject(ErrorCode::kInvalidArgument, "the prompt is empty");
  for (TokenId t : request.prompt_tokens)
    if (t < 0 || t >= impl_->info.vocab_size)
      return reject(ErrorCode::kInvalidArgument, "prompt token id " + std::to_string(t) + " is out of range");
  if (n >= context)
    return reject(ErrorCode::kInvalidArgument,
                  "the prompt has " + std::to_string(n) + " tokens but the model's context is " +
                      std::to_string(context) + " (the prompt must leave room for at least one new token)");
  if (blocks_for(n + 1, impl_->info.block_size) > impl_->info.kv_blocks_total)
    return reject(ErrorCode::kInvalidArgument,
                  "the prompt has " + std::to_string(n) + " tokens but the KV cache holds only " +
                      std::to_string(impl_->info.kv_blocks_total * impl_->info.block_size));
  if (auto st = request.params.validate(); !st) return reject(st.error().code, st.error().message);

  RequestId id;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return reject(ErrorCode::kUnavailable, "the engine is shutting down");
    // NOTE(engine): batch requests count against --max-waiting with everything else, but
    // interactive ones only against interactive ones, so that a queue full of batch lines never
    // turns a person away (the batch runner is the one that must wait).
    const bool batch = request.request_class == RequestClass::kBatch;
    int waiting = impl_->num_waiting_seen + int(impl_->inbox.size());
    if (!batch) waiting -= impl_->num_batch_waiting_seen + impl_->num_batch_in_inbox;
    if (waiting >= impl_->config.max_waiting)
      return reject(ErrorCode::kResourceExhausted, "too many requests are waiting; retry later");
    impl_->num_batch_in_inbox += batch ? 1 : 0;
    id = impl_->next_id++;
    if (!request.params.seed) request.params.seed = impl_->seed_rng();
    impl_->inbox.push_back(Impl::Submission{id, std::move(request), std::move(sink), Clock::now()});
  }
  impl_->wake.notify_one();
  return id;
}

void LlmEngine::cancel(RequestId id) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->cancels.push_back(id);
    impl_->num_cancels.store(impl_->cancels.size(), std::memory_order_relaxed);
  }
  impl_->wake.notify_one();
}

Expected<std::vector<TokenId>> LlmEngine::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  if (!model::is_valid_utf8(text)) return make_error(ErrorCode::kInvalidArgument, "the text is not valid UTF-8");
  return impl_->tokenizer.encode(text, add_special, parse_special);
}

// NOTE(chat): BOS, as llama.cpp's common_chat_templates_apply does it. A template that writes the
// BOS text itself (Llama 3's "{{ bos_token }}") for a tokenizer that adds BOS would otherwise give
// the prompt two BOS tokens: the rendered text loses its leading BOS text and the tokenizer adds
// the one BOS (likewise a trailing EOS text when the tokenizer adds EOS). A template that writes no
// BOS gets the tokenizer's; one whose tokenizer adds none (Qwen) keeps whatever it wrote, parsed as
// a special token. So the ids are those of the rendered text (`ladle render-chat`) with its
// special tokens parsed, plus BOS first when the tokenizer adds it and the text has none.
Expected<std::vector<TokenId>> LlmEngine::tokenize_chat(std::span<const ChatMessage> messages, bool continue_last) const {
  auto text = impl_->chat.render(messages, continue_last);
  if (!text) return text.error();
  std::string_view prompt = *text;
  const std::string &bos = impl_->chat.bos_text(), &eos = impl_->chat.eos_text();
  if (impl_->tokenizer.add_bos() && !bos.empty() && prompt.starts_with(bos)) prompt.remove_prefix(bos.size());
  if (impl_->tokenizer.add_eos() && !eos.empty() && prompt.ends_with(eos)) prompt.remove_suffix(eos.size());
  return tokenize(prompt, /*add_special=*/true, /*parse_special=*/true);
}

std::string LlmEngine::token_bytes(TokenId id) const {
  if (id < 0 || id >= impl_->info.vocab_size) return {};
  if (impl_->tokenizer.sentencepiece() != nullptr) {
    // Ids below the byte pieces are <unk>, BOS and EOS: control tokens, with no text of their own.
    if (id < model::Tokenizer::kFirstByteToken) return {};
    // Any predecessor but BOS: the piece as stored, leading space included; "<0xXX>" is its byte.
    return std::string(impl_->tokenizer.decode_piece(model::Tokenizer::kEos, id));
  }
  return std::string(impl_->tokenizer.decode_piece(0, id));  // byte-level BPE: control tokens are ""
}

Expected<std::string> LlmEngine::detokenize(std::span<const TokenId> tokens) const {
  for (TokenId t : tokens)
    if (t < 0 || t >= impl_->info.vocab_size)
      return make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(t) + " is out of range");
  std::string out;
  TokenId prev = 0;
  const auto& stop = impl_->stop_tokens;
  for (TokenId t : tokens) {
    // BOS and the stop tokens print nothing (byte-level BPE's control tokens decode to "" anyway),
    // but a SentencePiece BOS still strips the next leading space.
    if (t != impl_->info.bos && std::find(stop.begin(), stop.end(), t) == stop.end())
      out += impl_->tokenizer.decode_piece(prev, t);
    prev = t;
  }
  return model::sanitize_utf8(out);
}

}  // namespace ladle::scheduler
