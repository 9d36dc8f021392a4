// StreamCall and LoadDriver on real loopback sockets against the scripted fixture.
#include "bench/loadgen/stream_call.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "bench/loadgen/load_driver.h"
#include "bench/loadgen/server_gauges.h"
#include "bench/loadgen/url.h"
#include "tests/loadgen/scripted_sse_server.h"

namespace ladle::loadgen {
namespace {

using testing::chunk;
using testing::Piece;
using testing::ScriptedSseServer;
using testing::text_event;
using testing::usage_event;
using std::chrono::milliseconds;

CallResult call(const ScriptedSseServer& server, bool stream = true, std::optional<int> drop_after_events = {},
                std::optional<std::chrono::microseconds> drop_after = {}) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve("127.0.0.1", std::to_string(server.port()));
  CallOptions opts;
  opts.host = "127.0.0.1";
  opts.target = "/v1/completions";
  CompletionRequest req;
  req.prompt = "once upon";
  req.stream = stream;
  opts.body = build_request_body(req);
  opts.stream = stream;
  opts.timeout = milliseconds(5000);
  opts.drop_after_events = drop_after_events;
  opts.drop_after = drop_after;
  CallResult out;
  StreamCall::start(ioc, endpoints, opts, RequestSample{}, [&](CallResult&& r) { out = std::move(r); });
  ioc.run();
  return out;
}

TEST(StreamCallTest, TimestampsEveryEventAsItArrives) {
  ScriptedSseServer server([](const std::string&) {
    return std::vector<Piece>{{milliseconds(0), testing::sse_head()},
                              {milliseconds(60), text_event("Once")},
                              {milliseconds(120), text_event(" upon")},
                              {milliseconds(120), ": keep-alive\n\n" + text_event(" a")},
                              {milliseconds(5), usage_event(3, 3) + "data: [DONE]\n\n"}};
  });
  CallResult r = call(server);
  const RequestSample& s = r.sample;
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.http_status, 200);
  EXPECT_EQ(s.content_events, 3);
  EXPECT_EQ(s.output_tokens, 3);
  EXPECT_EQ(s.prompt_tokens, 3);
  EXPECT_TRUE(s.usage_reported);
  // The server waits 60 ms, then 120 and 120 between the texts: no event can arrive earlier than
  // that, so the first token and the last one have lower bounds. A gap between two events can
  // shrink by as much as the earlier read was delayed (a loaded machine), hence the 120 ms gaps
  // and a bound of half that: a client that stamped the events at the end would give ~0.
  // Upper bounds on a shared machine would time the scheduler, not the client.
  EXPECT_GE(s.ttft_ms, 55);
  ASSERT_EQ(s.itl_ms.size(), 2u);
  double itl_sum = 0;
  for (double itl : s.itl_ms) {
    EXPECT_GE(itl, 60);
    itl_sum += itl;
  }
  EXPECT_GE(s.ttft_ms + itl_sum, 295);  // the last text left the server 300 ms after the request
  EXPECT_LE(s.ttft_ms + itl_sum, s.e2e_ms + 1e-6);
  EXPECT_NEAR(s.tpot_ms(), (s.e2e_ms - s.ttft_ms) / 2, 1e-9);
  auto body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

TEST(StreamCallTest, ChunkedEncodingSplitMidEventAndMergedTokens) {
  ScriptedSseServer server([](const std::string&) {
    std::string two = text_event("a") + text_event("b");  // two events in one write: one read
    std::string rest = usage_event(1, 6) + "data: [DONE]\n\n";
    return std::vector<Piece>{{milliseconds(0), testing::chunked_head()},
                              {milliseconds(5), chunk(two.substr(0, 9))},
                              {milliseconds(20), chunk(two.substr(9))},
                              {milliseconds(20), chunk(text_event("c"))},
                              {milliseconds(1), chunk(rest) + "0\r\n\r\n"}};
  });
  CallResult r = call(server);
  ASSERT_TRUE(r.sample.ok) << r.sample.error;
  EXPECT_EQ(r.sample.content_events, 3);
  EXPECT_EQ(r.sample.output_tokens, 6);  // from usage, more than events
  EXPECT_TRUE(r.sample.merged_tokens());
  ASSERT_EQ(r.sample.itl_ms.size(), 2u);
  EXPECT_LT(r.sample.itl_ms[0], 5);  // "b" arrived in the same read as "a"
  EXPECT_GE(r.sample.ttft_ms, 20);   // the first event was complete only after the second write
}

TEST(StreamCallTest, TruncatedStreamIsAnError) {
  ScriptedSseServer server([](const std::string&) {
    return std::vector<Piece>{{milliseconds(0), testing::sse_head() + text_event("x") + "data: {\"cho"}};
  });
  CallResult r = call(server);
  EXPECT_FALSE(r.sample.ok);
  EXPECT_NE(r.sample.error.find("truncated"), std::string::npos) << r.sample.error;
  EXPECT_EQ(r.sample.content_events, 1);
}

TEST(StreamCallTest, HttpErrorAndErrorEvent) {
  ScriptedSseServer bad_status([](const std::string&) {
    std::string body = R"({"error":{"message":"overloaded"}})";
    return std::vector<Piece>{{milliseconds(0), "HTTP/1.1 503 Service Unavailable\r\nContent-Length: " +
                                                   std::to_string(body.size()) + "\r\n\r\n" + body}};
  });
  CallResult r = call(bad_status);
  EXPECT_FALSE(r.sample.ok);
  EXPECT_EQ(r.sample.http_status, 503);
  EXPECT_NE(r.sample.error.find("overloaded"), std::string::npos);
  ScriptedSseServer error_event([](const std::string&) {
    return std::vector<Piece>{{milliseconds(0), testing::sse_head() + text_event("x") +
                                                    "data: {\"error\":{\"message\":\"Failed to parse\"}}\n\n"
                                                    "data: [DONE]\n\n"}};
  });
  CallResult e = call(error_event);
  EXPECT_FALSE(e.sample.ok);
  EXPECT_EQ(e.sample.error, "error event: Failed to parse");
}

TEST(StreamCallTest, NonStreamedResponse) {
  ScriptedSseServer server([](const std::string& body) {
    EXPECT_EQ(nlohmann::json::parse(body)["stream"], false);
    std::string json = R"({"choices":[{"text":"hello there"}],"usage":{"prompt_tokens":2,"completion_tokens":4}})";
    return std::vector<Piece>{{milliseconds(30), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                                    std::to_string(json.size()) + "\r\n\r\n" + json}};
  });
  CallResult r = call(server, /*stream=*/false);
  ASSERT_TRUE(r.sample.ok) << r.sample.error;
  EXPECT_EQ(r.sample.output_tokens, 4);
  EXPECT_GE(r.sample.e2e_ms, 25);
  EXPECT_EQ(r.sample.ttft_ms, r.sample.e2e_ms);
}

std::vector<Piece> slow_stream(int events) {
  std::vector<Piece> p{{milliseconds(0), testing::sse_head()}};
  for (int i = 0; i < events; ++i) p.push_back({milliseconds(10), text_event("t")});
  p.push_back({milliseconds(0), "data: [DONE]\n\n"});
  return p;
}

TEST(StreamCallTest, DropsAfterEventsAndTheServerSeesTheClose) {
  ScriptedSseServer server([](const std::string&) { return slow_stream(100); });
  CallResult r = call(server, true, 3);
  EXPECT_TRUE(r.sample.dropped);
  EXPECT_FALSE(r.sample.ok);
  EXPECT_EQ(r.sample.content_events, 3);
  EXPECT_TRUE(r.saw_content_before_close);
  EXPECT_GE(r.closed_at, r.sent_at);
  for (int i = 0; i < 200 && server.broken_writes() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(server.broken_writes(), 1);
}

TEST(StreamCallTest, DropsOnATimerBeforeTheFirstToken) {
  ScriptedSseServer server([](const std::string&) {
    auto p = slow_stream(5);
    p[1].delay_before = milliseconds(200);
    return p;
  });
  CallResult r = call(server, true, {}, std::chrono::microseconds(20000));
  EXPECT_TRUE(r.sample.dropped);
  EXPECT_FALSE(r.saw_content_before_close);
  double ms = std::chrono::duration<double, std::milli>(r.closed_at - r.sent_at).count();
  EXPECT_GE(ms, 19);  // not before its drop point; that it came before the content (200 ms on) is
                     // saw_content_before_close's check, which no load can flake
}

TEST(LoadDriverTest, ClosedLoopIssuesExactlyNumRequestsWithBoundedConcurrency) {
  std::atomic<int> in_flight{0}, peak{0};
  ScriptedSseServer server([&](const std::string&) {
    int now = ++in_flight;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    auto pieces = slow_stream(4);
    pieces.back().bytes = usage_event(5, 4) + "data: [DONE]\n\n";
    --in_flight;  // NOTE: decremented before writing; peak is measured at request arrival
    return pieces;
  });
  Workload workload(WorkloadConfig{8, 4, 0.0, 0, 1});
  LoadTarget target;
  target.url = *parse_url(server.url());
  target.model = "m";
  LoadDriver driver(target, workload);
  RunPlan plan;
  plan.concurrency = 3;
  plan.num_requests = 10;
  int progress_calls = 0;
  auto result = driver.run(plan, [&](int, int, int in_flight_now, double) {
    ++progress_calls;
    EXPECT_LE(in_flight_now, 3);
  });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->samples.size(), 10u);
  EXPECT_EQ(server.requests(), 10);
  EXPECT_EQ(progress_calls, 10);
  for (const auto& s : result->samples) {
    EXPECT_TRUE(s.ok) << s.error;
    EXPECT_EQ(s.output_tokens, 4);
    EXPECT_EQ(s.level, 3);
    EXPECT_EQ(s.itl_ms.size(), 3u);
  }
  EXPECT_LE(peak.load(), 3);
  EXPECT_GT(result->duration_s, 0.04);
}

TEST(LoadDriverTest, OpenLoopFollowsTheRateAndStopsAtTheDuration) {
  ScriptedSseServer server([](const std::string&) { return slow_stream(1); });
  Workload workload(WorkloadConfig{4, 1, 0.0, 0, 1});
  LoadTarget target;
  target.url = *parse_url(server.url());
  LoadDriver driver(target, workload);
  RunPlan plan;
  plan.request_rate = 50;
  plan.num_requests = 1000;
  plan.duration_s = 0.5;
  auto result = driver.run(plan);
  ASSERT_TRUE(result.ok());
  // ~25 arrivals in 0.5 s at 50/s (Poisson: ±3σ ≈ ±15).
  EXPECT_GT(result->samples.size(), 10u);
  EXPECT_LT(result->samples.size(), 45u);
  double last_start = 0;
  for (const auto& s : result->samples) last_start = std::max(last_start, s.start_s);
  EXPECT_LT(last_start, 0.6);
}

TEST(LoadDriverTest, OpenLoopMaxConcurrencyHoldsArrivalsBack) {
  std::atomic<int> in_flight{0}, peak{0};
  ScriptedSseServer server([&](const std::string&) {
    int now = ++in_flight;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    std::this_thread::sleep_for(milliseconds(20));  // every request takes >= 20 ms
    --in_flight;
    return slow_stream(1);
  });
  Workload workload(WorkloadConfig{4, 1, 0.0, 0, 1});
  LoadTarget target;
  target.url = *parse_url(server.url());
  LoadDriver driver(target, workload);
  RunPlan plan;
  plan.request_rate = std::numeric_limits<double>::infinity();  // all 12 arrive at once
  plan.max_concurrency = 2;
  plan.num_requests = 12;
  auto result = driver.run(plan);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->samples.size(), 12u);
  EXPECT_EQ(server.requests(), 12);
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(result->duration_s, 6 * 0.02);  // 12 requests, 2 at a time, 20 ms each
}

