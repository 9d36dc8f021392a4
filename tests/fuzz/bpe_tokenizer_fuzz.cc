// Fuzz target: the byte-level BPE tokenizer (model/bpe_tokenizer.h) and its pre-tokenizers
// (model/pretokenizer.h), on GPT-2's real vocabulary ($LADLE_FUZZ_BPE_VOCAB, else the build's
// LADLE_VOCAB_DIR/ggml-vocab-gpt-2.gguf) under each of the four pre-tokenizers. The first input
// byte picks the pre-tokenizer (bits 0-1) and whether special tokens are parsed (bit 2); the rest
// is the text. With bit 3 set, the rest is instead a GGUF file whose tokenizer is loaded
// (load_gguf_tokenizer: any metadata, either tokenizer kind) and, if it loads, run on a fixed text.
//
// Checks: no crash or sanitizer report; the words cover the text in order, none empty; every id is
// in the vocabulary; without special-token parsing the pieces of the ids are the text's bytes
// exactly (any bytes, valid UTF-8 or not), and decode() is the text with ill-formed UTF-8 repaired.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/any_tokenizer.h"
#include "model/bpe_tokenizer.h"
#include "model/gguf_file.h"
#include "model/utf8.h"

using namespace ladle;

namespace {

constexpr model::PreTokenizer kKinds[] = {model::PreTokenizer::kGpt2, model::PreTokenizer::kLlama3,
                                          model::PreTokenizer::kQwen2, model::PreTokenizer::kDefault};

// The GPT-2 vocabulary under each pre-tokenizer, built once.
const std::vector<std::unique_ptr<model::BpeTokenizer>>& tokenizers() {
  static const auto* all = [] {
    const char* env = std::getenv("LADLE_FUZZ_BPE_VOCAB");
    const std::string path = env ? env : std::string(LADLE_VOCAB_DIR) + "/ggml-vocab-gpt-2.gguf";
    auto file = model::GgufFile::open(path);
    if (!file) {
      std::fprintf(stderr, "bpe_tokenizer_fuzz: cannot open %s: %s\n", path.c_str(), file.error().message.c_str());
      std::abort();
    }
    auto* out = new std::vector<std::unique_ptr<model::BpeTokenizer>>();
    for (model::PreTokenizer kind : kKinds) {
      model::BpeTokenizer::Vocab v;
      for (std::string_view s : file->find("tokenizer.ggml.tokens")->strings) v.tokens.emplace_back(s);
      for (std::string_view s : file->find("tokenizer.ggml.merges")->strings) v.merges.emplace_back(s);
      v.types.assign(v.tokens.size(), model::BpeTokenizer::TokenType::kNormal);
      v.types.back() = model::BpeTokenizer::TokenType::kControl;  // <|endoftext|>
      v.pre = kind;
      v.bos = v.eos = TokenId(v.tokens.size() - 1);
      auto t = model::BpeTokenizer::from_vocab(std::move(v));
      if (!t) std::abort();
      out->push_back(std::make_unique<model::BpeTokenizer>(std::move(*t)));
    }
    return out;
  }();
  return *all;
}

// The rest of the input as a GGUF file: its tokenizer, if it loads, must encode and decode.
void fuzz_gguf_tokenizer(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size);
  auto file = model::GgufFile::parse(bytes, "fuzz.gguf");
  if (!file) return;
  auto tok = model::load_gguf_tokenizer(*file);
  if (!tok) return;
  const std::string text = "Hello world<|endoftext|> it's 12345 \xC3\xA4pfel\n\t\xF0\x9F\xA6\x99";
  for (bool special : {false, true}) {
    const auto ids = tok->encode(text, special, special);
    for (auto id : ids)
      if (id < 0 || id >= tok->vocab_size()) std::abort();
    const std::string back = tok->decode(ids);
    if (!model::is_valid_utf8(back)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  if (mode & 8) {
    fuzz_gguf_tokenizer(data + 1, size - 1);
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const model::BpeTokenizer& tok = *tokenizers()[mode & 3];
  const bool parse_special = mode & 4;

  std::vector<std::string_view> words;
  model::pretokenize(tok.pretokenizer(), text, words);
  std::size_t at = 0;
  for (std::string_view w : words) {
    if (w.empty() || w.data() != text.data() + at) std::abort();
    at += w.size();
  }
  if (at != text.size()) std::abort();

  const auto ids = tok.encode(text, /*add_special=*/true, parse_special);
  for (auto id : ids)
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  if (!parse_special) {
    std::string bytes;
    for (auto id : ids) bytes += tok.decode_piece(id);
    if (bytes != text) std::abort();
    if (tok.decode(ids) != model::sanitize_utf8(text)) std::abort();
  }
  return 0;
}
