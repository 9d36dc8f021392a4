// Fuzz target: the tokenizer (model/tokenizer.h, on the trained tok512.bin) and the UTF-8
// validator (model/utf8.h). The tokenizer file is $LADLE_FUZZ_TOKENIZER, else the build's
// LADLE_MODELS_DIR/tok512.bin.
//
// Checks: no crash or sanitizer report; encode gives BOS then in-vocabulary ids; decoding them
// gives back the text with ill-formed UTF-8 repaired (decode(encode(s)) == sanitize_utf8(s));
// is_valid_utf8(s) exactly when sanitizing changes nothing; sanitized text is valid; the in-place
// append form agrees; an incomplete tail is at most 3 bytes and is what keeps a valid prefix from
// being a valid whole.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "model/tokenizer.h"
#include "model/utf8.h"

using namespace ladle;

namespace {

const model::Tokenizer& tokenizer() {
  static const model::Tokenizer* tok = [] {
    const char* env = std::getenv("LADLE_FUZZ_TOKENIZER");
    const std::string path = env ? env : std::string(LADLE_MODELS_DIR) + "/tok512.bin";
    auto t = model::Tokenizer::load(path, 512);
    if (!t) {
      std::fprintf(stderr, "tokenizer_fuzz: cannot load %s: %s\n", path.c_str(), t.error().message.c_str());
      std::abort();
    }
    return new model::Tokenizer(std::move(*t));
  }();
  return *tok;
}

void check_utf8(std::string_view s) {
  const std::string clean = model::sanitize_utf8(s);
  if (model::is_valid_utf8(s) != (clean == s)) std::abort();
  if (!model::is_valid_utf8(clean)) std::abort();
  std::string appended = "x";
  model::append_sanitized_utf8(appended, s);
  if (appended != "x" + clean) std::abort();
  const std::size_t tail = model::incomplete_utf8_tail(s);
  if (tail > 3 || tail > s.size()) std::abort();
  if (tail > 0 && model::is_valid_utf8(s)) std::abort();  // a valid whole has no unfinished end
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_utf8(text);
  const model::Tokenizer& tok = tokenizer();
  const auto ids = tok.encode(text, /*bos=*/true, /*eos=*/false);
  if (ids.empty() || ids[0] != model::Tokenizer::kBos) std::abort();
  for (auto id : ids)
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  const std::string decoded = tok.decode(std::span(ids).subspan(1), model::Tokenizer::kBos);
  if (decoded != model::sanitize_utf8(text)) {
    std::fprintf(stderr, "round trip: %zu bytes in, %zu bytes out\n", text.size(), decoded.size());
    std::abort();
  }
  return 0;
}
