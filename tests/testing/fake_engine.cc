#include "tests/testing/fake_engine.h"

#include <algorithm>

#include "model/utf8.h"
#include "scheduler/chat_template.h"

namespace ladle::testing {
namespace {

constexpr TokenId kBos = 1;
constexpr TokenId kByteOffset = 3;

}  // namespace

FakeEngine::FakeEngine(FakeEngineOptions options) : options_(std::move(options)), paused_(options_.paused) {
  info_.name = "fake-model";
  info_.vocab_size = 256 + kByteOffset;
  info_.context_length = options_.context_length;
  info_.bos = kBos;
  info_.tokenizer = "fake";
  info_.chat_template = "plain";
  info_.dim = 8;
  info_.n_layers = 1;
  info_.n_heads = 1;
  info_.n_kv_heads = 1;
  thread_ = std::thread([this] { loop(); });
}

FakeEngine::~FakeEngine() { stop(); }

Expected<RequestId> FakeEngine::submit(scheduler::GenerationRequest request,
                                       std::weak_ptr<scheduler::TokenSink> sink) {
  std::lock_guard lock(mu_);
  if (stopping_) return make_error(ErrorCode::kUnavailable, "engine is stopping");
  if (request.prompt_tokens.empty()) return make_error(ErrorCode::kInvalidArgument, "empty prompt");
  if (static_cast<int>(request.prompt_tokens.size()) >= info_.context_length)
    return make_error(ErrorCode::kInvalidArgument, "prompt longer than the context");
  if (static_cast<int>(requests_.size()) >= options_.max_running + options_.max_waiting) return make_error(ErrorCode::kResourceExhausted, "waiting queue is full");
  RequestId id = next_id_++;
  submitted_.push_back(request);
  requests_.push_back(Request{id, std::move(request), std::move(sink)});
  cv_.notify_all();
  return id;
}

void FakeEngine::cancel(RequestId id) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(requests_.begin(), requests_.end(), [&](const Request& r) { return r.id == id; });
  if (it == requests_.end()) return;
  cancelled_.push_back(id);
  if (auto sink = it->sink.lock()) {
    scheduler::Finish f{scheduler::FinishReason::kCancelled,
                        {static_cast<int>(it->request.prompt_tokens.size()), it->generated, 0}, ""};
    pending_calls_.push_back([sink, f] { sink->on_finish(f); });
  }
  requests_.erase(it);
  cv_.notify_all();
}

Expected<std::vector<TokenId>> FakeEngine::tokenize(std::string_view text, bool add_special, bool) const {
  if (!model::is_valid_utf8(text)) return make_error(ErrorCode::kInvalidArgument, "prompt is not valid UTF-8");
  std::vector<TokenId> out;
  if (add_special) out.push_back(kBos);
  for (unsigned char c : text) out.push_back(static_cast<TokenId>(c) + kByteOffset);
  return out;
}

Expected<std::vector<TokenId>> FakeEngine::tokenize_chat(std::span<const scheduler::ChatMessage> messages,
                                                         bool continue_last) const {
  return tokenize(scheduler::render_plain_chat(messages, continue_last), true, true);
}

Expected<std::string> FakeEngine::detokenize(std::span<const TokenId> tokens) const {
  std::string out;
  for (TokenId t : tokens) {
    if (t < 0 || t >= info_.vocab_size) return make_error(ErrorCode::kInvalidArgument, "token id out of range");
    if (t >= kByteOffset) out += static_cast<char>(t - kByteOffset);
  }
  return out;
}

void FakeEngine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    paused_ = false;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void FakeEngine::set_paused(bool paused) {
  std::lock_guard lock(mu_);
  paused_ = paused;
  cv_.notify_all();
}

void FakeEngine::loop() {
  while (true) {
    std::vector<std::function<void()>> calls;
    bool done;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.step_interval, [&] { return !pending_calls_.empty() || stopping_; });
      calls.swap(pending_calls_);
      if (stopping_) {
        for (auto& r : requests_) {
          cancelled_.push_back(r.id);
          if (auto sink = r.sink.lock())
            calls.push_back([sink, n = static_cast<int>(r.request.prompt_tokens.size()), g = r.generated] {
              sink->on_finish({scheduler::FinishReason::kCancelled, {n, g, 0}, ""});
            });
        }
        requests_.clear();
      } else if (!paused_) {
        step_locked(calls);
      }
      done = stopping_;
    }
    for (auto& call : calls) call();
    if (done) return;
  }
}

// One token for each of the first max_running requests.
void FakeEngine::step_locked(std::vector<std::function<void()>>& calls) {
  int budget = options_.max_running;
  for (auto it = requests_.begin(); it != requests_.end() && budget > 0; --budget) {
    if (advance(*it, calls)) it = requests_.erase(it);
    else ++it;
  }
}

// Generates one token; true when the request finished (or its sink expired).
bool FakeEngine::advance(Request& r, std::vector<std::function<void()>>& calls) {
  auto sink = r.sink.lock();
  if (!sink) {
    cancelled_.push_back(r.id);
    return true;
  }
  const auto& p = r.request.params;
  if (!r.admitted) {
    r.admitted = true;
    calls.push_back([sink] { sink->on_admitted(0); });
  }
  r.text += options_.script[static_cast<std::size_t>(r.generated) % options_.script.size()];
  ++r.generated;
  std::size_t stop_at = std::string::npos;
  std::string matched;
  for (const auto& s : p.stop)
    if (const std::size_t at = r.text.find(s); at < stop_at) {
      stop_at = at;
      matched = s;
    }
  int prompt = static_cast<int>(r.request.prompt_tokens.size());
  bool length = r.generated >= p.max_tokens || prompt + r.generated >= info_.context_length;
  std::size_t end = stop_at == std::string::npos ? r.text.size() : stop_at;
  // Hold back any tail that might still become a stop string.
  std::size_t hold = 0;
  if (stop_at == std::string::npos && !length)
    for (const auto& s : p.stop)
      for (std::size_t k = std::min(s.size() - 1, r.text.size()); k > hold; --k)
        if (r.text.compare(r.text.size() - k, k, s, 0, k) == 0) hold = k;
  std::string delta = r.text.substr(r.sent, end - hold > r.sent ? end - hold - r.sent : 0);
  r.sent += delta.size();
  calls.push_back([sink, delta] { sink->on_delta(delta, 1); });
  if (stop_at == std::string::npos && !length) return false;
  scheduler::Finish f{stop_at != std::string::npos ? scheduler::FinishReason::kStop : scheduler::FinishReason::kLength,
                      {prompt, r.generated, 0}, "", matched, stop_at == std::string::npos && r.generated < p.max_tokens};
  calls.push_back([sink, f] { sink->on_finish(f); });
  return true;
}

int FakeEngine::num_live() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(requests_.size());
}

int FakeEngine::num_running() const {
  std::lock_guard lock(mu_);
  return paused_ ? 0 : std::min(static_cast<int>(requests_.size()), options_.max_running);
}

std::vector<RequestId> FakeEngine::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

std::vector<scheduler::GenerationRequest> FakeEngine::submitted() const {
  std::lock_guard lock(mu_);
  return submitted_;
}

bool FakeEngine::wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace ladle::testing
