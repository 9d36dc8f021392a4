// LlmEngine, its second half: the step thread. Each step drains the inbox (submissions and
// cancellations), asks the scheduler for a batch, runs the model on it, samples and emits tokens,
// finishes requests, and contains a step that throws (fail_step). Construction and the thread-safe
// entry points are llm_engine.cc; the state both share is llm_engine_impl.h.
#include <pthread.h>

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "model/utf8.h"
#include "scheduler/batch_builder.h"
#include "scheduler/llm_engine_impl.h"
#include "scheduler/logit_rows.h"

namespace ladle::scheduler {

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
  bool yielded = false;
  const bool batch_only = config.batch_yield && std::all_of(out.seqs.begin(), out.seqs.end(), [&](const auto& s) {
    return requests.at(s.id).request_class == RequestClass::kBatch;
  });
  const auto result = model->forward_dropping(batch, kv, [&] {
    std::vector<int> slices = cancel_mid_step(out);
    if (batch_only && !yielded && interactive_in_inbox()) {
      yielded = true;
      slices.resize(out.seqs.size());
      for (std::size_t i = 0; i < slices.size(); ++i) slices[i] = int(i);
    }
    return slices;
  });
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
  if (!yielded) scheduler.cost_model().observe(out.num_batched_tokens, out.num_sampled_rows, duration);
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

// NOTE(engine): --batch-yield. A step that holds batch rows alone runs the whole budget (no
// interactive work to share it with), and a person who arrives meanwhile waits for all of it: on
// the 110M shape a 128-token step is ~130 ms, half of what 8 prompts' own prefill takes (quiet Zen 4,
// BENCHMARKS.md, issue 19). With the flag such a step stops at the next layer boundary once an
// interactive submission is in the inbox: its rows are dropped as cancelled ones are (the model
// compacts them away), but the requests are not finished: the scheduler never sees their update,
// so their counters stay and the next steps compute the same positions again, overwriting the K/V
// the cut layers wrote. Sampling never ran for them, so their output does not change. The price is
// the batch work of the cut step, at most one step per interactive arrival into an engine busy
// with batch work alone; the cut step is kept out of the cost model.
bool LlmEngine::Impl::interactive_in_inbox() {
  std::lock_guard lock(mu);
  return int(inbox.size()) > num_batch_in_inbox;
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
