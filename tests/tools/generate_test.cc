// The golden end-to-end test: `ladle generate` at temperature 0 on the real stories260K model must
// print, byte for byte, what karpathy's llama2.c run.c printed (../shared/models/REFERENCE.md).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

const std::string kModels = LADLE_MODELS_DIR;
const std::string kLadle = std::string(LADLE_BINARY_DIR) + "/ladle";

// The fenced block that follows the first line containing `heading` (after `skip_to`, if given).
std::string reference_block(const std::string& heading, const std::string& skip_to = "") {
  std::ifstream in(kModels + "/REFERENCE.md");
  std::string line, out;
  bool seen = false, skipped = skip_to.empty(), inside = false;
  while (std::getline(in, line)) {
    if (!seen) {
      seen = line.find(heading) != std::string::npos;
      continue;
    }
    if (!skipped) {
      skipped = line.find(skip_to) != std::string::npos;
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      if (inside) return out;
      inside = true;
      continue;
    }
    if (inside) out += line + "\n";
  }
  return "";
}

// Runs a command and returns its stdout.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

std::string generate(const std::string& args) {
  return run(kLadle + " generate --model " + kModels + "/stories260K.bin --tokenizer " + kModels +
             "/tok512.bin -t 0 " + args + " 2>/dev/null");
}

TEST(Generate, GreedyFromBosMatchesRunC) {
  const std::string expected = reference_block("-t 0.0 -n 256`");
  ASSERT_EQ(expected.size(), 566u) << "REFERENCE.md not found or changed";
  EXPECT_EQ(generate("-n 256"), expected);
}

TEST(Generate, GreedyFromPromptMatchesRunC) {
  const std::string expected = reference_block("-n 64 -i \"Once upon a time\"", "Full stdout");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(generate("-n 60 -p 'Once upon a time'"), expected);
}

TEST(Generate, RefusesABadModelWithAMessage) {
  std::string cmd = kLadle + " generate --model /nonexistent.bin --tokenizer " + kModels + "/tok512.bin 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::array<char, 4096> buf;
  std::string out;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  EXPECT_NE(pclose(p), 0);
  EXPECT_NE(out.find("nonexistent.bin"), std::string::npos) << out;
}

}  // namespace
