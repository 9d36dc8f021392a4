#include "scheduler/llm_engine.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "kvcache/block_pool.h"
#include "kvcache/kv_store.h"
#include "model/model_file.h"
#include "model/isa.h"
#include "model/any_tokenizer.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "model/utf8.h"
#include "scheduler/batch_builder.h"
#include "scheduler/chat_template.h"
#include "scheduler/logit_rows.h"
#include "scheduler/request_state.h"
#include "scheduler/scheduler.h"

namespace ladle::scheduler {
namespace {

int blocks_for(int tokens, int block_size) { return (tokens + block_size - 1) / block_size; }

// The tokens that end a generation: the tokenizer's end-of-generation set (EOS, and byte-level
// BPE's end-of-turn tokens: <|eot_id|>, <|im_end|>, tokenizer.ggml.eot_token_id, ... as llama.cpp
// finds them), and for SentencePiece BOS too, as llama2.c's run.c stops on it.
std::vector<TokenId> stop_tokens_of(const model::AnyTokenizer& tok) {
  std::vector<TokenId> stop = tok.end_of_generation();
  if (tok.sentencepiece() != nullptr) stop.insert(stop.begin(), tok.sentencepiece()->bos());
  return stop;
}


}  // namespace

struct LlmEngine::Impl {
  struct Submission {
    RequestId id;
    GenerationRequest request;
    std::weak_ptr<TokenSink> sink;
    Clock::time_point arrival;
  };

  Impl(EngineConfig c, EngineObserver* obs, std::unique_ptr<model::Transformer> m, model::AnyTokenizer t,
       ChatTemplate chat_template, const kvcache::KvShape& kv_shape, int num_blocks)
      : config(std::move(c)),
        observer(obs),
        model(std::move(m)),
        tokenizer(std::move(t)),
        chat(std::move(chat_template)),
        stop_tokens(stop_tokens_of(tokenizer)),
        kv(kv_shape, num_blocks),
        pool(num_blocks, config.block_size, !config.no_prefix_caching),
        scheduler(SchedulerConfig{config.max_running, config.max_batched_tokens, model->config().seq_len,
                                  config.block_size, config.max_decode_deferral, config.itl_target_ms / 1e3,
                                  config.batch_floor_share, config.batch_step_share, stop_tokens},
                  pool) {}

  // --- set once in create(), then read-only -------------------------------------------------
  EngineConfig config;
  EngineObserver* observer;  // may be null
  std::unique_ptr<model::Transformer> model;
  model::AnyTokenizer tokenizer;
  ChatTemplate chat;
  std::vector<TokenId> stop_tokens;  // end a generation (unless ignore_eos) and print nothing
  ModelInfo info;

  // --- step thread only ------------------------------------------------------------------------
  kvcache::KvStore kv;
  kvcache::BlockPool pool;
  Scheduler scheduler;
  std::unordered_map<RequestId, RequestState> requests;
  std::uint64_t last_queried = 0, last_hits = 0, last_preemptions = 0, admitted_prompt_tokens = 0;
  std::thread thread;

  // --- shared, guarded by mu ---------------------------------------------------------------------
  mutable std::mutex mu;
  std::condition_variable wake;
  std::vector<Submission> inbox;       // GUARDED_BY(mu)
  std::vector<RequestId> cancels;      // GUARDED_BY(mu)
  bool stopping = false;               // GUARDED_BY(mu)
  int num_waiting_seen = 0;            // GUARDED_BY(mu): scheduler's waiting count after the last drain/step
  int num_batch_waiting_seen = 0;      // GUARDED_BY(mu): of those, batch-class
  int num_batch_in_inbox = 0;          // GUARDED_BY(mu): batch-class submissions in `inbox`
  EngineGauges gauges;                 // GUARDED_BY(mu)
  RequestId next_id = 1;               // GUARDED_BY(mu)
  std::mt19937_64 seed_rng{std::random_device{}()};  // GUARDED_BY(mu)
  std::atomic<std::size_t> num_cancels{0};  // cancels.size(), read without the lock between layers

  double warm_up();
  void run();
  void drain_inbox();
  void step();
  std::vector<int> cancel_mid_step(const ScheduleOutput& out);
  void emit_token(RequestState& st, TokenId token, Clock::time_point now);
  void finish_request(RequestState& st, FinishReason reason, Clock::time_point now);
  static RequestStats request_stats(const RequestState& st, FinishReason reason, Clock::time_point now);
  void cancel_everything();
  void publish_gauges();
  void fail_step(const std::string& what);
};

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
               impl->config.threads, impl->config.weights.c_str(), info.isa.c_str(), screen, warm_ms);
  impl->publish_gauges();
  return std::unique_ptr<LlmEngine>(new LlmEngine(std::move(impl)));
}