// --alt-url: the requests of one run alternate between two addresses, in pairs per client
// (0,0,1,1,...) from four phases, so that each round of requests has both paths and a request of
// either path follows one of either path; each sample names its path and client, and both paths
// get the same request apart from the prompt's words.
TEST(LoadDriverTest, AltUrlAlternatesEachClientBetweenThePaths) {
  // Path 0's server sends 2 token events, path 1's 3: a sample's events say who answered it.
  ScriptedSseServer server0([](const std::string&) { return slow_stream(2); });
  ScriptedSseServer server1([](const std::string&) { return slow_stream(3); });
  Workload workload(WorkloadConfig{8, 4, 0.0, 0, 1});
  LoadTarget target;
  target.url = *parse_url(server0.url());
  target.alt_url = *parse_url(server1.url());
  target.model = "m";
  target.seed = 7;
  LoadDriver driver(target, workload);
  RunPlan plan;
  plan.concurrency = 4;
  plan.num_requests = 24;
  auto result = driver.run(plan);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->samples.size(), 24u);
  int on_path[2] = {0, 0};
  std::map<int, std::vector<const RequestSample*>> by_client;
  for (const auto& s : result->samples) {
    ASSERT_TRUE(s.ok) << s.error;
    ASSERT_TRUE(s.path == 0 || s.path == 1);
    EXPECT_EQ(s.content_events, 2 + s.path) << "request " << s.index << " answered by the other path's server";
    ++on_path[s.path];
    ASSERT_GE(s.client, 0);
    ASSERT_LT(s.client, 4);
    by_client[s.client].push_back(&s);
  }
  EXPECT_EQ(on_path[0], server0.requests());
  EXPECT_EQ(on_path[1], server1.requests());
  EXPECT_GT(on_path[0], 0);
  EXPECT_GT(on_path[1], 0);
  ASSERT_EQ(by_client.size(), 4u);
  std::set<std::pair<int, int>> second_after_first;  // (path of request 0, path of request 1) per client
  for (auto& [client, samples] : by_client) {
    std::sort(samples.begin(), samples.end(), [](auto* a, auto* b) { return a->index < b->index; });
    for (std::size_t k = 0; k < samples.size(); ++k)
      EXPECT_EQ(samples[k]->path, static_cast<int>(((client + k) / 2) % 2)) << "client " << client << ", request " << k;
    ASSERT_GE(samples.size(), 2u);
    second_after_first.insert({samples[0]->path, samples[1]->path});
  }
  EXPECT_EQ(second_after_first.size(), 4u) << "either path follows either path";
  auto without_prompt = [](const std::string& body) {
    auto j = nlohmann::json::parse(body);
    j.erase("prompt");
    return j;
  };
  EXPECT_EQ(without_prompt(server0.last_body()), without_prompt(server1.last_body()));
  EXPECT_EQ(without_prompt(server0.last_body())["seed"], 7);

  // An odd seed swaps the paths of every phase.
  plan.arrival_seed = 1;
  plan.num_requests = 8;
  auto swapped = driver.run(plan);
  ASSERT_TRUE(swapped.ok());
  std::map<int, std::vector<const RequestSample*>> swapped_by_client;
  for (const auto& s : swapped->samples) swapped_by_client[s.client].push_back(&s);
  for (auto& [client, samples] : swapped_by_client) {
    std::sort(samples.begin(), samples.end(), [](auto* a, auto* b) { return a->index < b->index; });
    for (std::size_t k = 0; k < samples.size(); ++k)
      EXPECT_EQ(samples[k]->path, static_cast<int>(((client + k) / 2 + 1) % 2)) << "client " << client << ", request " << k;
  }
}

