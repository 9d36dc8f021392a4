// ServerState: what every connection of one server shares — settings, metrics, the engine (null
// while it loads), the draining flag and the count of generations in flight.
//
// Ownership: Server owns it; sessions and the router hold references and must not outlive it.
// Threads: every method may be called from any thread (atomics only).
#pragma once

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "scheduler/engine.h"
#include "server/server_config.h"

namespace ladle::server {

class BackgroundStore;
class BatchRunner;
class ClientTelemetry;
class Metrics;
class WakeQueue;

enum class Health { kLoading, kReady, kDraining };

class ServerState {
 public:
  ServerState(ServerConfig config, Metrics* metrics)
      : config_(std::move(config)), metrics_(metrics), max_connections_(config_.resolved_max_connections()),
        tag_(start_tag()) {}

  const ServerConfig& config() const { return config_; }
  // May be null (tests without metrics).
  Metrics* metrics() const { return metrics_; }

  // The engine, or null while the server is still loading it. Set once; it must outlive the
  // server's connections.
  scheduler::Engine* engine() const { return engine_.load(std::memory_order_acquire); }
  void set_engine(scheduler::Engine* engine) { engine_.store(engine, std::memory_order_release); }

  Health health() const {
    if (draining_.load()) return Health::kDraining;
    return engine() ? Health::kReady : Health::kLoading;
  }
  void start_draining() { draining_.store(true); }

  // Carries mailbox wake-ups from the engine thread to the I/O threads; null (direct posts) when
  // the server has none. Set once, before connections are accepted. Mailboxes keep a weak_ptr.
  const std::shared_ptr<WakeQueue>& wake_queue() const { return wake_queue_; }
  void set_wake_queue(std::shared_ptr<WakeQueue> queue) { wake_queue_ = std::move(queue); }

  // Background responses; set once, before connections are accepted (null in bare tests).
  BackgroundStore* background() const { return background_; }
  void set_background(BackgroundStore* store) { background_ = store; }

  // The Files and Batches APIs' runner (and store); set once, before connections are accepted
  // (null in bare tests).
  BatchRunner* batches() const { return batches_; }
  void set_batches(BatchRunner* runner) { batches_ = runner; }

  // Client telemetry (POST /v1/telemetry); null with --no-client-telemetry. Set once, before
  // connections are accepted.
  ClientTelemetry* client_telemetry() const { return client_telemetry_; }
  void set_client_telemetry(ClientTelemetry* telemetry) { client_telemetry_ = telemetry; }

  // Generations between a successful submit and the end of their response.
  void generation_started() { in_flight_.fetch_add(1); }
  void generation_ended() { in_flight_.fetch_sub(1); }
  int num_in_flight() const { return in_flight_.load(); }

  // Open client connections (HttpSession lifetimes). connection_opened() returns the count
  // including the new one; a connection beyond max_connections() is answered 503 and closed.
  int connection_opened() { return connections_.fetch_add(1) + 1; }
  void connection_closed() { connections_.fetch_sub(1); }
  int num_connections() const { return connections_.load(); }
  int max_connections() const { return max_connections_; }

  // A unique id with `prefix` ("cmpl-", "chatcmpl-", "msg_", "resp_", "req_"): a counter after
  // a tag drawn when the server started, so that a restarted server does not hand out an id a
  // client may still hold (and resume) from the previous one. With a replica set, its tag and
  // "_" come first ("resp_r1_0193...7"): the tag holds no "_", so a proxy reads the owner of an
  // id from the text between the prefix and the next "_" (deploy/nginx.conf).
  std::string next_id(std::string_view prefix) {
    std::string id(prefix);
    if (!replica_tag_.empty()) id += replica_tag_ + "_";
    return id + tag_ + std::to_string(next_id_.fetch_add(1) + 1);
  }
  // True when next_id() of this server has returned `id` (a short lowercase prefix, the replica's
  // tag and "_" if it has one, this start's tag, then a counter no larger than the last handed out).
  bool issued(std::string_view id) const {
    const std::size_t at = id.find(tag_);
    if (at == std::string_view::npos) return false;
    std::string_view prefix = id.substr(0, at);
    if (!replica_tag_.empty()) {
      const std::string own = replica_tag_ + "_";
      if (!prefix.ends_with(own)) return false;
      prefix.remove_suffix(own.size());
    }
    if (prefix.empty() || prefix.size() > 16) return false;
    for (char c : prefix)
      if (!((c >= 'a' && c <= 'z') || c == '_' || c == '-')) return false;
    const std::string_view digits = id.substr(at + tag_.size());
    if (digits.empty() || digits.size() > 19 || digits[0] == '0') return false;
    std::uint64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n <= next_id_.load();
  }

  // This server's name in a fleet (--replica-id, or host:port), sent as X-Ladle-Replica; its tag
  // is the id with every character other than a letter, digit or '-' as '-' ("127.0.0.1:8081"
  // -> "127-0-0-1-8081"). Set once, before connections are accepted; empty in bare tests.
  void set_replica(std::string id) {
    replica_tag_ = id;
    for (char& c : replica_tag_)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
    replica_id_ = std::move(id);
  }
  const std::string& replica_id() const { return replica_id_; }

 private:
  const ServerConfig config_;
  Metrics* const metrics_;
  std::atomic<scheduler::Engine*> engine_{nullptr};
  std::shared_ptr<WakeQueue> wake_queue_;
  BackgroundStore* background_ = nullptr;
  BatchRunner* batches_ = nullptr;
  ClientTelemetry* client_telemetry_ = nullptr;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  const int max_connections_;  // config_.resolved_max_connections()
  std::atomic<int> connections_{0};
  std::atomic<std::uint64_t> next_id_{0};
  const std::string tag_;
  std::string replica_id_;
  std::string replica_tag_;

  static std::string start_tag() {
    const auto t = std::chrono::system_clock::now().time_since_epoch().count();
    char buf[24];
    std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(t) & 0xffffffffffffULL);
    return buf;
  }
};

}  // namespace ladle::server