// NOTE(engine): warm-up. Before the first request, one full-budget prompt step and one greedy
// decode step run on KV blocks that no sequence holds yet (the pool hands out the lowest first,
// so the first request reuses them; a block's slots are always written before they are read, and
// only blocks a sequence filled are ever cached, so what the warm-up leaves there is never seen).
// The first request then does not pay for the first touch of the step buffers' and those blocks'
// pages, or for the kernels' cold code and caches; llama.cpp's server warms up the same way by
// default. Measured on 110M f32 (`/tmp/s9/cold.sh`: fresh servers, six one-client requests each,
// builds alternated, 2 × 3 servers each): without it the first request's TTFT was the slowest in
// every server, 6-82 ms above the median of the other five; with it, -9 to +10 ms. It costs
// ~0.3 s at start-up on 110M, 25 ms on stories260K.
// Returns its duration in ms.
double LlmEngine::Impl::warm_up() {
  const auto t0 = Clock::now();
  const int bs = config.block_size, seq_len = model->config().seq_len;
  const int T = std::min({config.max_batched_tokens, seq_len - 1, kv.num_blocks() * bs - 1});
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

// ---------------------------------------------------------------------------------------------
// The step thread

void LlmEngine::Impl::run() {
  pthread_setname_np(pthread_self(), "ladle-step");  // for top -H, perf and taskset
  while (true) {
    {
      std::unique_lock lock(mu);
      wake.wait(lock, [&] {
        return stopping || !inbox.empty() || !cancels.empty() || scheduler.num_running() + scheduler.num_waiting() > 0;
      });
      if (stopping) break;
    }
    try {
      drain_inbox();
      if (scheduler.num_running() + scheduler.num_waiting() > 0) step();
    } catch (const std::exception& e) {
      fail_step(e.what());
    } catch (...) {
      fail_step("an exception that is not a std::exception");
    }
  }
  cancel_everything();
}

// NOTE(engine): a step that throws (an allocation failure, a bug, a sink that throws) must not
// end the process, which is what an exception leaving the step thread does. From the throw on the
// state of the step's requests is unknown (an update applied to some of them, KV half written),
// so every request that has been scheduled at least once ends here with an error and frees its
// blocks; requests still waiting for their first step carry on. If none was scheduled (the throw
// came before any was), all end, so that a request that makes every step throw cannot loop.
void LlmEngine::Impl::fail_step(const std::string& what) {
  std::fprintf(stderr, "ladle: engine step failed: %s\n", what.c_str());
  if (observer) observer->on_step_failed(what);
  std::vector<RequestId> ids, all;
  for (const auto& [id, st] : requests) {
    all.push_back(id);
    if (st.scheduled || st.finished) ids.push_back(id);
  }
  if (ids.empty()) ids = std::move(all);
  const auto now = Clock::now();
  for (RequestId id : ids) {
    scheduler.abort(id);
    RequestState& st = requests.at(id);
    if (!st.finished) {  // else its finish was delivered (or thrown from) before
      st.finished = true;
      if (observer) observer->on_request_finished(request_stats(st, FinishReason::kError, now));
      Finish f;
      f.reason = FinishReason::kError;
      f.usage = Usage{st.prompt_tokens, st.generated, st.cached_prompt_tokens};
      f.error_message = "internal error: " + what;
      if (auto sink = st.sink.lock()) {
        try {
          sink->on_finish(f);
        } catch (...) {  // nothing more can be told to this sink
        }
      }
    }
    requests.erase(id);
  }
  publish_gauges();
}

// Moves submissions into the scheduler and applies cancellations; runs at the top of every step
// so a cancelled request never reaches another forward call.
void LlmEngine::Impl::drain_inbox() {
  std::vector<Submission> subs;
  std::vector<RequestId> cans;
  {
    std::lock_guard lock(mu);
    subs.swap(inbox);
    num_batch_in_inbox = 0;
    cans.swap(cancels);
    num_cancels.store(0, std::memory_order_relaxed);
  }
  for (auto& s : subs) {
    const auto& params = s.request.params;
    const int room = info.context_length - int(s.request.prompt_tokens.size());
    const int max_tokens = std::min(params.max_tokens, room);
    requests.try_emplace(s.id, s.id, tokenizer, s.request, std::move(s.sink), *params.seed, s.arrival);
    admitted_prompt_tokens += s.request.prompt_tokens.size();
    scheduler.add(s.id, std::move(s.request.prompt_tokens), max_tokens, params.ignore_eos, params.prompt_logprobs >= 0,
                  s.request.request_class, s.request.priority);
  }
  const auto now = Clock::now();
  for (RequestId id : cans) {
    auto it = requests.find(id);
    if (it == requests.end()) continue;  // finished already, or never existed
    scheduler.abort(id);
    finish_request(it->second, FinishReason::kCancelled, now);
  }
  if (!subs.empty() || !cans.empty()) publish_gauges();
}

void LlmEngine::Impl::step() {
  const auto t0 = Clock::now();
  ScheduleOutput out = scheduler.schedule();
  if (out.empty()) {  // nothing fits this instant; wait for a cancel or a finish to change that
    std::unique_lock lock(mu);
    wake.wait_for(lock, std::chrono::milliseconds(1));
    return;
  }
  for (const auto& s : out.seqs) {
    RequestState& st = requests.at(s.id);
    if (st.scheduled) continue;
    st.scheduled = t0;
    if (const Sequence* seq = scheduler.find(s.id)) st.cached_prompt_tokens = seq->num_cached_tokens();
    if (auto sink = st.sink.lock()) sink->on_admitted(st.cached_prompt_tokens);
  }

  model::ForwardBatch batch = build_forward_batch(out, scheduler);
  set_logit_needs(out, requests, batch);  // greedy rows through the argmax screen, prompt logprobs
  // NOTE(engine): a request cancelled while the step runs is taken out of it at the next layer
  // boundary (cancel_mid_step runs between layers), so its blocks are free within one layer's
  // time rather than at the end of a step that may be a long prefill chunk. The other sequences
  // go on undisturbed.
  const auto result = model->forward_dropping(batch, kv, [&] { return cancel_mid_step(out); });
  // The step's sequences minus any dropped mid-step (a copy only in the rare step that dropped one).
  int dropped_tokens = 0;
  ScheduleOutput kept;
  for (std::size_t i = 0; i < out.seqs.size(); ++i)
    if (result.dropped[i]) dropped_tokens += out.seqs[i].num_new_tokens;
  if (dropped_tokens > 0)
    for (std::size_t i = 0; i < out.seqs.size(); ++i)
      if (!result.dropped[i]) kept.seqs.push_back(out.seqs[i]);
  const ScheduleOutput& live = dropped_tokens > 0 ? kept : out;
  const std::vector<TokenId> sampled =
      result.greedy.empty()
          ? sample_rows(logit_rows(out, batch, result.dropped, requests, scheduler), result.logits, info.vocab_size, *model)
          : result.greedy;

  UpdateOutput upd = scheduler.update(live, sampled);
  const auto now = Clock::now();
  for (const auto& [id, token] : upd.appended) emit_token(requests.at(id), token, now);
  for (const auto& f : upd.finished) {
    auto it = requests.find(f.id);
    if (it != requests.end()) finish_request(it->second, f.reason, now);
  }

  // The step's cost as the streams in it see it, schedule to demultiplex (--itl-target-ms).
  const double duration = seconds_between(t0, Clock::now());
  scheduler.cost_model().observe(out.num_batched_tokens, out.num_sampled_rows, duration);
  if (observer) {
    const auto stats = pool.stats();
    CounterDeltas d;
    d.prompt_tokens = admitted_prompt_tokens;
    d.prefix_queried_tokens = stats.queried_tokens - last_queried;
    d.prefix_hit_tokens = stats.hit_tokens - last_hits;
    d.preemptions = scheduler.num_preemptions() - last_preemptions;
    last_queried = stats.queried_tokens;
    last_hits = stats.hit_tokens;
    last_preemptions = scheduler.num_preemptions();
    admitted_prompt_tokens = 0;
    observer->on_step(StepStats{duration, out.num_batched_tokens, out.num_prefill_tokens,
                                out.num_decode_tokens, dropped_tokens, out.num_sampled_rows},
                      d);
  }
  publish_gauges();
}

// Between layers of a step: the slices (indices into out.seqs) of requests cancelled since the
// step began, which are finished and whose blocks are released right here, on the step thread.
// Cancellations of requests not in this step stay queued for the next drain.
std::vector<int> LlmEngine::Impl::cancel_mid_step(const ScheduleOutput& out) {
  if (num_cancels.load(std::memory_order_relaxed) == 0) return {};
  std::vector<int> slices;
  {
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < out.seqs.size(); ++i) {
      auto it = std::find(cancels.begin(), cancels.end(), out.seqs[i].id);
      if (it == cancels.end()) continue;
      cancels.erase(it);
      slices.push_back(int(i));
    }
    num_cancels.store(cancels.size(), std::memory_order_relaxed);
  }
  if (slices.empty()) return {};
  const auto now = Clock::now();
  for (int i : slices) {
    const RequestId id = out.seqs[i].id;
    scheduler.abort(id);
    if (auto it = requests.find(id); it != requests.end()) finish_request(it->second, FinishReason::kCancelled, now);
  }
  publish_gauges();
  return slices;
}

