// BatchLine: one line of a batch running in the engine with no client attached — a detached
// generation like a background response, whose whole output becomes the endpoint's non-streamed
// reply (the same encoder as a live call) and is handed to the runner once, at the finish.
//
// Ownership: the BatchRunner holds it (shared_ptr) from start() until `done`; the engine holds its
// mailbox weakly, so a line dropped unfinished is cancelled at its next token. Threads: every
// method on the runner's strand (`done` runs there too).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "server/generation.h"
#include "server/http_reply.h"
#include "server/stream_encoder.h"

namespace ladle::server {

class WakeQueue;

class BatchLine : public std::enable_shared_from_this<BatchLine> {
 public:
  // `reply` is the endpoint's reply (its error reply when the generation failed); `finish` says
  // how the generation ended.
  using Done = std::function<void(BatchLine& line, HttpReply reply, const scheduler::Finish& finish)>;

  BatchLine(scheduler::Engine& engine, boost::asio::any_io_executor strand, std::string batch_id, int line,
            std::unique_ptr<StreamEncoder> encoder, Done done)
      : batch_id_(std::move(batch_id)), line_(line), strand_(std::move(strand)), generation_(engine),
        encoder_(std::move(encoder)), done_(std::move(done)) {}

  // Submits the request; on failure nothing is in flight and the error says why.
  std::optional<ApiError> start(scheduler::GenerationRequest request, std::shared_ptr<WakeQueue> queue);
  // Asks the engine to stop it (its `done` still comes, with a cancelled finish).
  void cancel() { generation_.cancel(); }

  const std::string& batch_id() const { return batch_id_; }
  int line() const { return line_; }

 private:
  void pump();

  const std::string batch_id_;
  const int line_;
  boost::asio::any_io_executor strand_;
  Generation generation_;
  std::unique_ptr<StreamEncoder> encoder_;
  GenerationOutput output_;
  Done done_;
};

}  // namespace ladle::server
