// GgufFile: every metadata value type (scalars and arrays) read back as written, tensor infos with
// their data where the offsets say, v2 and v3, general.alignment; and every malformed file refused
// with a message naming the problem, including every truncation of a valid file.
#include "model/gguf_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/model/gguf_builder.h"

namespace ladle::model {
namespace {

using namespace ladle::testing_gguf;

// A file with one key of every type, arrays, and three tensors (F32, F16, Q8_0).
GgufBuilder full(std::uint32_t version = 3) {
  GgufBuilder g;
  g.version = version;
  g.kv("u8", kU8, Bytes().pod<std::uint8_t>(200)).kv("i8", kI8, Bytes().pod<std::int8_t>(-100));
  g.kv("u16", kU16, Bytes().pod<std::uint16_t>(60000)).kv("i16", kI16, Bytes().pod<std::int16_t>(-30000));
  g.u32("u32", 4000000000u).kv("i32", kI32, Bytes().pod<std::int32_t>(-2000000000));
  g.f32("f32", 0.5f).boolean("bool", true).str("str", "héllo");
  g.kv("u64", kU64, Bytes().pod<std::uint64_t>(1ull << 40)).kv("i64", kI64, Bytes().pod<std::int64_t>(-(1ll << 40)));
  g.kv("f64", kF64, Bytes().pod<double>(0.1));
  g.strs("strs", {"a", "", "▁b"}).array<float>("f32s", kF32, {1.5f, -2.0f});
  g.array<std::int32_t>("i32s", kI32, {1, -3, 6}).array<std::uint8_t>("bools", kBool, {0, 1});
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  g.tensor("a", {3, 2}, 0, as_bytes(a));
  g.tensor("h", {5}, 1, std::vector<std::byte>(10, std::byte{0x3c}));
  g.tensor("q", {32, 2}, 8, std::vector<std::byte>(68, std::byte{1}));
  return g;
}

Expected<GgufFile> parse(const std::vector<std::byte>& b) { return GgufFile::parse(b, "t.gguf"); }

// The error of parsing `b`, or "" if it parses.
std::string error_of(const std::vector<std::byte>& b) {
  auto f = parse(b);
  return f.ok() ? std::string() : f.error().message;
}

TEST(GgufFile, ReadsEveryValueTypeAndTensor) {
  for (std::uint32_t version : {2u, 3u}) {
    const std::vector<std::byte> bytes = full(version).build();
    auto f = parse(bytes);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->version(), version);
    EXPECT_EQ(f->metadata().size(), 16u);
    EXPECT_EQ(f->metadata()[0].key, "u8");
    EXPECT_EQ(f->find("u8")->as_int(), 200);
    EXPECT_EQ(f->find("i8")->as_int(), -100);
    EXPECT_EQ(f->find("u16")->as_int(), 60000);
    EXPECT_EQ(f->find("i16")->as_int(), -30000);
    EXPECT_EQ(f->get_uint("u32").value(), 4000000000u);
    EXPECT_EQ(f->find("i32")->as_int(), -2000000000);
    EXPECT_EQ(f->get_float("f32").value(), 0.5);
    EXPECT_EQ(f->get_bool("bool").value(), true);
    EXPECT_EQ(f->get_string("str").value(), "héllo");
    EXPECT_EQ(f->find("u64")->as_int(), 1ll << 40);
    EXPECT_EQ(f->find("i64")->as_int(), -(1ll << 40));
    EXPECT_EQ(f->get_float("f64").value(), 0.1);
    const GgufValue* s = f->find("strs");
    ASSERT_TRUE(s->is_array());
    EXPECT_EQ(s->type_name(), "array of string");
    EXPECT_EQ(s->strings, (std::vector<std::string_view>{"a", "", "▁b"}));
    EXPECT_EQ(f->find("f32s")->number(1), -2.0);
    EXPECT_EQ(f->find("i32s")->count, 3u);
    EXPECT_EQ(f->find("i32s")->number(1), -3.0);
    EXPECT_EQ(f->find("i32s")->number(3), std::nullopt);
    EXPECT_EQ(f->find("bools")->number(1), 1.0);
    EXPECT_EQ(f->find("missing"), nullptr);

    ASSERT_EQ(f->tensors().size(), 3u);
    const GgufTensorInfo* a = f->find_tensor("a");
    EXPECT_EQ(a->shape(), "[3, 2]");
    EXPECT_EQ(a->num_elements, 6u);
    ASSERT_EQ(a->data.size(), 24u);
    float a5;
    std::memcpy(&a5, a->data.data() + 20, 4);
    EXPECT_EQ(a5, 6.0f);
    EXPECT_EQ(f->find_tensor("h")->offset, 32u);  // 24 bytes padded to 32
    EXPECT_EQ(f->find_tensor("h")->data.size(), 10u);
    EXPECT_EQ(f->find_tensor("q")->data.size(), 68u);  // two 34-byte Q8_0 blocks
    EXPECT_EQ(f->data_offset() % 32, 0u);
    EXPECT_EQ(f->find_tensor("q")->data.data(), bytes.data() + f->data_offset() + 64);
  }
}

TEST(GgufFile, TypedLookupsNameKeyAndProblem) {
  const auto bytes = full().build();
  auto f = parse(bytes);
  ASSERT_TRUE(f.ok());
  EXPECT_NE(f->get_uint("nope").error().message.find("'nope' is missing"), std::string::npos);
  EXPECT_NE(f->get_uint("str").error().message.find("'str' is a string, not an integer"), std::string::npos);
  EXPECT_NE(f->get_uint("i32").error().message.find("outside"), std::string::npos);
  EXPECT_NE(f->get_float("u32").error().message.find("not a float"), std::string::npos);
  EXPECT_NE(f->get_string("strs").error().message.find("array of string"), std::string::npos);
  EXPECT_NE(f->get_bool("u8").error().message.find("not a bool"), std::string::npos);
}

TEST(GgufFile, HonoursGeneralAlignment) {
  GgufBuilder g;
  g.alignment = 64;
  g.u32("general.alignment", 64);
  g.tensor("a", {4}, 0, std::vector<std::byte>(16));
  g.tensor("b", {4}, 0, std::vector<std::byte>(16, std::byte{7}));
  const auto bytes = g.build();
  auto f = parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->find_tensor("b")->offset, 64u);
  EXPECT_EQ(f->find_tensor("b")->data[0], std::byte{7});
}

