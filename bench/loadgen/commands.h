// Client-side subcommands: they talk HTTP to any OpenAI-compatible server.
#pragma once

#include <span>
#include <string>

namespace ladle::loadgen {

// `ladle bench`: closed/open-loop load, client-measured TTFT/ITL/TPOT/E2EL, reports.
int run_bench(std::span<const std::string> args);
// `ladle cancel-test`: drops streams at chosen points and checks /metrics for leaks.
int run_cancel_test(std::span<const std::string> args);

}  // namespace ladle::loadgen
