// GgufWriter: the exact bytes of a small file (built by hand here from the format description),
// every value type read back by the independent test reader, tensor data in arbitrary chunks with
// 32-byte aligned offsets and zero padding, and refusals that leave no file behind.
#include "tools/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/tools/gguf_reader.h"

namespace ladle::tools {
namespace {

namespace fs = std::filesystem;
using testing_gguf::read_all;
using testing_gguf::Reader;

std::string temp(const std::string& name) { return ::testing::TempDir() + "/ladle_gguf_writer_" + name; }

// Whether a writer's temporary file of `path` ("<path>.partial-<pid>-<n>") is left beside it.
bool partial_left(const std::string& path) {
  const fs::path p(path);
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string() + ".partial", 0) == 0) return true;
  return false;
}

template <class T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}
void put_str(std::string& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out += s;
}

std::span<const std::byte> bytes_of(const std::vector<float>& v) { return std::as_bytes(std::span(v)); }

TEST(GgufWriter, WritesTheExactBytesOfASmallFile) {
  const std::string path = temp("golden.gguf");
  const std::vector<float> data = {1.5f, -2.0f, 3.25f};
  {
    GgufWriter w;
    w.add_u32("a.b", 7);
    w.add_tensor("t", {3}, GgmlType::kF32);
    ASSERT_TRUE(w.open(path).ok());
    ASSERT_TRUE(w.write(bytes_of(data)).ok());
    ASSERT_TRUE(w.finish().ok());
    EXPECT_EQ(w.bytes_written(), 160u);
  }
  std::string want = "GGUF";
  put<std::uint32_t>(want, 3);   // version
  put<std::uint64_t>(want, 1);   // tensors
  put<std::uint64_t>(want, 2);   // kv pairs: ours and general.alignment
  put_str(want, "a.b");
  put<std::uint32_t>(want, 4);   // GGUF_TYPE_UINT32
  put<std::uint32_t>(want, 7);
  put_str(want, "general.alignment");
  put<std::uint32_t>(want, 4);
  put<std::uint32_t>(want, 32);
  put_str(want, "t");
  put<std::uint32_t>(want, 1);   // n_dims
  put<std::uint64_t>(want, 3);   // ne0
  put<std::uint32_t>(want, 0);   // GGML_TYPE_F32
  put<std::uint64_t>(want, 0);   // offset
  ASSERT_EQ(want.size(), 109u);
  want.resize(128, '\0');        // the data section starts on 32 bytes
  for (float f : data) put(want, f);
  want.resize(160, '\0');        // and each tensor ends padded
  const std::vector<char> got = read_all(path);
  EXPECT_EQ(std::string(got.begin(), got.end()), want);
  EXPECT_FALSE(partial_left(path));
}

TEST(GgufWriter, EveryValueTypeAndChunkedTensorsReadBack) {
  const std::string path = temp("types.gguf");
  const std::vector<std::string> strings = {"", "▁a", "<0x0A>", std::string("nul\0in", 6)};
  const std::vector<float> floats = {0.5f, -1e-5f, 3e38f};
  const std::vector<std::int32_t> ints = {1, 2, 3, 6, -7};
  std::vector<float> t0(3 * 5);  // {5, 3}: 60 bytes, padded to 64
  for (std::size_t i = 0; i < t0.size(); ++i) t0[i] = float(i) * 0.25f - 1.0f;
  const std::vector<std::uint16_t> t1 = {0x3C00, 0xC000, 0x0001, 0x7BFF, 0x8000, 0x1234, 0x4321};  // 14 bytes
  {
    GgufWriter w;
    w.add_u32("u32", 4000000000u);
    w.add_f32("f32", 1e-5f);
    w.add_bool("yes", true);
    w.add_bool("no", false);
    w.add_string("str", "llama");
    w.add_strings("strs", strings);
    w.add_f32s("f32s", floats);
    w.add_i32s("i32s", ints);
    w.add_tensor("m", {5, 3}, GgmlType::kF32);
    w.add_tensor("h", {7}, GgmlType::kF16);
    ASSERT_TRUE(w.open(path).ok());
    // Chunks that straddle the tensor boundary: the writer inserts the padding between them.
    std::vector<std::byte> all(60 + 14);
    std::memcpy(all.data(), t0.data(), 60);
    std::memcpy(all.data() + 60, t1.data(), 14);
    for (std::size_t at = 0; at < all.size(); at += 7)
      ASSERT_TRUE(w.write(std::span(all).subspan(at, std::min<std::size_t>(7, all.size() - at))).ok());
    ASSERT_TRUE(w.finish().ok());
  }
  Reader r(read_all(path));
  ASSERT_TRUE(r.parse()) << r.error();
  const auto& f = r.file();
  EXPECT_EQ(f.version, 3u);
  ASSERT_EQ(f.num_kv, 9u);
  EXPECT_EQ(f.key_order.back(), "general.alignment");
  EXPECT_EQ(f.kv.at("u32").type, testing_gguf::kU32);
  EXPECT_EQ(f.kv.at("u32").number(), 4000000000.0);
  EXPECT_EQ(f.kv.at("f32").type, testing_gguf::kF32);
  EXPECT_EQ(float(f.kv.at("f32").number()), 1e-5f);
  EXPECT_EQ(f.kv.at("yes").type, testing_gguf::kBool);
  EXPECT_EQ(f.kv.at("yes").number(), 1.0);
  EXPECT_EQ(f.kv.at("no").number(), 0.0);
  EXPECT_EQ(f.kv.at("str").type, testing_gguf::kString);
  EXPECT_EQ(f.kv.at("str").string(), "llama");
  EXPECT_EQ(f.kv.at("strs").type, testing_gguf::kArray);
  EXPECT_EQ(f.kv.at("strs").element_type, testing_gguf::kString);
  EXPECT_EQ(f.kv.at("strs").strings, strings);
  EXPECT_EQ(f.kv.at("f32s").element_type, testing_gguf::kF32);
  EXPECT_EQ(f.kv.at("f32s").numbers, std::vector<double>(floats.begin(), floats.end()));
  EXPECT_EQ(f.kv.at("i32s").element_type, testing_gguf::kI32);
  EXPECT_EQ(f.kv.at("i32s").numbers, std::vector<double>(ints.begin(), ints.end()));

  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.data_start % 32, 0u);
  EXPECT_EQ(f.tensors[0].name, "m");
  EXPECT_EQ(f.tensors[0].ne, (std::vector<std::uint64_t>{5, 3}));
  EXPECT_EQ(f.tensors[0].type, 0u);
  EXPECT_EQ(f.tensors[0].offset, 0u);
  EXPECT_EQ(f.tensors[1].name, "h");
  EXPECT_EQ(f.tensors[1].type, 1u);
  EXPECT_EQ(f.tensors[1].offset, 64u);
  EXPECT_EQ(std::memcmp(f.data(f.tensors[0]), t0.data(), 60), 0);
  EXPECT_EQ(std::memcmp(f.data(f.tensors[1]), t1.data(), 14), 0);
  for (std::size_t i = 60; i < 64; ++i) EXPECT_EQ(f.data(f.tensors[0])[i], 0) << "padding byte " << i;
  EXPECT_EQ(f.bytes.size(), f.data_start + 96);
}