// --jitter: each closed-loop request waits its own draw in [0, J) before it is sent (timers never
// fire early, so every start is at least the draw after its client became free); the draws come
// from the seed; without --jitter nothing waits.
TEST(LoadDriverTest, StartJitterDelaysEachRequestByItsOwnDraw) {
  ScriptedSseServer server([](const std::string&) { return slow_stream(1); });
  auto run = [&](double jitter_ms, std::uint64_t seed) {
    Workload workload(WorkloadConfig{4, 1, 0.0, 0, 1});
    LoadTarget target;
    target.url = *parse_url(server.url());
    LoadDriver driver(target, workload);
    RunPlan plan;
    plan.concurrency = 3;
    plan.num_requests = 9;
    plan.arrival_seed = seed;
    plan.start_jitter_ms = jitter_ms;
    auto result = driver.run(plan);
    EXPECT_TRUE(result.ok());
    auto samples = result->samples;
    std::sort(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.index < b.index; });
    return samples;
  };
  auto a = run(40, 5), b = run(40, 5), none = run(0, 5);
  ASSERT_EQ(a.size(), 9u);
  ASSERT_EQ(b.size(), 9u);
  std::map<int, double> client_free_at;  // ms after the run's start
  double lo = 1e9, hi = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const RequestSample& s = a[i];
    ASSERT_TRUE(s.ok) << s.error;
    EXPECT_GE(s.wait_ms, 0.0);
    EXPECT_LT(s.wait_ms, 40.0);
    EXPECT_EQ(s.wait_ms, b[i].wait_ms) << "the same seed draws the same waits";
    EXPECT_GE(s.start_s * 1000, client_free_at[s.client] + s.wait_ms - 0.01) << "request " << s.index;
    client_free_at[s.client] = (s.start_s * 1000) + s.e2e_ms;
    lo = std::min(lo, s.wait_ms);
    hi = std::max(hi, s.wait_ms);
  }
  EXPECT_GT(hi - lo, 1.0);  // nine draws from [0, 40) are not all alike
  for (const auto& s : none) EXPECT_EQ(s.wait_ms, 0.0);
}

