// LlmEngine: the real Engine. Owns the model, the KV arena and block pool, the scheduler and the
// step thread that runs schedule → forward → sample → update → demultiplex, forever.
//
// Lifetime: create() loads everything on the calling thread; start() launches the step thread;
// stop() (or the destructor) cancels what is left, joins the thread and returns. Every sink gets
// its on_finish before stop() returns. Thread-safety: as Engine; stats() and model_info() too.
#pragma once

#include <memory>

#include "scheduler/engine.h"
#include "scheduler/engine_config.h"
#include "scheduler/engine_observer.h"

namespace ladle::scheduler {

class LlmEngine final : public Engine {
 public:
  // Loads model and tokenizer, resolves derived defaults in `config`, sizes the KV cache and logs
  // the resulting capacity to stderr. `observer` may be null; it must outlive the engine.
  static Expected<std::unique_ptr<LlmEngine>> create(EngineConfig config, EngineObserver* observer);
  ~LlmEngine() override;

  void start();
  // Refuses new submissions (kUnavailable), cancels everything in flight, joins the step thread.
  void stop();

  Expected<RequestId> submit(GenerationRequest request, std::weak_ptr<TokenSink> sink) override;
  void cancel(RequestId id) override;
  Expected<std::vector<TokenId>> tokenize(std::string_view text, bool add_special, bool parse_special) const override;
  Expected<std::vector<TokenId>> tokenize_chat(std::span<const ChatMessage> messages, bool continue_last) const override;
  Expected<std::string> detokenize(std::span<const TokenId> tokens) const override;
  // The vocabulary piece as stored (leading space included), a byte piece "<0xXX>" as its one raw
  // byte; "" for <unk>, BOS and EOS (byte-level BPE: control tokens) and for ids out of range.
  std::string token_bytes(TokenId id) const override;
  const ModelInfo& model_info() const override;

  // The settings after defaults were derived.
  const EngineConfig& config() const;
  // Levels right now (a consistent snapshot taken under the engine's lock).
  EngineGauges gauges() const;

 private:
  struct Impl;
  explicit LlmEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ladle::scheduler