// One sampled token of `st`: metrics, then text (UTF-8 safe, stop strings held back) to the sink.
void LlmEngine::Impl::emit_token(RequestState& st, TokenId token, Clock::time_point now) {
  if (st.finished) return;
  ++st.generated;
  ++st.unreported_tokens;
  if (observer) {
    if (st.request_class == RequestClass::kBatch) observer->on_batch_token(st.id);
    else if (!st.first_token) observer->on_first_token(st.id, seconds_between(st.arrival, now));
    else observer->on_next_token(st.id, seconds_between(st.last_token, now));
  }
  if (!st.first_token) st.first_token = now;
  st.last_token = now;
  if (st.num_prompt_logprobs >= 0 && !st.prompt_logprobs_sent) {  // before the first token
    st.prompt_logprobs_sent = true;
    if (auto sink = st.sink.lock()) sink->on_prompt_logprobs(st.prompt_logprobs);
    st.prompt_logprobs = {};
  }
  if (st.num_logprobs >= 0) {  // before any on_delta that covers the token
    assert(st.logprobs.token == token);
    if (auto sink = st.sink.lock()) sink->on_logprobs(st.logprobs);
  }

  // Stop tokens (EOS, end of turn; llama2.c's BOS) print nothing (as vLLM's skip_special_tokens),
  // and unless the request ignores them the scheduler has already finished it.
  if (scheduler.is_stop_token(token)) return;
  TextStream::Step piece = st.text.push(token);
  auto sink = st.sink.lock();
  if (!sink) {  // the client is gone: free everything now
    scheduler.abort(st.id);
    finish_request(st, FinishReason::kCancelled, now);
    return;
  }
  if (!piece.text.empty()) {
    sink->on_delta(piece.text, st.unreported_tokens);
    st.unreported_tokens = 0;
  }
  if (piece.stopped) {
    scheduler.finish(st.id);
    finish_request(st, FinishReason::kStop, now);
  }
}