// --server-timing: the URL asks for ladle's `: server-ttft-ms` comment and each sample keeps its
// value; a stream without it leaves -1, and other comments are not taken for it.
TEST(LoadDriverTest, ServerTimingAsksForAndKeepsTheServersTtft) {
  ScriptedSseServer server([](const std::string&) {
    auto pieces = slow_stream(2);
    pieces.insert(pieces.begin() + 1, Piece{milliseconds(0), ": ping\n\n: server-ttft-ms 12.345\n\n"});
    return pieces;
  });
  ScriptedSseServer plain([](const std::string&) {
    auto pieces = slow_stream(2);
    pieces.insert(pieces.begin() + 1, Piece{milliseconds(0), ": ping\n\n"});
    return pieces;
  });
  auto run = [](const ScriptedSseServer& s, bool timing) {
    Workload workload(WorkloadConfig{4, 2, 0.0, 0, 1});
    LoadTarget target;
    target.url = *parse_url(s.url());
    target.server_timing = timing;
    LoadDriver driver(target, workload);
    RunPlan plan;
    plan.concurrency = 2;
    plan.num_requests = 4;
    return driver.run(plan);
  };
  auto timed = run(server, true);
  ASSERT_TRUE(timed.ok());
  EXPECT_EQ(server.last_target(), "/v1/completions?server_timing=1");
  for (const auto& s : timed->samples) {
    ASSERT_TRUE(s.ok) << s.error;
    EXPECT_DOUBLE_EQ(s.server_ttft_ms, 12.345);
  }
  auto untimed = run(plain, false);
  ASSERT_TRUE(untimed.ok());
  EXPECT_EQ(plain.last_target(), "/v1/completions");
  for (const auto& s : untimed->samples) EXPECT_EQ(s.server_ttft_ms, -1.0);
}

