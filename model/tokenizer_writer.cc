// Tokenizer file writers and the synthetic vocabulary (see tokenizer_writer.h).
#include "model/tokenizer_writer.h"

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "model/replacing_file.h"
#include "model/tokenizer.h"

namespace ladle::model {
namespace {

// Common English words, most frequent first (TinyStories-flavoured). Their spelled-out prefixes
// become merges, so typical text encodes into whole-word pieces.
constexpr std::string_view kWords[] = {
    "the", "and", "to", "a", "was", "he", "she", "it", "of", "in", "they", "her", "his", "said",
    "you", "with", "that", "day", "on", "for", "is", "had", "big", "one", "there", "time", "upon",
    "once", "little", "girl", "boy", "named", "play", "saw", "very", "happy", "mom", "friend",
    "friends", "we", "not", "so", "what", "but", "were", "them", "wanted", "could", "all", "went",
    "be", "at", "up", "do", "can", "like", "want", "go", "are", "have", "this", "from", "out",
    "an", "my", "me", "him", "their", "when", "too", "some", "new", "would", "made", "see",
    "help", "fun", "red", "ball", "park", "tree", "dog", "cat", "bird", "sun", "love", "loved",
    "good", "nice", "sad", "home", "toy", "came", "find", "look", "looked", "away", "together",
    "because", "lily", "ben", "tim", "sue", "many", "every", "again", "know", "thank", "sorry",
};

// Short fragments worth a piece of their own (suffixes and frequent bigrams).
constexpr std::string_view kFragments[] = {
    "ed", "ing", "er", "ly", "es", "th", "he", "in", "an", "on", "re", "at", "en", "nd", "ou",
    "st", "ar", "or", "ha", "ve", "ll", "oo", "ee", "ay", "ow", "ould", "ight", "ter", "ent",
};

// Builds the vocabulary in priority order, skipping duplicates.
class VocabBuilder {
 public:
  explicit VocabBuilder(std::size_t target) : target_(target) { pieces_.reserve(target); }
  bool full() const { return pieces_.size() >= target_; }
  // Adds `p` unless already present; callers guarantee p minus its last char is already a piece.
  void add(std::string p) {
    if (full() || !seen_.insert(p).second) return;
    pieces_.push_back(std::move(p));
  }
  // Adds every prefix of `s` of length >= 2 in order: the chain of merges that spells it.
  void add_spelled(std::string_view s) {
    for (std::size_t n = 2; n <= s.size(); ++n) add(std::string(s.substr(0, n)));
  }
  std::vector<std::string> take() { return std::move(pieces_); }

 private:
  std::size_t target_;
  std::vector<std::string> pieces_;
  std::unordered_set<std::string> seen_;
};

// " " + w. (Spelled out: GCC 12 gives a false -Wrestrict for `" " + std::string`.)
std::string spaced(std::string_view w) {
  std::string s;
  s.reserve(w.size() + 1);
  s.push_back(' ');
  s.append(w);
  return s;
}

std::string capitalized(std::string_view w) {
  std::string s(w);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// Systematic fill: " "+letter+..., letter n-grams of growing length over a-z, each the
// concatenation of its (n-1)-prefix and a letter, so every one is reachable by merges.
void add_ngrams(VocabBuilder& v) {
  const std::string letters = "etaoinshrdlcumwfgypbvkjxqz";  // English frequency order
  std::vector<std::string> layer = {""};
  for (int len = 1; len <= 5 && !v.full(); ++len) {
    std::vector<std::string> next_layer;
    next_layer.reserve(layer.size() * letters.size());
    for (const std::string& stem : layer) {
      for (char c : letters) next_layer.push_back(stem + c);
    }
    for (const std::string& g : next_layer) {
      if (len >= 2) v.add(g);
      v.add(spaced(g));
      v.add(spaced(capitalized(g)));
      if (v.full()) return;
    }
    layer = std::move(next_layer);
  }
}

}  // namespace

Status write_tokenizer(const std::string& path, std::span<const std::string> pieces,
                       std::span<const float> scores) {
  if (pieces.size() != scores.size()) {
    return make_error(ErrorCode::kInvalidArgument, "write_tokenizer: pieces and scores differ in length");
  }
  std::int32_t max_len = 0;
  for (const std::string& p : pieces) max_len = std::max<std::int32_t>(max_len, static_cast<std::int32_t>(p.size()));
  ReplacingFile out(path);  // as the checkpoint writer: never a half-written tokenizer at `path`
  if (auto st = out.opened(); !st.ok()) return st;
  std::FILE* f = out.get();
  bool ok = std::fwrite(&max_len, sizeof max_len, 1, f) == 1;
  for (std::size_t i = 0; ok && i < pieces.size(); ++i) {
    const auto len = static_cast<std::int32_t>(pieces[i].size());
    ok = std::fwrite(&scores[i], sizeof(float), 1, f) == 1 && std::fwrite(&len, sizeof len, 1, f) == 1 &&
         std::fwrite(pieces[i].data(), 1, pieces[i].size(), f) == pieces[i].size();
  }
  if (!ok) return make_error(ErrorCode::kInternal, "I/O error writing tokenizer " + out.temp_path());
  return out.commit();
}

Expected<std::vector<std::string>> synthetic_tokenizer_pieces(int vocab_size) {
  if (vocab_size < Tokenizer::kMinVocabSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "synthetic tokenizer needs vocab_size >= " + std::to_string(Tokenizer::kMinVocabSize) +
                          ", got " + std::to_string(vocab_size));
  }
  VocabBuilder v(static_cast<std::size_t>(vocab_size));
  v.add("<unk>");
  v.add("\n<s>\n");
  v.add("\n</s>\n");
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.add(buf);
  }
  for (char c = ' '; c <= '~'; ++c) v.add(std::string(1, c));  // printable ASCII (incl. " ")
  v.add("\n");
  for (char c = 'a'; c <= 'z'; ++c) v.add(std::string{' ', c});
  for (std::string_view w : kWords) {
    v.add_spelled(spaced(w));
    v.add_spelled(spaced(capitalized(w)));
  }
  for (std::string_view f : kFragments) v.add_spelled(f);
  for (std::string_view w : kWords) v.add_spelled(capitalized(w));
  add_ngrams(v);
  std::vector<std::string> pieces = v.take();
  if (pieces.size() != static_cast<std::size_t>(vocab_size)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "synthetic tokenizer cannot fill vocab_size " + std::to_string(vocab_size));
  }
  return pieces;
}

Status write_synthetic_tokenizer(const std::string& path, int vocab_size) {
  auto pieces = synthetic_tokenizer_pieces(vocab_size);
  if (!pieces.ok()) return pieces.error();
  std::vector<float> scores(pieces->size(), 0.0f);
  for (std::size_t id = Tokenizer::kMinVocabSize; id < scores.size(); ++id) {
    scores[id] = -static_cast<float>(id - Tokenizer::kMinVocabSize);
  }
  return write_tokenizer(path, *pieces, scores);
}

}  // namespace ladle::model
