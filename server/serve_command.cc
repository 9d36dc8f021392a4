// `ladle serve`: flags → Metrics → Server (listening at once, /health says "loading") → LlmEngine →
// serve until SIGINT/SIGTERM has drained the requests in flight; exit 0. With no --model it serves
// ./models/default.bin, writing a synthetic stories15M-shaped checkpoint there first if needed.
#include "server/serve_command.h"

#include <cstdlib>
#include <cstdio>
#include <filesystem>

#include "model/checkpoint_writer.h"
#include "model/tokenizer_writer.h"
#include "scheduler/engine_config.h"
#include "scheduler/llm_engine.h"
#include "server/metrics.h"
#include "server/server.h"

namespace ladle::server {
namespace {

// The default model: the stories15M shape (dim 288, 6 layers, vocab 32000, 256 positions).
Status ensure_default_model(scheduler::EngineConfig& config) {
  config.model_path = "models/default.bin";
  config.tokenizer_path = "models/default-tokenizer.bin";
  std::error_code ec;
  std::filesystem::create_directories("models", ec);
  model::ModelConfig shape{288, 768, 6, 6, 6, 32000, 256};
  if (!std::filesystem::exists(config.model_path)) {
    std::fprintf(stderr, "ladle serve: writing the default synthetic model to %s\n", config.model_path.c_str());
    if (Status s = model::write_synthetic_checkpoint(config.model_path, shape, 15); !s.ok()) return s;
  }
  if (!std::filesystem::exists(config.tokenizer_path))
    if (Status s = model::write_synthetic_tokenizer(config.tokenizer_path, shape.vocab_size); !s.ok()) return s;
  return Ok{};
}

int fail(const char* what, const Error& e) {
  std::fprintf(stderr, "ladle serve: %s: %s\n", what, e.message.c_str());
  return 1;
}

}  // namespace

int run_serve(std::span<const std::string> args) {
  scheduler::EngineConfig engine_config;
  ServerConfig server_config;
  FlagSet flags("ladle serve [--model M] [options]",
                "OpenAI-compatible streaming HTTP server (/v1/completions, /v1/chat/completions, /metrics).");
  scheduler::add_engine_flags(flags, engine_config);
  add_server_flags(flags, server_config);
  if (const char* key = std::getenv("LADLE_API_KEY"); key != nullptr) server_config.api_key = key;
  if (Status s = flags.parse(args); !s.ok()) return fail("bad flags", s.error());
  if (flags.help_requested()) return std::printf("%s", flags.help().c_str()), 0;
  if (engine_config.model_path.empty())
    if (Status s = ensure_default_model(engine_config); !s.ok()) return fail("default model", s.error());

  Metrics metrics;
  auto server = Server::create(server_config, &metrics);
  if (!server) return fail("cannot start the server", server.error());
  (*server)->start(/*handle_signals=*/true);
  std::fprintf(stderr, "ladle serve: listening on http://%s:%u (loading %s)\n", server_config.host.c_str(),
               (*server)->port(), engine_config.model_path.c_str());
  std::fprintf(stderr, "ladle serve: replica %s, data dir %s\n", (*server)->state().replica_id().c_str(),
               server_config.data_dir.empty() ? "(none)" : server_config.data_dir.c_str());

  auto engine = scheduler::LlmEngine::create(engine_config, &metrics);
  if (!engine) {
    (*server)->shutdown();
    (*server)->wait();
    return fail("cannot load the model", engine.error());
  }
  metrics.set_model_info((*engine)->model_info());
  (*engine)->start();
  (*server)->set_engine(engine->get(), [e = engine->get()] { e->stop(); });
  std::fprintf(stderr, "ladle serve: ready\n");
  (*server)->wait();
  (*engine)->stop();
  std::fprintf(stderr, "ladle serve: stopped\n");
  return 0;
}

}  // namespace ladle::server