TEST(LoadDriverTest, WithoutAltUrlEverySampleIsPathZero) {
  ScriptedSseServer server([](const std::string&) { return slow_stream(1); });
  Workload workload(WorkloadConfig{4, 1, 0.0, 0, 1});
  LoadTarget target;
  target.url = *parse_url(server.url());
  LoadDriver driver(target, workload);
  RunPlan plan;
  plan.request_rate = std::numeric_limits<double>::infinity();
  plan.num_requests = 6;
  auto result = driver.run(plan);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->samples.size(), 6u);
  for (const auto& s : result->samples) {
    EXPECT_EQ(s.path, 0);
    EXPECT_EQ(s.client, -1);  // open loop
  }
  EXPECT_EQ(server.requests(), 6);
}

TEST(ServerGaugesTest, ReadsLadleMetricsOverHttp) {
  ScriptedSseServer server([](const std::string&) {
    std::string body =
        "ladle_num_requests_running 2\nladle_num_requests_waiting 1\nladle_kv_cache_blocks_used 9\n"
        "ladle_generation_tokens_total 120\nladle_requests_finished_total{reason=\"stop\"} 3\n";
    return std::vector<Piece>{{milliseconds(0), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                                   std::to_string(body.size()) + "\r\n\r\n" + body}};
  });
  auto g = read_gauges(*parse_url(server.url()));
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->running, 2);
  EXPECT_EQ(g->waiting, 1);
  EXPECT_EQ(g->blocks_used, 9);
  EXPECT_EQ(g->generation_tokens, 120);
  EXPECT_EQ(g->cancelled, 0);  // the family exists, the label was never incremented
  ServerGauges idle;
  idle.running = 0;
  idle.waiting = 0;
  idle.blocks_used = 9;
  EXPECT_FALSE(g->at_or_below(idle));
  g->running = 0;
  g->waiting = 0;
  EXPECT_TRUE(g->at_or_below(idle));
  g->blocks_used = 10;
  EXPECT_FALSE(g->at_or_below(idle));
}

TEST(ServerGaugesTest, UnreachableServerIsAnError) {
  unsigned short port;
  {
    ScriptedSseServer server([](const std::string&) { return std::vector<Piece>{}; });
    port = server.port();
  }
  EXPECT_FALSE(read_gauges(*parse_url("http://127.0.0.1:" + std::to_string(port))).ok());
}

}  // namespace
}  // namespace ladle::loadgen
