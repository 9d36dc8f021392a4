// Generation: one request's life in the engine, whoever consumes it — submit, the mailbox the
// engine writes into, cancel, and the finish. A consumer (an HTTP stream attached to a client, or
// a background response detached from any) is woken on its own executor when output arrives and
// takes it as Updates, already in the order its encoder needs:
//   admitted (once) → text deltas, each with the log-probabilities of the tokens it completes →
//   the finish.
// Log-probabilities of tokens that never produce text (EOS, text swallowed by a stop string) are
// dropped, so streamed and non-streamed listings agree.
//
// Ownership: the consumer owns it (and so the Mailbox, which the engine holds only weakly: a
// generation destroyed without finishing is cancelled by the engine at its next token).
// Threads: every method on the consumer's strand; the Mailbox alone meets the step thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "scheduler/engine.h"
#include "server/api_error.h"
#include "server/mailbox.h"

namespace ladle::server {

class WakeQueue;

class Generation {
 public:
  struct Update {
    std::optional<int> admitted;  // cached prompt tokens, the first time it is scheduled
    std::string_view text;        // new text (whole UTF-8 characters); may be empty
    std::span<const scheduler::TokenLogprob> logprobs;  // of the tokens `text` completes
    const scheduler::Finish* finish = nullptr;          // the last update
  };

  explicit Generation(scheduler::Engine& engine) : engine_(engine) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Queues the request; on failure nothing is in flight and the error says why. From then on
  // `wake` runs on `executor` whenever output arrives (carried by `queue` when given). It must
  // not keep the consumer alive (a weak_ptr): the engine holds the mailbox, and with it `wake`,
  // until the request ends.
  std::optional<ApiError> submit(scheduler::GenerationRequest request, boost::asio::any_io_executor executor,
                                 std::function<void()> wake, std::shared_ptr<WakeQueue> queue);
  // Asks the engine to stop it (idempotent; a no-op once finished).
  void cancel();
  // Everything delivered since the previous take. The views stay valid until the next take.
  Update take();

  bool finished() const { return finish_.has_value(); }
  RequestId id() const { return id_; }

 private:
  scheduler::Engine& engine_;
  std::shared_ptr<Mailbox> mailbox_;
  RequestId id_ = 0;
  bool submitted_ = false;
  Mailbox::Batch batch_;                             // the last batch taken
  std::vector<scheduler::TokenLogprob> logprobs_;    // waiting for their text
  std::vector<scheduler::TokenLogprob> released_;    // handed out with the last text
  std::optional<scheduler::Finish> finish_;
};

}  // namespace ladle::server