TEST(GgufFile, EveryTruncationIsRefusedByName) {
  const std::vector<std::byte> bytes = full().build();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<std::byte> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
    const std::string e = error_of(cut);
    ASSERT_FALSE(e.empty()) << "a file cut to " << n << " bytes parsed";
    EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("outside the file") != std::string::npos)
        << n << ": " << e;
    EXPECT_EQ(e.rfind("gguf t.gguf: ", 0), 0u) << e;
  }
}

TEST(GgufFile, RefusesMalformedHeaders) {
  auto expect = [](GgufBuilder g, const std::string& want) {
    const std::string e = error_of(g.build());
    EXPECT_NE(e.find(want), std::string::npos) << "wanted '" << want << "', got: " << (e.empty() ? "(parsed)" : e);
  };
  GgufBuilder g = full();
  g.magic = "GGML";
  expect(g, "not a GGUF file: magic 'GGML'");
  for (std::uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    g = full();
    g.version = v;
    expect(g, "unsupported GGUF version " + std::to_string(v));
  }
  g = full();
  g.version = 0x03000000u;
  expect(g, "big-endian");
  expect(GgufBuilder().kv("x", 13, Bytes().pod<std::uint32_t>(1)), "unknown value type 13");
  expect(GgufBuilder().kv("x", kArray, Bytes().pod(kArray).pod<std::uint64_t>(0)), "array of arrays");
  expect(GgufBuilder().kv("x", kBool, Bytes().pod<std::uint8_t>(2)), "neither 0 nor 1");
  expect(GgufBuilder().u32("k", 1).u32("k", 2), "'k' appears twice");
  expect(GgufBuilder().u32("", 1), "is empty");
  expect(GgufBuilder().kv("general.alignment", kU64, Bytes().pod<std::uint64_t>(32)), "general.alignment must be a u32");
  expect(GgufBuilder().u32("general.alignment", 48), "power of two");
  expect(GgufBuilder().u32("general.alignment", 0), "power of two");
  // Counts far beyond the file are refused before anything is allocated for them.
  expect(GgufBuilder().kv("x", kArray, Bytes().pod(kString).pod<std::uint64_t>(1ull << 60)), "truncated");
  expect(GgufBuilder().kv("x", kArray, Bytes().pod(kF64).pod<std::uint64_t>(1ull << 61)), "truncated");
  expect(GgufBuilder().kv("x", kString, Bytes().pod<std::uint64_t>(~0ull)), "truncated");
}

