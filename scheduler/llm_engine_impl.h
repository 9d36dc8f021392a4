// LlmEngine's private state (LlmEngine::Impl), shared by its two halves: llm_engine.cc
// (construction, warm-up and the thread-safe entry points) and llm_engine_step.cc (the step thread:
// drain the inbox, schedule, run the model, emit tokens, contain a failed step). Not for other
// files: include scheduler/llm_engine.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kvcache/block_pool.h"
#include "kvcache/kv_store.h"
#include "model/any_tokenizer.h"
#include "model/transformer.h"
#include "scheduler/chat_template.h"
#include "scheduler/llm_engine.h"
#include "scheduler/request_state.h"
#include "scheduler/scheduler.h"

namespace ladle::scheduler {

// The tokens that end a generation: the tokenizer's end-of-generation set (EOS, and byte-level
// BPE's end-of-turn tokens: <|eot_id|>, <|im_end|>, tokenizer.ggml.eot_token_id, ... as llama.cpp
// finds them), and for SentencePiece BOS too, as llama2.c's run.c stops on it.
std::vector<TokenId> stop_tokens_of(const model::AnyTokenizer& tok);

inline int blocks_for(int tokens, int block_size) { return (tokens + block_size - 1) / block_size; }

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
  // Whether an interactive submission waits in the inbox (--batch-yield; locks mu).
  bool interactive_in_inbox();
  void emit_token(RequestState& st, TokenId token, Clock::time_point now);
  void finish_request(RequestState& st, FinishReason reason, Clock::time_point now);
  static RequestStats request_stats(const RequestState& st, FinishReason reason, Clock::time_point now);
  void cancel_everything();
  void publish_gauges();
  void fail_step(const std::string& what);
};

}  // namespace ladle::scheduler
