#include "model/q8_activations.h"

#include <cmath>
#include <limits>
#include <string>

#include "model/half.h"
#include "model/q8_panels.h"

namespace ladle::model {

const char* q8_activations_name(Q8Activations a) { return a == Q8Activations::kInt8 ? "int8" : "float"; }

Expected<Q8Activations> parse_q8_activations(std::string_view name) {
  if (name == "int8") return Q8Activations::kInt8;
  if (name == "float") return Q8Activations::kFloat;
  return make_error(ErrorCode::kInvalidArgument,
                    "--q8-activations must be int8 or float, not '" + std::string(name) + "'");
}

void quantize_activations(const float* x, int M, int K, Q8Rows& out) {
  static_assert(kQ8Block == 32, "Q8Rows::row_q assumes blocks of 32");
  out.M = M;
  out.K = K;
  out.blocks = q8_blocks(K);
  const std::size_t blocks = std::size_t(M) * out.blocks;
  if (out.q.size() < blocks * kQ8Block) out.q.resize(blocks * kQ8Block);
  if (out.d.size() < blocks) out.d.resize(blocks);
  for (int m = 0; m < M; ++m) {
    const float* row = x + std::size_t(m) * K;
    for (int b = 0; b < out.blocks; ++b) {
      const int k0 = b * kQ8Block, kn = std::min(kQ8Block, K - k0);
      std::int8_t* q = out.q.data() + (std::size_t(m) * out.blocks + b) * kQ8Block;
      float& d = out.d[std::size_t(m) * out.blocks + b];
      bool finite = true;
      for (int j = 0; j < kn; ++j) finite = finite && std::isfinite(row[k0 + j]);
      std::fill(q + kn, q + kQ8Block, std::int8_t(0));
      if (!finite) {
        std::fill(q, q + kn, std::int8_t(0));
        d = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      d = half_to_float(q8_quantize_block(row + k0, kn, q));
    }
  }
}

}  // namespace ladle::model
