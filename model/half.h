// half: IEEE 754 binary16 ("half") conversions, for weights stored at half precision
// (`--weights f16`): half the bytes to stream per token, at 11 bits of significand.
//
// Free functions, no state. The bulk conversions use F16C when the CPU has it and otherwise the
// scalar code; both give the same bits (round to nearest, ties to even, like vcvtps2ph with
// _MM_FROUND_TO_NEAREST_INT), so a model converts identically on every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ladle::model {

using Half = std::uint16_t;  // the bit pattern of one binary16 value

// Exact: every half is a float. NaNs come back quiet (as vcvtph2ps returns them).
float half_to_float(Half h);

// Rounds to nearest, ties to even. Magnitudes of 65520 and above become ±inf (65504 is the
// largest half); below 2^-14 the result is subnormal, and at most 2^-25 it is ±0. NaNs stay NaN
// (quiet, top payload bits kept).
Half float_to_half(float f);

// out[i] = float_to_half(in[i]) for in.size() values (out.size() must be at least that). Returns
// the index of the first value whose half is not finite (out of range, inf or NaN), or in.size()
// if every value fits; the whole span is converted either way.
std::size_t floats_to_halves(std::span<const float> in, std::span<Half> out);

// out[i] = half_to_float(in[i]) for in.size() values.
void halves_to_floats(std::span<const Half> in, std::span<float> out);

// Whether the bulk conversions above use F16C on this CPU (for tests and logs).
bool half_uses_f16c();

}  // namespace ladle::model