TEST(GgufWriter, RefusesDuplicateKeysAndBadTensorsBeforeWriting) {
  const std::string path = temp("refused.gguf");
  fs::remove(path);
  {
    GgufWriter w;
    w.add_u32("k", 1);
    w.add_f32("k", 2);
    auto st = w.open(path);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("'k' added twice"), std::string::npos) << st.error().message;
  }
  {
    GgufWriter w;
    w.add_u32("general.alignment", 64);  // the writer's own key
    EXPECT_FALSE(w.open(path).ok());
  }
  {
    GgufWriter w;
    w.add_tensor("a", {4, 0}, GgmlType::kF32);
    auto st = w.open(path);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("not positive"), std::string::npos) << st.error().message;
  }
  {
    GgufWriter w;
    w.add_tensor("a", {4}, GgmlType::kF32);
    w.add_tensor("a", {4}, GgmlType::kF32);
    EXPECT_FALSE(w.open(path).ok());
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(partial_left(path));
}

TEST(GgufWriter, RefusesWrongAmountsOfDataAndLeavesNoFile) {
  const std::string path = temp("short.gguf");
  fs::remove(path);
  const std::vector<float> five(5, 1.0f);
  {
    GgufWriter w;
    w.add_tensor("a", {4}, GgmlType::kF32);
    ASSERT_TRUE(w.open(path).ok());
    auto st = w.write(bytes_of(five));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("beyond the last tensor"), std::string::npos) << st.error().message;
  }
  EXPECT_FALSE(partial_left(path));
  {
    GgufWriter w;
    w.add_tensor("a", {4}, GgmlType::kF32);
    w.add_tensor("b", {4}, GgmlType::kF16);
    ASSERT_TRUE(w.open(path).ok());
    ASSERT_TRUE(w.write(std::as_bytes(std::span(five)).first(16)).ok());
    auto st = w.finish();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("'b' got 0 of its 8 bytes"), std::string::npos) << st.error().message;
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(partial_left(path));
}

TEST(GgufWriter, MetadataAfterOpenFailsFinish) {
  const std::string path = temp("late.gguf");
  fs::remove(path);
  GgufWriter w;
  ASSERT_TRUE(w.open(path).ok());
  w.add_u32("late", 1);  // too late: the metadata is already in the file
  auto st = w.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("'late' added after open()"), std::string::npos) << st.error().message;
  EXPECT_FALSE(w.open(path).ok());  // and open() runs once
  EXPECT_FALSE(fs::exists(path));
}

TEST(GgufWriter, AnUnfinishedWriterKeepsTheOldFile) {
  const std::string path = temp("old.gguf");
  std::ofstream(path) << "old";
  {
    GgufWriter w;
    w.add_tensor("a", {4}, GgmlType::kF32);
    ASSERT_TRUE(w.open(path).ok());
    EXPECT_TRUE(partial_left(path));
  }
  EXPECT_FALSE(partial_left(path));
  const std::vector<char> kept = read_all(path);
  EXPECT_EQ(std::string(kept.begin(), kept.end()), "old");
}

TEST(GgufWriter, ReportsAnUnwritablePath) {
  GgufWriter w;
  auto st = w.open("/nonexistent-dir/x.gguf");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot create /nonexistent-dir/x.gguf.partial"), std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace ladle::tools
