// `ladle tokenize`: llama.cpp's ids for a GGUF vocabulary's tokenizer on one line (checked against
// what llama.cpp de3ff81's llama-tokenize printed), from --text or stdin; non-GGUF files and
// unknown pre-tokenizers refused by name.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

const std::string kLadle = std::string(LADLE_BINARY_DIR) + "/ladle";
const std::string kVocab = LADLE_VOCAB_DIR;

// Runs a shell command; returns its stdout (and stderr with `merge_stderr`) and exit status.
std::pair<std::string, int> run(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {"", -1};
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  return {out, pclose(p)};
}

TEST(TokenizeCommand, PrintsLlamaCppsIdsWithBosAndSpecialTokens) {
  auto [out, status] = run(kLadle + " tokenize -m " + kVocab + "/ggml-vocab-llama-bpe.gguf --text 'Hello world<|eot_id|>'");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "128000 9906 1917 128009\n");
}

TEST(TokenizeCommand, NoSpecialReadsStdinAsTheVectorsDo) {
  auto [out, status] = run("printf ' Hello<|im_end|>\\n' | " + kLadle + " tokenize --no-special -m " + kVocab + "/ggml-vocab-qwen2.gguf");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "21927 27 91 318 6213 91 397\n");
}

TEST(TokenizeCommand, SentencePieceVocabulariesToo) {
  auto [out, status] = run(kLadle + " tokenize -m " + kVocab + "/ggml-vocab-llama-spm.gguf --text 'Hello world'");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "1 15043 3186\n");
}

TEST(TokenizeCommand, RefusesWhatItCannotRead) {
  auto [not_gguf, s1] = run(kLadle + " tokenize -m " + kVocab + "/README.md --text hi 2>&1");
  EXPECT_NE(s1, 0);
  EXPECT_NE(not_gguf.find("is not a GGUF file"), std::string::npos) << not_gguf;
  auto [missing, s2] = run(kLadle + " tokenize --text hi 2>&1");
  EXPECT_NE(s2, 0);
  EXPECT_NE(missing.find("--model is required"), std::string::npos) << missing;
  auto [bad_utf8, s3] = run("printf 'a\\377' | " + kLadle + " tokenize -m " + kVocab + "/ggml-vocab-gpt-2.gguf 2>&1");
  EXPECT_NE(s3, 0);
  EXPECT_NE(bad_utf8.find("not valid UTF-8"), std::string::npos) << bad_utf8;
}

}  // namespace
