// PLACEHOLDER until the subcommand lands; replaced by its owner.
#include <cstdio>
#include <span>
#include <string>

namespace ladle::loadgen {
int run_cancel_test(std::span<const std::string>) {
  std::fprintf(stderr, "ladle: this subcommand is not built yet\n");
  return 1;
}
}  // namespace ladle::loadgen