// Delivers the final event (after any text still held) and forgets the request. The scheduler has
// already released its blocks; metrics and gauges are updated before the sink hears on_finish, so a
// client that has seen its last event never scrapes stale numbers.
void LlmEngine::Impl::finish_request(RequestState& st, FinishReason reason, Clock::time_point now) {
  if (!st.finished) {
    st.finished = true;
    if (observer) observer->on_request_finished(request_stats(st, reason, now));
    publish_gauges();
    if (auto sink = st.sink.lock()) {
      if (reason == FinishReason::kStop || reason == FinishReason::kLength) {
        std::string rest = st.text.finish();
        if (!rest.empty()) sink->on_delta(rest, st.unreported_tokens);
      }
      Finish f;
      f.reason = reason;
      f.usage = Usage{st.prompt_tokens, st.generated, st.cached_prompt_tokens};
      f.stop_sequence = st.text.matched_stop();
      f.context_full = reason == FinishReason::kLength && st.generated < st.max_tokens;
      sink->on_finish(f);
    }
  }
  requests.erase(st.id);  // `st` dangles from here on
}

RequestStats LlmEngine::Impl::request_stats(const RequestState& st, FinishReason reason, Clock::time_point now) {
  RequestStats rs;
  rs.id = st.id;
  rs.reason = reason;
  rs.prompt_tokens = st.prompt_tokens;
  rs.cached_prompt_tokens = st.cached_prompt_tokens;
  rs.generation_tokens = st.generated;
  rs.got_first_token = st.first_token.has_value();
  rs.request_class = st.request_class;
  rs.e2e_latency = seconds_between(st.arrival, now);
  rs.queue_time = st.scheduled ? seconds_between(st.arrival, *st.scheduled) : rs.e2e_latency;
  if (st.scheduled && st.first_token) {
    rs.prefill_time = seconds_between(*st.scheduled, *st.first_token);
    rs.decode_time = seconds_between(*st.first_token, now);
  }
  return rs;
}

void LlmEngine::Impl::cancel_everything() {
  drain_inbox();
  const auto now = Clock::now();
  std::vector<RequestId> ids;
  for (const auto& [id, st] : requests) ids.push_back(id);
  for (RequestId id : ids) {
    scheduler.abort(id);
    finish_request(requests.at(id), FinishReason::kCancelled, now);
  }
  publish_gauges();
}

void LlmEngine::Impl::publish_gauges() {
  const auto stats = pool.stats();
  EngineGauges g{scheduler.num_running(), scheduler.num_waiting(), stats.num_total, stats.num_used,
                 stats.num_cached_free, scheduler.num_batch_running(), scheduler.num_batch_waiting()};
  {
    std::lock_guard lock(mu);
    gauges = g;
    num_waiting_seen = g.num_waiting;
    num_batch_waiting_seen = g.num_waiting_batch;
  }
  if (observer) observer->on_gauges(g);
}

}  // namespace ladle::scheduler
