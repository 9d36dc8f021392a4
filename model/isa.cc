#include "model/isa.h"

#include <atomic>
#include <cassert>
#include <string>

#include "model/cpu_features.h"

namespace ladle::model {

namespace {

bool detect(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_supports_f16c();
  switch (isa) {
    case Isa::kPortable: return true;
    case Isa::kAvx2: return avx2;
    // __builtin_cpu_supports also checks that the OS saves the zmm/mask state (XCR0).
    case Isa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return isa == Isa::kPortable;
#endif
}

Isa detect_best() {
  if (detect(Isa::kAvx512)) return Isa::kAvx512;
  if (detect(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kPortable;
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> level{best_isa()};
  return level;
}

}  // namespace

namespace {
Error unsupported(Isa isa) {
  return make_error(ErrorCode::kInvalidArgument, std::string("--isa ") + isa_name(isa) +
                                                     ": this CPU does not support it (its best is " +
                                                     isa_name(best_isa()) + ")");
}
}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return "portable";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(Isa isa) {
  static const bool yes[3] = {true, detect(Isa::kAvx2), detect(Isa::kAvx512)};
  return yes[int(isa)];
}

Isa best_isa() {
  static const Isa best = detect_best();
  return best;
}

Isa active_isa() { return active().load(std::memory_order_relaxed); }

Status set_active_isa(Isa isa) {
  if (!cpu_supports(isa))
    return unsupported(isa);
  active().store(isa, std::memory_order_relaxed);
  return Ok{};
}

Expected<Isa> parse_isa(std::string_view name) {
  Isa isa;
  if (name == "auto") isa = best_isa();
  else if (name == "portable") isa = Isa::kPortable;
  else if (name == "avx2") isa = Isa::kAvx2;
  else if (name == "avx512") isa = Isa::kAvx512;
  else
    return make_error(ErrorCode::kInvalidArgument,
                      "--isa takes auto, portable, avx2 or avx512, not '" + std::string(name) + "'");
  if (!cpu_supports(isa))
    return unsupported(isa);
  return isa;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512})
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

ScopedIsa::ScopedIsa(Isa isa) : previous_(active_isa()) {
  const Status st = set_active_isa(isa);
  assert(st.ok());
  (void)st;
}

ScopedIsa::~ScopedIsa() { active().store(previous_, std::memory_order_relaxed); }

}  // namespace ladle::model
