// Tests for scheduler/chat_template.h: the plain template of llama2.c checkpoints, and Jinja
// templates (the interpreter itself is tested in tests/model/jinja_*; here, the roles, the
// generation prompt, the prefill and the errors as the engine sees them).
#include "scheduler/chat_template.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace ladle::scheduler {
namespace {

const std::vector<ChatMessage> kConversation = {
    {ChatRole::kSystem, "Be brief."}, {ChatRole::kUser, "Hi"}, {ChatRole::kAssistant, "Hello"}, {ChatRole::kUser, "Why?"}};

// A ChatML-like template using bos_token and eos_token.
constexpr const char* kChatMl =
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

TEST(ChatTemplate, PlainTemplateIsLlama2cs) {
  const ChatTemplate plain;
  EXPECT_FALSE(plain.is_jinja());
  EXPECT_EQ(*plain.render(kConversation, false), "System: Be brief.\nUser: Hi\nAssistant: Hello\nUser: Why?\nAssistant:");
  const std::vector<ChatMessage> prefill = {{ChatRole::kUser, "Hi"}, {ChatRole::kAssistant, "Well,"}};
  EXPECT_EQ(*plain.render(prefill, true), "User: Hi\nAssistant: Well,");
  EXPECT_EQ(*plain.render(prefill, false), "User: Hi\nAssistant: Well,\nAssistant:");
  EXPECT_EQ(render_plain_chat(prefill, true), *plain.render(prefill, true));
}

TEST(ChatTemplate, JinjaTemplateGetsRolesTokensAndTheGenerationPrompt) {
  auto t = ChatTemplate::jinja(kChatMl, "<s>", "</s>");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->is_jinja());
  EXPECT_EQ(t->bos_text(), "<s>");
  EXPECT_EQ(t->eos_text(), "</s>");
  EXPECT_EQ(*t->render(kConversation, false),
            "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, JinjaPrefillLeavesTheLastAssistantMessageOpen) {
  auto t = ChatTemplate::jinja(kChatMl, "", "");
  ASSERT_TRUE(t.ok());
  const std::vector<ChatMessage> prefill = {{ChatRole::kUser, "Hi"}, {ChatRole::kAssistant, "Well,"}};
  EXPECT_EQ(*t->render(prefill, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nWell,");
  // Not continued: the turn is closed and a new one opened.
  EXPECT_EQ(*t->render(prefill, false),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nWell,<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, UnsupportedTemplateIsALoadErrorNamingIt) {
  auto t = ChatTemplate::jinja("{% for m in messages %}{{ m.content | wordwrap }}{% endfor %}", "", "");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(t.error().message.find("wordwrap"), std::string::npos) << t.error().message;
}

// Gemma 2's real template refuses a system message with its own words: the caller's bad input.
TEST(ChatTemplate, ATemplateRefusingTheConversationIsInvalidArgument) {
  std::ifstream in(std::string(LADLE_VOCAB_DIR) + "/templates/google-gemma-2-2b-it.jinja");
  ASSERT_TRUE(in) << "the shared templates are missing";
  std::stringstream source;
  source << in.rdbuf();
  auto t = ChatTemplate::jinja(source.str(), "<bos>", "<eos>");
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto refused = t->render(kConversation, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("System role not supported"), std::string::npos) << refused.error().message;
  const std::vector<ChatMessage> user = {{ChatRole::kUser, "Hi"}};
  EXPECT_EQ(*t->render(user, false), "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
}

}  // namespace
}  // namespace ladle::scheduler
