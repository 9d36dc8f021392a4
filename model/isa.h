// isa: the one place that decides which instruction-set level the model's kernels run at
// (matmul, attention, the small ops): portable C++, AVX2 (+FMA, F16C) or AVX-512 (F, BW, VL, DQ).
//
// The level is detected once from what the CPU reports and can be forced lower (a flag of `ladle
// serve`, `ladle generate` and the benches; the tests run every path the CPU has). Every level
// computes the same bits (model/matmul.h, model/attention.h, model/vec8.h): the level changes speed,
// never results.
//
// The active level is a process-wide setting read by every kernel call (a relaxed atomic load), set
// at start-up before the kernels run; tests switch it between cases with ScopedIsa.
#pragma once

#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::model {

enum class Isa { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// "portable", "avx2", "avx512".
const char* isa_name(Isa isa);

// Whether this CPU (and OS: the vector registers must be saved on context switch) can run `isa`.
bool cpu_supports(Isa isa);

// The highest level this CPU supports.
Isa best_isa();

// The level the kernels use now (best_isa() unless set).
Isa active_isa();

// Makes the kernels use `isa`. Fails, changing nothing, if the CPU lacks it.
Status set_active_isa(Isa isa);

// "portable" | "avx2" | "avx512" | "auto" (best_isa()) → the level, after checking that this CPU has
// it: an unknown name or a level the CPU lacks is an error naming the problem.
Expected<Isa> parse_isa(std::string_view name);

// Every level this CPU supports, lowest first (portable always).
std::vector<Isa> supported_isas();

// Sets the active level for a scope (tests, benches), restoring the previous one after. The level
// must be supported.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa);
  ~ScopedIsa();
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

}  // namespace ladle::model
