// Fuzz target: TextStream (scheduler/text_stream.h), the UTF-8 assembly and stop-string holdback
// that every generated token goes through, on the trained tok512.bin ($LADLE_FUZZ_TOKENIZER, else
// LADLE_MODELS_DIR/tok512.bin).
//
// Input: byte 0 = k (bits 0-1: up to three stop strings; bit 2: the tokens are raw ids rather
// than the encoding of the text); then k stop strings, each a length byte (mod 8) and its bytes;
// then the text, or the raw ids as byte pairs.
// Checks: every delta is valid UTF-8; the concatenation of the deltas never contains a stop
// string (in its sanitized form, which is what is matched); it is a prefix of decode(tokens); if the stream reported a stop, a stop string starts
// right where the released text ends; otherwise (after finish) the released text is all of
// decode(tokens) and contains no stop string; text() is the concatenation.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "model/any_tokenizer.h"
#include "model/tokenizer.h"
#include "model/utf8.h"
#include "scheduler/text_stream.h"

using namespace ladle;

namespace {

const model::AnyTokenizer& tokenizer() {
  static const model::AnyTokenizer* tok = [] {
    const char* env = std::getenv("LADLE_FUZZ_TOKENIZER");
    const std::string path = env ? env : std::string(LADLE_MODELS_DIR) + "/tok512.bin";
    auto t = model::Tokenizer::load(path, 512);
    if (!t) {
      std::fprintf(stderr, "text_stream_fuzz: cannot load %s: %s\n", path.c_str(), t.error().message.c_str());
      std::abort();
    }
    return new model::AnyTokenizer(std::move(*t));
  }();
  return *tok;
}

bool contains_any(std::string_view s, const std::vector<std::string>& stops) {
  for (const auto& stop : stops)
    if (!stop.empty() && s.find(stop) != std::string_view::npos) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const model::AnyTokenizer& tok = tokenizer();
  std::size_t pos = 1;
  std::vector<std::string> stops;
  for (int i = 0; i < (data[0] & 3) && pos < size; ++i) {
    const std::size_t len = data[pos++] % 8;
    const std::size_t n = std::min(len, size - pos);
    stops.emplace_back(reinterpret_cast<const char*>(data) + pos, n);
    pos += n;
  }
  std::vector<TokenId> ids;
  if (data[0] & 4) {
    for (; pos + 1 < size; pos += 2) ids.push_back(TokenId((data[pos] | data[pos + 1] << 8) % tok.vocab_size()));
  } else {
    ids = tok.encode(std::string_view(reinterpret_cast<const char*>(data) + pos, size - pos), false, false);
  }
  // What the engine feeds: no BOS/EOS (they print nothing and end or skip the request).
  std::erase_if(ids, [](TokenId t) { return t == model::Tokenizer::kBos || t == model::Tokenizer::kEos; });

  scheduler::TextStream stream(tok, model::Tokenizer::kBos, stops);
  for (auto& stop : stops) stop = model::sanitize_utf8(stop);  // the form they are matched in
  std::string released;
  for (TokenId id : ids) {
    auto step = stream.push(id);
    if (!model::is_valid_utf8(step.text)) std::abort();
    released += step.text;
    if (contains_any(released, stops)) std::abort();
    if (step.stopped) break;
  }
  const bool stopped_by_push = stream.stopped();
  const std::string rest = stream.finish();
  if (!model::is_valid_utf8(rest) || (stopped_by_push && !rest.empty())) std::abort();
  // finish() may complete a match too: its U+FFFD for an unfinished character can match a stop
  // string that contains one (stop strings are matched in their sanitized form).
  const bool stopped = stream.stopped();
  released += rest;
  if (contains_any(released, stops)) std::abort();
  if (stream.text() != released) std::abort();
  const std::string full = tok.decode(ids, model::Tokenizer::kBos);
  if (full.compare(0, released.size(), released) != 0) std::abort();  // a prefix of the whole text
  if (stopped) {
    bool found = false;
    for (const auto& stop : stops)
      found |= !stop.empty() && full.compare(released.size(), stop.size(), stop) == 0;
    if (!found) std::abort();
  } else if (released != full) {
    std::fprintf(stderr, "released %zu bytes, decode() %zu bytes\n", released.size(), full.size());
    for (unsigned char c : released) std::fprintf(stderr, "%02x ", c);
    std::fprintf(stderr, "\n");
    for (unsigned char c : full) std::fprintf(stderr, "%02x ", c);
    std::fprintf(stderr, "\n");
    std::abort();
  }
  return 0;
}
