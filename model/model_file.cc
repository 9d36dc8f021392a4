// model_file: GGUF or llama2.c checkpoint, by magic.
#include "model/model_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "model/gguf_config.h"
#include "model/gguf_file.h"
#include "model/gguf_weights.h"

namespace ladle::model {
namespace {

Expected<LoadedModel> load_gguf(const std::string& path) {
  auto file = GgufFile::open(path);
  if (!file) return file.error();
  auto shared = std::make_shared<const GgufFile>(std::move(*file));
  auto config = llama_config_from_gguf(*shared);
  if (!config) return config.error();
  auto tokenizer = load_gguf_tokenizer(*shared);
  if (!tokenizer) return tokenizer.error();
  if (tokenizer->vocab_size() != config->vocab_size)
    return make_error(ErrorCode::kInvalidArgument,
                      "gguf " + shared->name() + ": the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                          " tokens but token_embd.weight has " + std::to_string(config->vocab_size) + " rows");
  std::string chat_template;
  if (shared->find("tokenizer.chat_template") != nullptr) {
    auto t = shared->get_string("tokenizer.chat_template");
    if (!t) return t.error();
    chat_template = std::string(*t);
  }
  auto weights = llama_weights_from_gguf(shared, *config);
  if (!weights) return weights.error();
  return LoadedModel{std::move(*weights), std::move(*tokenizer), std::move(chat_template), "gguf"};
}

}  // namespace

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, "GGUF", 4) == 0;
}

Expected<LoadedModel> load_model(const std::string& model_path, const std::string& tokenizer_path) {
  if (is_gguf_file(model_path)) {
    if (!tokenizer_path.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "--tokenizer " + tokenizer_path + ": the GGUF model " + model_path +
                            " carries its own tokenizer; give --tokenizer only with a llama2.c checkpoint");
    return load_gguf(model_path);
  }
  auto weights = Weights::load(model_path);
  if (!weights) return weights.error();
  // llama2.c keeps tokenizer.bin next to the checkpoint.
  const std::string tok_path = !tokenizer_path.empty()
                                   ? tokenizer_path
                                   : (std::filesystem::path(model_path).parent_path() / "tokenizer.bin").string();
  auto tokenizer = Tokenizer::load(tok_path, weights->config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  return LoadedModel{std::move(*weights), AnyTokenizer(std::move(*tokenizer)), "", "llama2.c"};
}

}  // namespace ladle::model
