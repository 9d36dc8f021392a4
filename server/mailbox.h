// Mailbox: the TokenSink the engine writes one request's output into, and the bounded hand-off
// from the engine thread to the connection's strand.
//
// Ownership: the Generation of the request holds the only shared_ptr; the engine holds a weak_ptr
// (so a closed connection makes the engine's lock() fail and the request is cancelled).
//
// Threads: on_delta/on_finish are called on the engine's step thread and never block on I/O: they
// append under a mutex (text deltas are merged into one pending string) and, if no wake-up is
// already scheduled, schedule one `wake` onto the strand (through the server's WakeQueue, which
// batches the wake-ups of one step into one hand-off, or by a direct post when there is none).
// take() is called on the strand.
// NOTE(server): merging is what bounds the mailbox: however slowly a client reads, it holds at
// most one string of not-yet-written text (≤ the request's own output), the log-probabilities of
// those tokens (only when asked for) and one Finish.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "scheduler/token_sink.h"

namespace ladle::server {

class WakeQueue;

class Mailbox final : public scheduler::TokenSink, public std::enable_shared_from_this<Mailbox> {
 public:
  // Everything delivered since the previous take().
  struct Batch {
    std::optional<int> admitted;  // on_admitted came: the cached prompt tokens
    std::string text;
    int num_tokens = 0;
    std::vector<scheduler::TokenLogprob> logprobs;  // of the tokens sampled since the last take
    std::optional<scheduler::Finish> finish;
  };

  // `wake` runs on `executor` after new output arrives (at most one pending wake at a time).
  // `queue`, when given (non-null), carries the wake-ups to the I/O thread; once it is gone (the
  // server that owned it was destroyed while the engine still held this mailbox), wake-ups are
  // dropped: the executor died with the server. Without a queue they are posted directly.
  Mailbox(boost::asio::any_io_executor executor, std::function<void()> wake,
          std::shared_ptr<WakeQueue> queue = nullptr);

  void on_admitted(int cached_prompt_tokens) override;
  void on_logprobs(const scheduler::TokenLogprob& logprobs) override;
  void on_delta(std::string_view text, int num_tokens) override;
  void on_finish(const scheduler::Finish& finish) override;

  // Moves the pending output into `into` (whose previous text is discarded) and re-arms the
  // wake-up. The two text buffers are swapped, not reallocated, so a stream that calls this with
  // the same Batch every time stops allocating once both have grown to an event's size.
  void take(Batch& into);
  // Bytes of text waiting to be taken.
  std::size_t pending_bytes() const;

  // Posts `wake` to the mailbox's executor (called by the WakeQueue's drain).
  void wake_on_its_executor();

 private:
  void schedule_wake_locked();

  boost::asio::any_io_executor executor_;
  std::function<void()> wake_;
  const std::weak_ptr<WakeQueue> queue_;
  const bool queued_;  // a queue was given (then never post directly)
  mutable std::mutex mu_;
  Batch pending_;             // GUARDED_BY(mu_)
  bool wake_posted_ = false;  // GUARDED_BY(mu_)
};

}  // namespace ladle::server
