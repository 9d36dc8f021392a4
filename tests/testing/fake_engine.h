// FakeEngine: a real Engine implementation for server tests, without a model. A step thread emits
// a scripted token stream at a configurable pace, honours cancel(), enforces max_running /
// max_waiting like the real engine, and records what happened (cancellations, live requests) so
// tests can assert that a disconnect freed its request "within one step".
//
// Tokenizer: one token per byte (id = byte + 3), BOS = 1; invalid UTF-8 is refused.
// Output: the i-th generated token of every request has text script[i % script.size()]; a request
// ends with kLength after max_tokens (capped by the context), or kStop when the accumulated text
// contains one of its stop strings (the stop string and anything after it are not delivered).
//
// Threads: all methods are thread-safe; sinks are called on the step thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/engine.h"

namespace ladle::testing {

struct FakeEngineOptions {
  std::vector<std::string> script = {" Once", " upon", " a", " time"};
  std::chrono::microseconds step_interval{1000};  // one token per running request per step
  int max_running = 64;
  int max_waiting = 1024;
  int context_length = 256;
  bool paused = false;  // start with the step loop paused (requests stay waiting)
};

class FakeEngine final : public scheduler::Engine {
 public:
  explicit FakeEngine(FakeEngineOptions options = {});
  ~FakeEngine() override;

  Expected<RequestId> submit(scheduler::GenerationRequest request, std::weak_ptr<scheduler::TokenSink> sink) override;
  void cancel(RequestId id) override;
  // One id per byte (BOS first with add_special); no special tokens.
  Expected<std::vector<TokenId>> tokenize(std::string_view text, bool add_special, bool parse_special) const override;
  // The plain template (scheduler/chat_template.h), tokenized as above with BOS.
  Expected<std::vector<TokenId>> tokenize_chat(std::span<const scheduler::ChatMessage> messages,
                                               bool continue_last) const override;
  Expected<std::string> detokenize(std::span<const TokenId> tokens) const override;
  const scheduler::ModelInfo& model_info() const override { return info_; }

  // Cancels everything in flight (sinks get kCancelled), refuses new work, joins the thread.
  void stop();
  void set_paused(bool paused);

  // --- observations for tests ---
  int num_live() const;     // waiting + running
  int num_running() const;
  std::vector<RequestId> cancelled() const;  // by cancel() or by an expired sink, in order
  std::vector<scheduler::GenerationRequest> submitted() const;
  // Polls `pred` (under no lock) until true or `timeout`; returns the last value.
  static bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

 private:
  struct Request {
    RequestId id;
    scheduler::GenerationRequest request;
    std::weak_ptr<scheduler::TokenSink> sink;
    int generated = 0;
    bool admitted = false;  // on_admitted delivered
    std::string text;       // all generated text
    std::size_t sent = 0;   // bytes of text already delivered
  };
  void loop();
  void step_locked(std::vector<std::function<void()>>& calls);
  bool advance(Request& r, std::vector<std::function<void()>>& calls);

  FakeEngineOptions options_;
  scheduler::ModelInfo info_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> requests_;  // GUARDED_BY(mu_): first max_running are "running"
  std::vector<RequestId> cancelled_;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> pending_calls_;  // GUARDED_BY(mu_): sink calls for the step thread
  std::vector<scheduler::GenerationRequest> submitted_;  // GUARDED_BY(mu_)
  RequestId next_id_ = 1;  // GUARDED_BY(mu_)
  bool paused_;            // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace ladle::testing