TEST(GgufFile, RefusesMalformedTensorInfos) {
  auto expect = [](GgufBuilder g, const std::string& want) {
    const std::string e = error_of(g.build());
    EXPECT_NE(e.find(want), std::string::npos) << "wanted '" << want << "', got: " << (e.empty() ? "(parsed)" : e);
  };
  const std::vector<std::byte> sixteen(16);
  expect(GgufBuilder().tensor("a", {4}, 0, sixteen).tensor("a", {4}, 0, sixteen), "tensor 'a' appears twice");
  expect(GgufBuilder().tensor("", {4}, 0, sixteen), "empty name");
  expect(GgufBuilder().tensor(std::string(64, 'n'), {4}, 0, sixteen), "ggml allows 63");
  expect(GgufBuilder().tensor("a", {}, 0, {}), "0 dimensions");
  expect(GgufBuilder().tensor("a", {1, 1, 1, 1, 4}, 0, sixteen), "5 dimensions");
  expect(GgufBuilder().tensor("a", {4, -1}, 0, sixteen), "dimension 1 is negative");
  expect(GgufBuilder().tensor("a", {1ll << 32, 1ll << 32}, 0, {}), "more elements than fit int64");
  expect(GgufBuilder().tensor("a", {4}, 31, sixteen), "unknown ggml tensor type 31");
  expect(GgufBuilder().tensor("a", {4}, 99, sixteen), "unknown ggml tensor type 99");
  expect(GgufBuilder().tensor("a", {16}, 8, std::vector<std::byte>(34)), "not a multiple of its block of 32");
  expect(GgufBuilder().tensor("a", {4}, 0, sixteen, 8), "offset 8 is not a multiple of the alignment 32");
  expect(GgufBuilder().tensor("a", {4}, 0, sixteen, 1ull << 62), "lies outside the file");
  expect(GgufBuilder().tensor("a", {1ll << 40}, 0, {}), "lies outside the file");
  // The last tensor one byte short: the file ends inside its data.
  std::vector<std::byte> b = GgufBuilder().tensor("a", {4}, 0, sixteen).build();
  b.pop_back();
  EXPECT_NE(error_of(b).find("tensor 'a' (f32 [4], 16 bytes at data offset 0) lies outside the file"), std::string::npos)
      << error_of(b);
}

TEST(GgufFile, OpensAFileAndNamesAMissingOne) {
  const std::string path = ::testing::TempDir() + "/ladle_gguf_file.gguf";
  const auto bytes = full().build();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  GgufFile moved = std::move(*f);  // views stay valid: they point into the mapping
  EXPECT_EQ(moved.get_string("str").value(), "héllo");
  EXPECT_EQ(moved.name(), path);
  auto missing = GgufFile::open(path + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto empty_path = ::testing::TempDir() + "/ladle_gguf_empty.gguf";
  std::ofstream(empty_path, std::ios::binary).flush();
  auto empty = GgufFile::open(empty_path);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("truncated"), std::string::npos) << empty.error().message;
}

}  // namespace
}  // namespace ladle::model
