// JinjaChatTemplate on the templates real models ship (LADLE_VOCAB_DIR/templates): load, render
// as transformers does (texts checked against Python jinja2; the full comparison over every
// template runs at test time in tests/chat_templates), the pinned strftime_now clock, a
// template's refusal of a conversation, and load errors.
#include "model/jinja/jinja_chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace ladle::jinja {
namespace {

using ::testing::HasSubstr;

std::string read_template(const std::string& name) {
  std::ifstream in(std::string(LADLE_VOCAB_DIR) + "/templates/" + name + ".jinja", std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::tm pinned_day() {  // 9 March 2025, not the Llama template's own default date
  std::tm tm{};
  tm.tm_year = 125;
  tm.tm_mon = 2;
  tm.tm_mday = 9;
  tm.tm_wday = 0;
  tm.tm_hour = 12;
  return tm;
}

TEST(JinjaChatTemplate, EveryShippedTemplateLoads) {
  for (const char* name : {"Qwen-Qwen2.5-7B-Instruct", "google-gemma-2-2b-it", "meta-llama-Llama-3.2-3B-Instruct",
                           "microsoft-Phi-3.5-mini-instruct", "mistralai-Mistral-Nemo-Instruct-2407"}) {
    auto t = JinjaChatTemplate::load(read_template(name), "<s>", "</s>");
    EXPECT_TRUE(t.ok()) << name << ": " << (t.ok() ? "" : t.error().message);
  }
}

TEST(JinjaChatTemplate, QwenRendersSystemUserAndGenerationPrompt) {
  auto t = JinjaChatTemplate::load(read_template("Qwen-Qwen2.5-7B-Instruct"), "", "<|im_end|>");
  ASSERT_TRUE(t.ok());
  const ChatTurn conversation[] = {{"system", "Be brief."}, {"user", "你好 🌍"}};
  auto out = t->render(conversation, /*add_generation_prompt=*/true);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n你好 🌍<|im_end|>\n"
                  "<|im_start|>assistant\n");
  auto without = t->render(conversation, /*add_generation_prompt=*/false);
  EXPECT_EQ(*without, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n你好 🌍<|im_end|>\n");
}

TEST(JinjaChatTemplate, LlamaTakesTodayFromTheInjectedClock) {
  auto t = JinjaChatTemplate::load(read_template("meta-llama-Llama-3.2-3B-Instruct"), "<|begin_of_text|>",
                                   "<|eot_id|>", pinned_day);
  ASSERT_TRUE(t.ok());
  const ChatTurn conversation[] = {{"user", " Hi "}};
  auto out = t->render(conversation, true);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 09 Mar 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(JinjaChatTemplate, AFinalMessageLeftOpenEndsThePrompt) {
  auto qwen = JinjaChatTemplate::load(read_template("Qwen-Qwen2.5-7B-Instruct"), "", "<|im_end|>");
  ASSERT_TRUE(qwen.ok());
  const ChatTurn prefill[] = {{"user", "Complete: the sky is"}, {"assistant", "blue and "}};
  auto out = qwen->render_continuing(prefill);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                  "<|im_start|>user\nComplete: the sky is<|im_end|>\n<|im_start|>assistant\nblue and ");
  // Llama trims each message: the cut drops the trailing space with it, as transformers does.
  auto llama = JinjaChatTemplate::load(read_template("meta-llama-Llama-3.2-3B-Instruct"), "", "", pinned_day);
  ASSERT_TRUE(llama.ok());
  auto trimmed = llama->render_continuing(prefill);
  ASSERT_TRUE(trimmed.ok()) << trimmed.error().message;
  EXPECT_TRUE(trimmed->ends_with("<|start_header_id|>assistant<|end_header_id|>\n\nblue and")) << *trimmed;
}

TEST(JinjaChatTemplate, ATemplateRefusingAConversationIsTheCallersError) {
  auto gemma = JinjaChatTemplate::load(read_template("google-gemma-2-2b-it"), "<bos>", "<eos>");
  ASSERT_TRUE(gemma.ok());
  const ChatTurn with_system[] = {{"system", "x"}, {"user", "y"}};
  auto refused = gemma->render(with_system, true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message, "chat template: line 1: System role not supported");

  auto mistral = JinjaChatTemplate::load(read_template("mistralai-Mistral-Nemo-Instruct-2407"), "<s>", "</s>");
  ASSERT_TRUE(mistral.ok());
  const ChatTurn two_users[] = {{"user", "a"}, {"user", "b"}};
  auto out = mistral->render(two_users, true);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.error().message, HasSubstr("conversation roles must alternate user/assistant"));
}

TEST(JinjaChatTemplate, UnsupportedOrBrokenTemplatesFailAtLoad) {
  auto bad_filter = JinjaChatTemplate::load("{% for m in messages %}\n{{ m.content | wordwrap }}{% endfor %}", "", "");
  ASSERT_FALSE(bad_filter.ok());
  EXPECT_EQ(bad_filter.error().message, "chat template: line 2: unsupported filter 'wordwrap'");
  // Parses, but cannot render even one message: refused at load, not at the first request.
  auto broken = JinjaChatTemplate::load("{{ messages[0].content + 1 }}", "", "");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().message, HasSubstr("unsupported operand type(s) for +: 'str' and 'int'"));
  EXPECT_THAT(broken.error().message, HasSubstr("at load"));
}

TEST(JinjaChatTemplate, RendersConcurrentlyFromOneLoadedTemplate) {
  auto t = JinjaChatTemplate::load(read_template("mistralai-Mistral-Nemo-Instruct-2407"), "<s>", "</s>");
  ASSERT_TRUE(t.ok());
  const ChatTurn conversation[] = {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  const std::string expected = *t->render(conversation, true);
  EXPECT_EQ(expected, "<s>[INST]U[/INST]A</s>[INST]S\n\nV[/INST]");
  std::vector<std::thread> threads;
  std::vector<int> equal(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) equal[static_cast<std::size_t>(i)] += *t->render(conversation, true) == expected;
    });
  for (auto& th : threads) th.join();
  for (int n : equal) EXPECT_EQ(n, 200);
}

}  // namespace
}  // namespace ladle::jinja
