// ServerState's ids and replica: the replica's tag goes between an id's prefix and the next "_"
// (what deploy/nginx.conf's map reads), ids stay unique, and --replica-id is checked.
#include "server/server_state.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace ladle::server {
namespace {

TEST(ServerStateTest, IdsCarryTheReplicaTagBeforeTheFirstUnderscore) {
  ServerState state(ServerConfig{}, nullptr);
  state.set_replica("127.0.0.1:8081");
  EXPECT_EQ(state.replica_id(), "127.0.0.1:8081");
  const std::string id = state.next_id("resp_");
  // nginx: ~^/v1/(?:responses|batches|files)/[a-z]+[_-](?<owner>[A-Za-z0-9-]+)_
  std::smatch m;
  const std::string uri = "/v1/responses/" + id + "?stream=true";
  ASSERT_TRUE(std::regex_search(uri, m, std::regex("^/v1/(?:responses|batches|files)/[a-z]+[_-]([A-Za-z0-9-]+)_")))
      << id;
  EXPECT_EQ(m[1].str(), "127-0-0-1-8081");
  EXPECT_EQ(state.next_id("file-").rfind("file-127-0-0-1-8081_", 0), 0u);
}

TEST(ServerStateTest, IdsAreUniqueWithAndWithoutAReplica) {
  ServerState bare(ServerConfig{}, nullptr);
  EXPECT_EQ(bare.next_id("resp_").find('_', 5), std::string::npos);  // no replica: no tag
  ServerState state(ServerConfig{}, nullptr);
  state.set_replica("r1");
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(state.next_id("resp_"));
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(ids.begin()->rfind("resp_r1_", 0), 0u);
}

TEST(ServerStateTest, ReplicaIdIsCheckedForHeadersAndIds) {
  ServerConfig config;
  for (const char* good : {"", "r0", "gpu-a.example.com:8080", "10.0.0.2:8080"}) {
    config.replica_id = good;
    EXPECT_TRUE(config.validate().ok()) << good;
  }
  for (const char* bad : {"r_0", "a b", "x\r\nInjected: 1", "r/0"}) {
    config.replica_id = bad;
    EXPECT_FALSE(config.validate().ok()) << bad;
  }
  config.replica_id = std::string(65, 'a');
  EXPECT_FALSE(config.validate().ok());
}

}  // namespace
}  // namespace ladle::server

namespace ladle::server {
namespace {

// The ids a replica hands out (its tag first) are recognised as its own (the page's telemetry
// accepts reports only for those); another replica's are not.
TEST(ServerStateIssued, IdsWithTheReplicasTagAreItsOwn) {
  ServerState a(ServerConfig{}, nullptr), b(ServerConfig{}, nullptr);
  a.set_replica("127.0.0.1:8080");
  b.set_replica("127.0.0.1:8081");
  const std::string id = a.next_id("chatcmpl-");
  EXPECT_TRUE(a.issued(id)) << id;
  EXPECT_FALSE(b.issued(id)) << id;
  EXPECT_FALSE(a.issued(id + "9")) << "a counter not handed out yet";
  ServerState plain(ServerConfig{}, nullptr);
  EXPECT_TRUE(plain.issued(plain.next_id("resp_")));
}

}  // namespace
}  // namespace ladle::server
