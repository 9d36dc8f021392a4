// UTF-8 validation and repair for every piece of text ladle hands to a client.
//
// Free functions on byte strings, no state: any thread may call them. The rules are Unicode's
// (Table 3-7, "Well-Formed UTF-8 Byte Sequences"): no overlongs, no surrogates (ED A0..BF), nothing
// above U+10FFFF. Repair follows the "maximal subpart" practice (Unicode §3.9, U+FFFD substitution):
// each maximal prefix of a well-formed sequence that cannot be completed, and each byte that cannot
// start one, becomes a single U+FFFD. This is also what the WHATWG decoder and Python's
// bytes.decode("utf-8", "replace") do, so clients see the same text as any standard decoder would.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ladle::model {

// U+FFFD REPLACEMENT CHARACTER, encoded.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// True when `s` is entirely well-formed UTF-8 (the empty string is).
bool is_valid_utf8(std::string_view s);

// `s` with every ill-formed subsequence replaced by U+FFFD (per maximal subpart). Valid input is
// returned unchanged; an incomplete sequence at the end also becomes one U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Appends sanitize_utf8(s) to `out` without a temporary: the allocation-light form used on the
// engine thread.
void append_sanitized_utf8(std::string& out, std::string_view s);

// Number of bytes (0..3) at the end of `s` that form a well-formed but unfinished sequence: a lead
// byte and the continuation bytes that are still legal after it. Those bytes may yet become a valid
// character if more bytes follow, so a streaming decoder holds them back. Everything before them
// can be sanitized now: the result does not depend on what comes next.
std::size_t incomplete_utf8_tail(std::string_view s);

}  // namespace ladle::model
