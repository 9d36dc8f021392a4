#include "bench/loadgen/request_mix.h"

#include <gtest/gtest.h>

#include "bench/loadgen/stats.h"

namespace ladle::loadgen {
namespace {

TEST(RequestMixTest, WithoutMixOrDropsEveryRequestIsTheRunsOwn) {
  RequestMix mix(MixConfig{ApiEndpoint::kChat, false, 0, 7});
  for (int i = 0; i < 100; ++i) {
    RequestShape s = mix.next(32);
    EXPECT_EQ(s.endpoint, ApiEndpoint::kChat);
    EXPECT_TRUE(s.stream);
    EXPECT_TRUE(s.stop.empty());
    EXPECT_FALSE(s.drop_after || s.drop_after_events);
  }
}

TEST(RequestMixTest, MixesEndpointsStreamingStopsAndDropsAtEveryKindOfPoint) {
  RequestMix mix(MixConfig{ApiEndpoint::kCompletions, true, 0.3, 1});
  int chat = 0, streamed = 0, with_stop = 0, dropped = 0, early = 0, timed = 0, after_events = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    RequestShape s = mix.next(32);
    chat += s.endpoint == ApiEndpoint::kChat;
    streamed += s.stream;
    with_stop += !s.stop.empty();
    EXPECT_LE(s.stop.size(), 4u);
    if (s.drop_after_events) {
      EXPECT_TRUE(s.stream);
      EXPECT_GE(*s.drop_after_events, 1);
      EXPECT_LE(*s.drop_after_events, 31);
      ++after_events;
    }
    if (s.drop_after) (s.drop_after->count() <= 20'000 ? early : timed) += 1;
    dropped += s.drop_after || s.drop_after_events;
  }
  EXPECT_NEAR(dropped, 0.3 * n, 0.03 * n);
  EXPECT_NEAR(chat, 0.5 * n, 0.05 * n);
  EXPECT_NEAR(streamed, 0.7 * n, 0.05 * n);
  EXPECT_GT(with_stop, n / 2);
  EXPECT_GT(early, n / 20);
  EXPECT_GT(timed, n / 20);
  EXPECT_GT(after_events, n / 20);
}

TEST(RequestMixTest, TheSameSeedGivesTheSameRequests) {
  RequestMix a(MixConfig{ApiEndpoint::kCompletions, true, 0.5, 3}), b(MixConfig{ApiEndpoint::kCompletions, true, 0.5, 3});
  for (int i = 0; i < 50; ++i) {
    RequestShape x = a.next(16), y = b.next(16);
    EXPECT_EQ(x.endpoint, y.endpoint);
    EXPECT_EQ(x.stream, y.stream);
    EXPECT_EQ(x.stop, y.stop);
    EXPECT_EQ(x.drop_after_events, y.drop_after_events);
    EXPECT_EQ(x.drop_after, y.drop_after);
  }
}

TEST(RequestMixTest, DroppedRequestsAreNeitherCompletedNorFailed) {
  RequestSample ok, failed, dropped;
  ok.ok = true;
  ok.output_tokens = 3;
  failed.error = "HTTP 500";
  dropped.dropped = true;
  dropped.error = "dropped by the client";
  std::vector<RequestSample> samples = {ok, failed, dropped};
  RunSummary s = summarize(samples, 1.0, Slo{});
  EXPECT_EQ(s.completed, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.dropped, 1);
}

}  // namespace
}  // namespace ladle::loadgen
