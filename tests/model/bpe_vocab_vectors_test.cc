// llama.cpp's own tokenizer test vectors (LADLE_VOCAB_DIR: ggml-vocab-<name>.gguf with .inp/.out):
// every string encodes to exactly the ids llama.cpp gave (no BOS, special tokens not parsed), and a
// byte-level BPE encoding decodes back to the string: Llama 3's llama-bpe, Qwen 2's qwen2, GPT-2's
// gpt-2 (BpeTokenizer) and Llama 2's llama-spm (the GGUF SentencePiece path), all through
// load_gguf_tokenizer().
//
// The "default" pre-tokenizer has no vocabulary of its own there: tests/model/data/
// ggml-vocab-gpt-2.pre-default.out holds llama.cpp's ids for the gpt-2 strings with the gpt-2
// vocabulary relabelled tokenizer.ggml.pre = "default", made with llama.cpp de3ff81's
// llama-tokenize (-f CASE --no-escape --no-bos --no-parse-special --ids), one run per string.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/any_tokenizer.h"
#include "model/bpe_tokenizer.h"
#include "model/gguf_file.h"

namespace ladle::model {
namespace {

const std::string kVocab = LADLE_VOCAB_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<TokenId> ids;
};

// test-tokenizer-0's reading: strings separated by "\n__ggml_vocab_test__\n"; one line of ids each.
std::vector<Case> read_cases(const std::string& name, const std::string& out_path = "") {
  const std::string raw = read_file(kVocab + "/ggml-vocab-" + name + ".gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (std::size_t pos = 0; pos < raw.size();) {
    const std::size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      cases.push_back({raw.substr(pos), {}});
      break;
    }
    cases.push_back({raw.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream out(read_file(out_path.empty() ? kVocab + "/ggml-vocab-" + name + ".gguf.out" : out_path));
  std::size_t i = 0;
  for (std::string line; std::getline(out, line); ++i) {
    if (i >= cases.size()) {
      ADD_FAILURE() << name << ": more .out lines than .inp strings";
      break;
    }
    std::istringstream ids(line);
    for (TokenId id; ids >> id;) cases[i].ids.push_back(id);
  }
  EXPECT_EQ(i, cases.size()) << name << ": .inp and .out disagree on the number of cases";
  return cases;
}

AnyTokenizer load(const std::string& name) {
  auto file = GgufFile::open(kVocab + "/ggml-vocab-" + name + ".gguf");
  EXPECT_TRUE(file.ok()) << file.error().message;
  auto tok = load_gguf_tokenizer(*file);
  EXPECT_TRUE(tok.ok()) << tok.error().message;
  return std::move(*tok);
}

// Encodes every case as llama.cpp's test did; byte-level BPE must also decode back to the text.
void expect_cases(const AnyTokenizer& tok, const std::vector<Case>& cases, const std::string& what) {
  ASSERT_GT(cases.size(), 30u);
  int failures = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto ids = tok.encode(cases[i].text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(ids, cases[i].ids) << what << " case " << i << ": '" << cases[i].text << "'";
    failures += ids != cases[i].ids;
    if (tok.bpe()) {
      EXPECT_EQ(tok.decode(ids), cases[i].text) << what << " case " << i;
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, EveryCaseGivesLlamaCppsIds) {
  const AnyTokenizer tok = load(GetParam());
  EXPECT_STREQ(tok.kind(), std::string(GetParam()) == "llama-spm" ? "llama" : "gpt2");
  expect_cases(tok, read_cases(GetParam()), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, VocabVectors, ::testing::Values("llama-bpe", "qwen2", "gpt-2", "llama-spm"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

// The gpt-2 vocabulary under the "default" pre-tokenizer (its chain of four regexes).
TEST(VocabVectors, DefaultPreTokenizerGivesLlamaCppsIds) {
  auto file = GgufFile::open(kVocab + "/ggml-vocab-gpt-2.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  BpeTokenizer::Vocab v;
  for (std::string_view s : file->find("tokenizer.ggml.tokens")->strings) v.tokens.emplace_back(s);
  for (std::string_view s : file->find("tokenizer.ggml.merges")->strings) v.merges.emplace_back(s);
  v.types.assign(v.tokens.size(), BpeTokenizer::TokenType::kNormal);
  v.types[50256] = BpeTokenizer::TokenType::kControl;  // <|endoftext|>
  v.pre = PreTokenizer::kDefault;
  auto tok = BpeTokenizer::from_vocab(std::move(v));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  expect_cases(AnyTokenizer(std::move(*tok)),
               read_cases("gpt-2", std::string(LADLE_SOURCE_DIR) + "/tests/model/data/ggml-vocab-gpt-2.pre-default.out"),
               "gpt-2 with pre default");
}

}  // namespace
}  // namespace ladle::model
