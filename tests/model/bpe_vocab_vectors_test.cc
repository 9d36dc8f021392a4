// llama.cpp's own tokenizer test vectors (LADLE_VOCAB_DIR: ggml-vocab-<name>.gguf with .inp/.out):
// every string encodes to exactly the ids llama.cpp gave (no BOS, special tokens not parsed), and
// decodes back to the string, for the byte-level BPE vocabularies (Llama 3's llama-bpe, Qwen 2's
// qwen2, GPT-2's gpt-2).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
std::vector<Case> read_cases(const std::string& name) {
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
  std::istringstream out(read_file(kVocab + "/ggml-vocab-" + name + ".gguf.out"));
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

BpeTokenizer load(const std::string& name) {
  auto file = GgufFile::open(kVocab + "/ggml-vocab-" + name + ".gguf");
  EXPECT_TRUE(file.ok()) << file.error().message;
  auto tok = BpeTokenizer::from_gguf(*file);
  EXPECT_TRUE(tok.ok()) << tok.error().message;
  return std::move(*tok);
}

class BpeVocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(BpeVocabVectors, EveryCaseGivesLlamaCppsIds) {
  const BpeTokenizer tok = load(GetParam());
  const std::vector<Case> cases = read_cases(GetParam());
  ASSERT_GT(cases.size(), 30u);
  int failures = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto ids = tok.encode(cases[i].text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(ids, cases[i].ids) << GetParam() << " case " << i << ": '" << cases[i].text << "'";
    failures += ids != cases[i].ids;
    EXPECT_EQ(tok.decode(ids), cases[i].text) << GetParam() << " case " << i;
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, BpeVocabVectors, ::testing::Values("llama-bpe", "qwen2", "gpt-2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

}  // namespace
}  // namespace ladle::model
